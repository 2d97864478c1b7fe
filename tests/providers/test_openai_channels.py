"""imagegate-openai: channels in the channels file as providers, over real HTTP against the
OpenAI-compatible emulator (OpenAI's API and a self-hosted server)."""

from __future__ import annotations

import pytest

import imagegate
import imagegate_a4f
import imagegate_openai
from imagegate import Capabilities, IntRange, errors
from imagegate.channels import Channel, ChannelChatModel, ChannelModel, channels_path, save_channel
from imagegate_openai.presets import PRESETS
from tests.emulators.chat import ENHANCED_SUFFIX
from tests.emulators.control import QUOTA_TOKEN, VALID_TOKEN

LOCAL_CAPS = Capabilities(
    negative_prompt=True,
    steps=IntRange(min=1, max=20, default=9),
    seed=True,
    min_side=64,
    max_side=2048,
    max_images_per_call=4,
)


@pytest.fixture
def openai_channel(openai_emulator):
    preset = PRESETS["openai"]
    save_channel(
        Channel(
            name="openai",
            display_name=preset.display_name,
            base_url=openai_emulator.base_url,
            preset="openai",
            token_env="OPENAI_API_KEY",
            models=preset.models,
            chat_models=preset.chat_models,
        )
    )
    return openai_emulator


@pytest.fixture
def local_channel(openai_emulator):
    save_channel(
        Channel(
            name="local",
            base_url=f"{openai_emulator.root_url}/local/v1",
            auth="none",
            models=(
                ChannelModel(id="z-image-turbo", capabilities=LOCAL_CAPS, family="z-image-turbo"),
                ChannelModel(id="qwen-image"),  # nothing declared: the permissive defaults
            ),
            chat_models=(ChannelChatModel(id="qwen3-8b"),),
        )
    )
    return openai_emulator


def gate(**options) -> imagegate.Gate:
    return imagegate.Gate(plugins=[imagegate_openai], retries=0, **options)


def sent(emulator, path="/images/generations"):
    return [r.json for r in emulator.requests if r.path.endswith(path)]


def test_each_channel_is_a_provider_named_after_it(openai_channel, local_channel):
    with gate() as g:
        ids = [m.full_id for m in g.list_models()]
        assert "openai/gpt-image-2" in ids and "local/z-image-turbo" in ids
        assert {p.provider.id for p in g.providers()} == {"openai", "local"}
        provider = g.get_model("openai/gpt-image-2").provider
        assert provider.token_env == ("IMAGEGATE_OPENAI_TOKEN", "OPENAI_API_KEY")
        assert [m.full_id for m in g.list_chat_models()] == [
            "openai/gpt-5.4-mini",
            "openai/gpt-5.4-nano",
            "local/qwen3-8b",
        ]


