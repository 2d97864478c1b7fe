"""The HuggingFace plugin against the emulator Spaces (real Gradio apps), through imagegate."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

import imagegate
import imagegate_huggingface
from imagegate import errors
from tests.emulators.control import INVALID_TOKEN, QUOTA_TOKEN, RATE_LIMIT_TOKEN, VALID_TOKEN

pytestmark = pytest.mark.anyio

Z, MIRROR = "luca115-z-image-turbo", "mrfakename-z-image-turbo"
QWEN, OVIS, FLUX = (
    "mcp-tools-qwen-image-fast",
    "aidc-ai-ovis-image-7b",
    "black-forest-labs-flux-1-schnell",
)

ROOT = Path(__file__).resolve().parents[2]


def gate(emulator, **kwargs) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[imagegate_huggingface], base_urls={"huggingface": emulator.base_url}, **kwargs
    )


def calls(emulator, method: str = "CALL"):
    return [r for r in emulator.requests if r.method == method]


async def picture(result: imagegate.ImageResult) -> Image.Image:
    data = await result.images[0].aread()
    image = Image.open(io.BytesIO(data))
    assert image.format == "WEBP"
    return image


# -- models ---------------------------------------------------------------------------------


def test_the_four_models_with_the_spec_limits():
    models = {m.id: m for m in gate_models()}
    assert list(models) == ["z-image-turbo", "qwen-image-fast", "ovis-image", "flux-1-schnell"]
    steps = {
        k: (m.capabilities.steps.min, m.capabilities.steps.max, m.capabilities.steps.default)
        for k, m in models.items()
    }
    assert steps == {
        "z-image-turbo": (1, 20, 9),
        "qwen-image-fast": (4, 28, 8),
        "ovis-image": (1, 50, 24),
        "flux-1-schnell": (1, 50, 8),
    }
    for model in models.values():
        assert not model.capabilities.negative_prompt and model.capabilities.guidance is None
        provider = model.provider
        assert (provider.id, provider.model_prefix, provider.auth_prefix) == (
            "huggingface",
            "hf",
            "hf",
        )
        assert provider.auth == "optional" and provider.image_format == "webp"
        assert provider.token_env == ("IMAGEGATE_HUGGINGFACE_TOKEN", "HF_TOKEN")
    assert (
        models["z-image-turbo"].capabilities.min_side,
        models["z-image-turbo"].capabilities.max_side,
    ) == (512, 2048)
    assert models["qwen-image-fast"].capabilities.aspect_ratios


def gate_models():
    return imagegate.Gate(plugins=[imagegate_huggingface]).list_models()


def test_bare_ids_and_the_default_model_resolve_here():
    g = imagegate.Gate(plugins=[imagegate_huggingface])
    assert g.get_model("flux-1-schnell").full_id == "hf/flux-1-schnell"
    assert g.get_model(None).full_id == "hf/z-image-turbo"
    assert g.get_model("huggingface/ovis-image").full_id == "hf/ovis-image"


def test_with_only_this_plugin_the_models_are_ours_and_gradio_client_stays_unloaded():
    code = (
        "import sys, imagegate; print(sorted(m.full_id for m in imagegate.list_models())); "
        "print('gradio_client' in sys.modules)"
    )
    env = {**os.environ, "IMAGEGATE_LOAD_PLUGINS": "huggingface"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == [
        "['hf/flux-1-schnell', 'hf/ovis-image', 'hf/qwen-image-fast', 'hf/z-image-turbo']",
        "False",
    ]


# -- each model: the exact inputs, the image, the seed ----------------------------------------


@pytest.mark.parametrize(
    ("model", "space", "api", "inputs"),
    [
        (
            "z-image-turbo",
            Z,
            "/generate_image",
            {
                "prompt": "a cute cat",
                "height": 512,
                "width": 768,
                "num_inference_steps": 9,
                "seed": 1234,
                "randomize_seed": False,
            },
        ),
        (
            "ovis-image",
            OVIS,
            "/generate",
            {
                "prompt": "a cute cat",
                "height": 512,
                "width": 768,
                "seed": 1234,
                "num_inference_steps": 24,
                "guidance_scale": 4.0,
            },
        ),
        (
            "flux-1-schnell",
            FLUX,
            "/infer",
            {
                "prompt": "a cute cat",
                "seed": 1234,
                "randomize_seed": False,
                "width": 768,
                "height": 512,
                "num_inference_steps": 8,
            },
        ),
    ],
)
async def test_each_sized_model_sends_its_inputs_and_returns_the_image(
    spaces_emulator, model, space, api, inputs
):
    async with gate(spaces_emulator) as g:
        result = await g.agenerate("a cute cat", model=model, size="768x512", seed=1234)
    (call,) = calls(spaces_emulator)
    assert call.path == f"/{space}{api}"
    assert call.json["inputs"] == inputs
    assert "x-hf-authorization" not in call.headers  # anonymous
    image = result.images[0]
    assert image.seed == 1234 and result.model == f"hf/{model}"
    assert image.url.startswith(f"{spaces_emulator.root_url}/{space}/gradio_api/file=")
    assert image.mime_type == "image/webp"
    assert (await picture(result)).size == (768, 512)


async def test_steps_given_are_sent(spaces_emulator):
    async with gate(spaces_emulator) as g:
        await g.agenerate("a cat", model="hf/flux-1-schnell", steps=3, seed=1, size="256x256")
    assert calls(spaces_emulator)[0].json["inputs"]["num_inference_steps"] == 3


async def test_qwen_takes_the_ratio_asked_for(spaces_emulator):
    async with gate(spaces_emulator) as g:
        result = await g.agenerate("a cat", model="qwen-image-fast", size="16:9", seed=77)
    assert calls(spaces_emulator)[0].json["inputs"] == {
        "prompt": "a cat",
        "seed": 77,
        "randomize_seed": False,
        "aspect_ratio": "16:9",
        "guidance_scale": 1.0,
        "num_inference_steps": 8,
    }
    assert result.images[0].seed == 77  # read back from "Seed used for generation: 77"
    assert result.warnings == []
    image = await picture(result)
    assert image.size == (result.images[0].width, result.images[0].height)
    assert image.width > image.height


async def test_qwen_maps_a_pixel_size_to_the_nearest_ratio_and_says_so(spaces_emulator):
    async with gate(spaces_emulator) as g:
        result = await g.agenerate("a cat", model="qwen-image-fast", size="700x1000", seed=1)
    assert calls(spaces_emulator)[0].json["inputs"]["aspect_ratio"] == "2:3"
    assert any("2:3" in w and "700x1000" in w for w in result.warnings)
    image = await picture(result)
    assert image.height > image.width


async def test_qwen_default_is_square_without_a_warning(spaces_emulator):
    async with gate(spaces_emulator) as g:
        result = await g.agenerate("a cat", model="qwen-image-fast", seed=1)
    assert calls(spaces_emulator)[0].json["inputs"]["aspect_ratio"] == "1:1"
    assert result.warnings == []


async def test_guidance_is_not_a_knob(spaces_emulator):
    async with gate(spaces_emulator) as g:
        result = await g.agenerate(
            "a cat", model="flux-1-schnell", guidance_scale=3, seed=1, size="256x256"
        )
    assert any("guidance_scale ignored" in w for w in result.warnings)
    assert "guidance_scale" not in calls(spaces_emulator)[0].json["inputs"]


async def test_a_seed_is_always_sent_even_when_none_is_given(spaces_emulator):
    async with gate(spaces_emulator) as g:
        result = await g.agenerate("a cat", model="z-image-turbo", size="512x512")
    sent = calls(spaces_emulator)[0].json["inputs"]
    assert sent["randomize_seed"] is False
    assert result.images[0].seed == sent["seed"]


async def test_the_token_is_sent_as_x_hf_authorization(spaces_emulator):
    async with gate(spaces_emulator, tokens={"huggingface": VALID_TOKEN}) as g:
        await g.agenerate("a cat", model="ovis-image", size="256x256", seed=1)
    assert calls(spaces_emulator)[0].headers["x-hf-authorization"] == f"Bearer {VALID_TOKEN}"


async def test_b64_json_fetches_the_bytes(spaces_emulator):
    async with gate(spaces_emulator) as g:
        result = await g.agenerate(
            "a cat", model="flux-1-schnell", size="256x256", seed=2, response_format="b64_json"
        )
    assert result.images[0].data[:4] == b"RIFF"


def test_sync_generate_and_save(spaces_emulator, tmp_path):
    with gate(spaces_emulator) as g:
        result = g.generate("a cat", model="hf/z-image-turbo", size="512x512", seed=3)
        path = result.images[0].save(tmp_path / "cat")
    assert path.suffix == ".webp"
    assert Image.open(path).size == (512, 512)


# -- Clients, progress, cancellation -------------------------------------------------------


async def test_a_client_is_built_once_per_space_and_token(spaces_emulator):
    async with gate(spaces_emulator) as g:
        for _ in range(3):
            await g.agenerate(
                "a cat",
                model="flux-1-schnell",
                size="256x256",
                seed=1,
                token="valid-token-reuse-0001",
            )
        await g.agenerate(
            "a cat", model="flux-1-schnell", size="256x256", seed=1, token="valid-token-other-0001"
        )
    configs = calls(spaces_emulator, "GET")
    assert len(configs) == 2 and len(calls(spaces_emulator)) == 4


async def test_progress_reports_the_steps(spaces_emulator):
    spaces_emulator.control.delay = 0.5
    events: list[imagegate.Progress] = []
    async with gate(spaces_emulator) as g:
        await g.agenerate(
            "a cat", model="z-image-turbo", size="512x512", seed=1, steps=10, progress=events.append
        )
    steps = [e for e in events if e.stage == "progress"]
    assert steps and all(e.total_steps == 10 for e in steps)
    assert [e.step for e in steps] == sorted(e.step for e in steps)
    assert events[0].stage == "submitted" and events[-1].stage == "done"


async def test_a_waiting_call_reports_its_queue_place(spaces_emulator):
    spaces_emulator.control.delay = 0.6
    events: list[imagegate.Progress] = []
    async with gate(spaces_emulator) as g:
        await asyncio.gather(
            *(
                g.agenerate(
                    "a cat",
                    model="ovis-image",
                    size="256x256",
                    seed=i,
                    steps=4,
                    progress=events.append,
                )
                for i in range(3)
            )
        )
    queued = [e for e in events if e.stage == "queued"]
    assert queued and max(e.queue_position for e in queued) >= 1
    assert all(e.queue_size is not None for e in queued)


async def test_cancelling_the_caller_cancels_the_space_job(spaces_emulator):
    spaces_emulator.control.delay = 20
    async with gate(spaces_emulator) as g:
        task = asyncio.create_task(
            g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1, steps=10)
        )
        await wait_for(lambda: calls(spaces_emulator))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await wait_for(lambda: calls(spaces_emulator, "CANCELLED"))
    assert any(r.path == f"/{FLUX}/gradio_api/cancel" for r in spaces_emulator.requests)


async def test_a_timeout_cancels_the_space_job(spaces_emulator):
    spaces_emulator.control.delay = 20
    async with gate(spaces_emulator) as g:
        with pytest.raises(errors.Timeout):
            await g.agenerate("a cat", model="z-image-turbo", size="512x512", seed=1, timeout=1.5)
    await wait_for(lambda: calls(spaces_emulator, "CANCELLED"))


async def wait_for(condition, limit: float = 15.0):
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        await asyncio.sleep(0.02)


async def test_no_temporary_file_after_20_generations(spaces_emulator, tmp_path, monkeypatch):
    from gradio_client.client import DEFAULT_TEMP_DIR

    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    download_dir = Path(DEFAULT_TEMP_DIR)
    before = sorted(download_dir.rglob("*")) if download_dir.exists() else []
    async with gate(spaces_emulator) as g:
        for i in range(20):
            result = await g.agenerate(
                "a cat", model="flux-1-schnell", size="256x256", seed=i, response_format="b64_json"
            )
            assert result.images[0].data
    after = sorted(download_dir.rglob("*")) if download_dir.exists() else []
    assert after == before
    assert list(own_tmp.iterdir()) == []


# -- the z-image fallback ------------------------------------------------------------------


async def test_fallback_space_when_the_primary_is_gone(spaces_emulator):
    spaces_emulator.script("space_down", times=50, space=Z)
    async with gate(spaces_emulator) as g:
        result = await g.agenerate("a cat", model="z-image-turbo", size="512x512", seed=9)
    (call,) = calls(spaces_emulator)
    assert call.path == f"/{MIRROR}/generate_image"
    assert call.json["inputs"]["seed"] == 9
    assert result.images[0].url.startswith(f"{spaces_emulator.root_url}/{MIRROR}/")
    assert result.images[0].metadata["space"] == "mrfakename/Z-Image-Turbo"
    assert (await picture(result)).size == (512, 512)


async def test_fallback_space_when_the_primary_is_sleeping(spaces_emulator):
    spaces_emulator.script("space_sleeping", times=50, space=Z)
    async with gate(spaces_emulator, retries=0) as g:
        result = await g.agenerate("a cat", size="512x512", seed=9)
    assert [c.path for c in calls(spaces_emulator)] == [f"/{MIRROR}/generate_image"]
    assert result.model == "hf/z-image-turbo"


async def test_no_fallback_for_other_models_and_both_named_when_both_fail(spaces_emulator):
    spaces_emulator.script("space_down", times=50)  # every Space
    async with gate(spaces_emulator, retries=0) as g:
        with pytest.raises(errors.ProviderError) as caught:
            await g.agenerate("a cat", size="512x512", seed=9)
    assert "luca115/z-image-turbo" in str(caught.value)
    assert "mrfakename/Z-Image-Turbo" in str(caught.value)
    assert "404" in str(caught.value)
    spaces_emulator.reset()
    spaces_emulator.script("space_down", times=50, space=FLUX)
    async with gate(spaces_emulator, retries=0) as g:
        with pytest.raises(errors.ProviderError, match="not found"):
            await g.agenerate("a cat", model="flux-1-schnell", size="512x512", seed=9)
    assert calls(spaces_emulator) == []


# -- errors --------------------------------------------------------------------------------


async def test_a_space_error_is_a_generation_failure_with_its_message(spaces_emulator):
    spaces_emulator.script("gradio_error", message="NSFW content detected")
    async with gate(spaces_emulator) as g:
        with pytest.raises(errors.GenerationFailed, match="NSFW content detected"):
            await g.agenerate("a cat", model="ovis-image", size="256x256", seed=1)


async def test_zerogpu_quota_anonymous_is_quota_exceeded_in_plain_text(spaces_emulator):
    spaces_emulator.script("zerogpu_quota")
    async with gate(spaces_emulator) as g:
        with pytest.raises(errors.QuotaExceeded) as caught:
            await g.agenerate("a cat", size="512x512", seed=1)
    message = str(caught.value)
    assert "exceeded your free GPU quota" in message and "<a" not in message
    assert "huggingface.co/settings/tokens" in message


async def test_quota_rotates_to_the_next_token_and_skips_the_spent_one(spaces_emulator):
    tokens = f"{QUOTA_TOKEN},{VALID_TOKEN}"
    async with gate(spaces_emulator, tokens={"hf": tokens}) as g:
        await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1)
        first = [c.headers["x-hf-authorization"] for c in calls(spaces_emulator)]
        spaces_emulator.reset()
        await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=2)
        second = [c.headers["x-hf-authorization"] for c in calls(spaces_emulator)]
    assert first == [f"Bearer {QUOTA_TOKEN}", f"Bearer {VALID_TOKEN}"]
    assert second == [f"Bearer {VALID_TOKEN}"]


async def test_queue_full_is_a_transient_provider_error(spaces_emulator):
    async with gate(spaces_emulator, retries=0) as g:
        # build the Client first, so the fault meets the queue join
        await g.agenerate("a cat", model="ovis-image", size="256x256", seed=1)
        spaces_emulator.script("queue_full")
        with pytest.raises(errors.ProviderError, match="queue full") as caught:
            await g.agenerate("a cat", model="ovis-image", size="256x256", seed=1)
    assert caught.value.transient


async def test_queue_full_is_retried_by_the_core(spaces_emulator):
    async with gate(spaces_emulator, retries=2) as g:
        await g.agenerate("a cat", model="ovis-image", size="256x256", seed=1)
        spaces_emulator.script("queue_full")
        result = await g.agenerate("a cat", model="ovis-image", size="256x256", seed=1)
    assert result.images[0].url


@pytest.mark.parametrize("warm", [False, True], ids=["at-connect", "at-join"])
async def test_429_is_rate_limited(spaces_emulator, warm):
    async with gate(spaces_emulator, retries=0) as g:
        token = f"valid-token-429-{warm}"
        if warm:
            await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1, token=token)
        spaces_emulator.script("status", status=429, space=FLUX)
        with pytest.raises(errors.RateLimited) as caught:
            await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1, token=token)
    assert not isinstance(caught.value, errors.QuotaExceeded)


async def test_a_sleeping_space_is_a_clear_transient_error(spaces_emulator):
    spaces_emulator.script("space_sleeping", times=50, space=QWEN)
    async with gate(spaces_emulator, retries=0) as g:
        with pytest.raises(errors.ProviderError, match="sleeping or building") as caught:
            await g.agenerate("a cat", model="qwen-image-fast", seed=1, token="valid-sleepy-0001")
        assert caught.value.transient
        spaces_emulator.reset()
        await g.agenerate("a cat", model="qwen-image-fast", seed=1, token="valid-sleepy-0001")
        spaces_emulator.script("space_sleeping", times=50, space=QWEN)
        with pytest.raises(errors.ProviderError, match="sleeping or building"):
            await g.agenerate("a cat", model="qwen-image-fast", seed=1, token="valid-sleepy-0001")


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (INVALID_TOKEN, errors.AuthInvalid),
        (RATE_LIMIT_TOKEN, errors.RateLimited),
        (QUOTA_TOKEN, errors.QuotaExceeded),
    ],
)
async def test_token_errors_never_show_the_token(spaces_emulator, token, error):
    async with gate(spaces_emulator, retries=0) as g:
        with pytest.raises(error) as caught:
            await g.agenerate("a cat", model="ovis-image", size="256x256", seed=1, token=token)
    assert token not in str(caught.value) and token not in repr(caught.value)
    assert "HuggingFace" in str(caught.value)


async def test_faults_with_a_token_never_show_it(spaces_emulator):
    secret = "valid-secret-token-0001"
    async with gate(spaces_emulator, retries=0) as g:  # one Client: each fault meets its join
        for kind, params in [("gradio_error", {}), ("queue_full", {}), ("status", {"status": 500})]:
            spaces_emulator.script(kind, **params)
            with pytest.raises(errors.ImagegateError) as caught:
                await g.agenerate("a cat", model="ovis-image", size="256x256", seed=1, token=secret)
            assert secret not in str(caught.value)


def test_a_relative_file_url_is_resolved_against_the_space():
    from imagegate_huggingface import wire
    from imagegate_huggingface.models import SPACES

    space = SPACES["flux-1-schnell"]
    request = imagegate.ImageRequest(prompt="x", seed=5, width=256, height=256)
    url = "http://127.0.0.1:9/black-forest-labs-flux-1-schnell/"
    image = wire.parse_result(
        ({"path": "/tmp/x/image.webp", "url": "/gradio_api/file=/tmp/x/image.webp"}, 5.0),
        "flux-1-schnell",
        request,
        space,
        url,
    )
    assert image.url == f"{url}gradio_api/file=/tmp/x/image.webp" and image.seed == 5


# -- the command line ----------------------------------------------------------------------


def test_cli_generate_saves_an_image_with_only_this_plugin(spaces_emulator, tmp_path):
    env = {
        **os.environ,
        "IMAGEGATE_LOAD_PLUGINS": "huggingface",
        "IMAGEGATE_HUGGINGFACE_BASE_URL": spaces_emulator.base_url,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "imagegate.cli",
            "generate",
            "a cute cat",
            "-o",
            f"{tmp_path}/",
            "--no-progress",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    saved = [p for p in tmp_path.iterdir() if p.suffix == ".webp"]
    assert len(saved) == 1 and Image.open(saved[0]).size == (1024, 1024)
    assert [c.path for c in calls(spaces_emulator)] == [f"/{Z}/generate_image"]