def test_gpt_image_fields_reach_the_wire_only_for_models_that_take_them(
    openai_channel, local_channel, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", VALID_TOKEN)
    fields = {"quality": "high", "background": "transparent", "output_format": "webp"}
    with gate() as g:
        result = g.generate("a cat", model="openai/gpt-image-2", size="1536x864", **fields)
        assert result.images[0].mime_type == "image/webp"
        with pytest.raises(errors.InvalidRequest) as refused:
            g.generate("a cat", model="local/z-image-turbo", **fields)
        dropped = g.generate("a cat", model="local/z-image-turbo", drop_unsupported=True, **fields)
    (openai_body, local_body) = sent(openai_channel)
    assert openai_body == {
        "model": "gpt-image-2",
        "prompt": "a cat",
        "n": 1,
        "size": "1536x864",
        "quality": "high",
        "background": "transparent",
        "output_format": "webp",
    }  # no response_format: GPT Image models refuse it
    assert not set(fields) & set(local_body)
    assert refused.value.param == "background"
    assert "local/z-image-turbo does not take background, output_format" in refused.value.message
    assert "it takes: prompt, size (64-2048 px per side), n, negative_prompt, steps" in (
        refused.value.message
    )
    assert any("background ignored" in w for w in dropped.warnings)


def test_extensions_go_in_the_body_for_a_channel_that_declares_them(local_channel):
    with gate() as g:
        result = g.generate(
            "a fox", model="local/z-image-turbo", negative_prompt="blurry", seed=5, steps=4, n=2
        )
        plain = g.generate("a fox", model="local/qwen-image")
    first, second = sent(local_channel)
    assert first == {
        "model": "z-image-turbo",
        "prompt": "a fox",
        "n": 2,
        "size": "1024x1024",
        "response_format": "url",
        "negative_prompt": "blurry",
        "steps": 4,
        "seed": 5,
    }
    assert set(second) == {"model", "prompt", "n", "size", "response_format"}
    assert [image.seed for image in result.images] == [5, 5]
    assert plain.images[0].read().startswith(b"\x89PNG")


def test_a_size_off_a_models_rules_is_a_clear_400(openai_channel, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_OPENAI_TOKEN", VALID_TOKEN)
    with gate() as g:
        with pytest.raises(errors.InvalidRequest, match="makes only 1024x1024, 1536x1024"):
            g.generate("a cat", model="openai/gpt-image-1.5", size="512x512")
        with pytest.raises(errors.InvalidRequest, match="at most 3 times the short one"):
            g.generate("a cat", model="openai/gpt-image-2", size="3840x1024")
        with pytest.raises(errors.InvalidRequest, match="quality: 'hd' is not one"):
            g.generate("a cat", model="openai/gpt-image-2", quality="hd")
        wide = g.generate("a cat", model="openai/gpt-image-1.5", size="16:9")
    assert (wide.images[0].width, wide.images[0].height) == (1536, 1024)
    assert "made as 1536x1024" in wide.warnings[0]
    assert len(openai_channel.requests) == 1  # the refused ones never left


def test_tokens_come_as_for_every_provider_and_rotate_on_quota(openai_channel, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", f"{QUOTA_TOKEN},{VALID_TOKEN}")
    with gate() as g:
        g.generate("a cat", model="openai/gpt-image-1-mini")
        with pytest.raises(errors.AuthRequired, match="OpenAI needs a token"):
            imagegate.Gate(plugins=[imagegate_openai], use_stored_tokens=False).generate(
                "a cat", model="openai/gpt-image-2"
            )
    tokens = [r.headers["authorization"] for r in openai_channel.requests]
    assert tokens == [f"Bearer {QUOTA_TOKEN}", f"Bearer {VALID_TOKEN}"]


def test_openai_errors_become_imagegate_errors_naming_the_channel(openai_channel):
    with gate(tokens={"openai": "invalid-token-0001"}) as g:
        with pytest.raises(errors.AuthInvalid) as bad:
            g.generate("a cat", model="openai/gpt-image-2")
    assert bad.value.provider == "openai" and "OpenAI rejected the token" in bad.value.message
    assert "invalid-token-0001" not in str(bad.value)
    openai_channel.script("status", status=503)
    with gate(tokens={"openai": VALID_TOKEN}) as g, pytest.raises(errors.ProviderError) as down:
        g.generate("a cat", model="openai/gpt-image-2")
    assert down.value.transient and "HTTP 503" in down.value.message


def test_a_channel_joins_a_family(local_channel):
    with gate() as g:
        family = g.get_family("any/z-image-turbo")
        assert [m.full_id for m in family.members] == ["local/z-image-turbo"]
        assert g.generate("a cat", model="any/z-image-turbo").model == "local/z-image-turbo"


def test_chat_through_a_channel_plain_and_streamed(local_channel):
    with gate() as g:
        answer = g.chat("hello", model="local/qwen3-8b")
        assert answer.text == "You said: hello"
        assert answer.data["model"] == "local/qwen3-8b"

        async def streamed():
            return [c async for c in g.astream_chat("hi there", model="local/qwen3-8b")]

        import asyncio

        chunks = asyncio.run(streamed())
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == (
        "You said: hi there"
    )
    assert {c["model"] for c in chunks} == {"local/qwen3-8b"}


def test_enhance_rewrites_the_prompt_with_a_channels_chat_model(local_channel):
    with gate() as g:
        result = g.generate("a red fox", model="local/qwen-image", enhance="local/qwen3-8b")
    assert result.revised_prompt == f"a red fox{ENHANCED_SUFFIX}"
    assert (result.prompt, result.enhanced_by) == ("a red fox", "local/qwen3-8b")
    assert sent(local_channel)[0]["prompt"] == result.revised_prompt


def test_a_file_that_does_not_parse_is_one_warning_and_no_channels(capsys):
    path = channels_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"channels": {\n  "x": {"base_url": "http://a"},\n  oops\n}}\n')
    with gate() as g:
        assert g.list_models() == []
    with gate() as g:
        assert g.list_models() == []
    err = capsys.readouterr().err
    assert err.count("warning") == 1
    assert f"{path} line 3 does not parse" in err


def test_a_bad_channel_is_left_out_with_a_warning_naming_it(capsys, openai_channel):
    import json

    path = channels_path()
    stored = json.loads(path.read_text())
    stored["channels"]["bad"] = {"base_url": "ftp://nowhere", "models": [{"id": "m"}]}
    path.write_text(json.dumps(stored))
    with gate() as g:
        assert {m.provider.id for m in g.list_models()} == {"openai"}
    assert "channel 'bad' ignored: base URL 'ftp://nowhere' must be http" in capsys.readouterr().err


def test_the_plugin_works_beside_a4f_which_serves_chat_too(a4f_emulator, local_channel):
    with imagegate.Gate(
        plugins=[imagegate_openai, imagegate_a4f],
        base_urls={"a4f": a4f_emulator.base_url},
        tokens={"a4f": VALID_TOKEN},
    ) as g:
        ids = [m.full_id for m in g.list_chat_models()]
        assert "a4f/provider-3/deepseek-v3" in ids
        assert g.chat("hello", model="a4f/deepseek-v3").text == "You said: hello"


@pytest.mark.parametrize("kind", ["malformed_json", "missing_data"])
def test_an_answer_without_images_is_a_provider_error_naming_the_channel(local_channel, kind):
    local_channel.script(kind)
    with gate() as g, pytest.raises(errors.ProviderError) as caught:
        g.generate("a cat", model="local/qwen-image")
    assert caught.value.provider == "local" and caught.value.message.startswith("local")


def test_a_truncated_image_is_refused(local_channel):
    local_channel.script("truncated_image")
    with gate() as g:
        result = g.generate("a cat", model="local/qwen-image", size="256x256")
        with pytest.raises(errors.ProviderError, match="truncated"):
            result.images[0].read()


def test_a_chat_stream_cut_short_is_an_error_not_a_short_answer(local_channel):
    import asyncio

    local_channel.script("stream_cut")

    async def streamed():
        async with gate() as g:
            return [c async for c in g.astream_chat("one two three four", model="local/qwen3-8b")]

    with pytest.raises(errors.ProviderError, match=r"before `\[DONE\]`"):
        asyncio.run(streamed())
