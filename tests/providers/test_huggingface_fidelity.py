"""HuggingFace Spaces as they really answer (issue 12): size rules, ZeroGPU waits, hidden
errors, galleries and sleeping Spaces, through the library, the CLI and the server."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import imagegate
import imagegate_huggingface
from imagegate import errors
from imagegate_huggingface.errors import zerogpu_wait
from tests.emulators.control import QUOTA_TOKEN

pytestmark = pytest.mark.anyio

Z, MIRROR, FLUX = (
    "luca115-z-image-turbo",
    "mrfakename-z-image-turbo",
    "black-forest-labs-flux-1-schnell",
)


def gate(emulator, base: str | None = None, **kwargs) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[imagegate_huggingface],
        base_urls={"huggingface": base or emulator.base_url},
        **kwargs,
    )


def calls(emulator):
    return [r for r in emulator.requests if r.method == "CALL"]


# -- sizes: the pipeline's multiple of 16 --------------------------------------------------


@pytest.mark.parametrize("model", ["z-image-turbo", "flux-1-schnell", "ovis-image"])
def test_every_sized_space_declares_its_step(model):
    caps = imagegate.Gate(plugins=[imagegate_huggingface]).get_model(model).capabilities
    assert caps.size_step == 16


async def test_a_size_off_the_rule_is_refused_before_any_call(spaces_emulator):
    async with gate(spaces_emulator) as g:
        with pytest.raises(errors.InvalidRequest) as caught:
            await g.agenerate("a cat", model="z-image-turbo", size="1000x1000", seed=1)
    message = str(caught.value)
    assert caught.value.param == "size"
    assert "multiples of 16" in message and "992x992 or 1008x1008" in message
    assert calls(spaces_emulator) == []  # the Space would have failed without saying why


async def test_a_size_on_the_rule_is_made_exactly(spaces_emulator):
    async with gate(spaces_emulator) as g:
        result = await g.agenerate("a cat", model="flux-1-schnell", size="1008x272", seed=1)
    data = await result.images[0].aread()
    assert Image.open(io.BytesIO(data)).size == (1008, 272)


async def test_the_server_refuses_it_too_naming_the_field(spaces_emulator, served):
    async with served(gate(spaces_emulator)) as client:
        answer = await client.post(
            "/v1/images/generations",
            json={"model": "hf/z-image-turbo", "prompt": "a cat", "size": "1000x1000"},
        )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "size" and "992x992 or 1008x1008" in error["message"]
    assert calls(spaces_emulator) == []


def test_the_cli_refuses_it_and_models_show_states_the_rule(spaces_emulator, cli):
    env = {"IMAGEGATE_HUGGINGFACE_BASE_URL": spaces_emulator.base_url}
    done = cli("huggingface", "generate", "a cat", "--size", "1000x1000", env=env)
    assert done.code == 2 and "multiples of 16" in done.stderr
    shown = cli("huggingface", "models", "show", "hf/z-image-turbo")
    assert "512-2048 px per side, multiples of 16" in shown.stdout


# -- ZeroGPU quota: the wait the Space states -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (
            "You have exceeded your free GPU quota (60s requested vs. 30s left). "
            "Try again in 0:12:34",
            754,
        ),
        ("… Sign-up on Hugging Face to get more quotas or retry in 0:09:48.", 588),
        ("TRY AGAIN IN 12:34", 754),
        ("Try again in 1 day, 2:03:04.250000", 93784),
        ("Create a free account to get more usage quota.", None),
    ],
)
def test_zerogpu_waits_are_read_in_every_wording(text, seconds):
    assert zerogpu_wait(text) == seconds


@pytest.mark.parametrize(
    ("variant", "wait", "said"),
    [("current", 754, "12 min 34 s"), ("older", 588, "9 min 48 s"), ("signup", None, "later")],
)
async def test_the_zerogpu_quota_error_carries_the_wait(spaces_emulator, variant, wait, said):
    spaces_emulator.script("zerogpu_quota", variant=variant)
    async with gate(spaces_emulator) as g:
        with pytest.raises(errors.QuotaExceeded) as caught:
            await g.agenerate("a cat", size="512x512", seed=1)
    exc = caught.value
    assert exc.scope == "token"
    if wait is not None:  # else the core's key health sets its own default rest
        assert exc.retry_after == wait
    assert said in exc.message and "<a" not in exc.message
    assert "IMAGEGATE_" not in exc.message and "HF_TOKEN" in (exc.hint or "")


async def test_the_server_tells_its_caller_the_zerogpu_wait(spaces_emulator, served):
    spaces_emulator.script("zerogpu_quota")
    async with served(gate(spaces_emulator)) as client:
        answer = await client.post(
            "/v1/images/generations",
            json={"model": "hf/flux-1-schnell", "prompt": "a cat", "size": "256x256"},
        )
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "754"  # not the seconds to midnight
    assert "12 min 34 s" in answer.json()["error"]["message"]


async def test_a_spent_token_says_when_it_is_usable_again(spaces_emulator):
    async with gate(spaces_emulator, tokens={"hf": QUOTA_TOKEN}) as g:
        with pytest.raises(errors.QuotaExceeded) as caught:
            await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1)
    assert caught.value.retry_after == 754 and QUOTA_TOKEN not in str(caught.value)


async def test_no_free_gpu_is_transient_and_retried(spaces_emulator):
    spaces_emulator.script("zerogpu_busy")
    async with gate(spaces_emulator, retries=0) as g:
        with pytest.raises(errors.ProviderError, match="no free GPU") as caught:
            await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1)
        assert caught.value.transient
        spaces_emulator.script("zerogpu_busy")
    async with gate(spaces_emulator, retries=2) as g:
        result = await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1)
    assert result.images


# -- Spaces that hide their errors ----------------------------------------------------------


async def test_a_hidden_error_says_what_the_model_takes_and_to_retry(spaces_emulator):
    spaces_emulator.script("crash")
    async with gate(spaces_emulator) as g:
        with pytest.raises(errors.GenerationFailed) as caught:
            await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1)
    message = str(caught.value)
    assert "verbose error reporting" not in message and "show_error" not in message
    assert "hf/flux-1-schnell takes sizes 256-2048 px per side, multiples of 16" in message
    assert "steps 1-50" in message and "try again later" in message


async def test_a_space_that_shows_its_errors_is_quoted(spaces_emulator):
    spaces_emulator.control.options["show_error"] = True
    spaces_emulator.script("crash", message="CUDA out of memory")
    async with gate(spaces_emulator) as g:
        with pytest.raises(errors.GenerationFailed, match="CUDA out of memory"):
            await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1)


def test_the_cli_shows_the_hidden_error_advice(spaces_emulator, cli):
    spaces_emulator.script("crash")
    env = {"IMAGEGATE_HUGGINGFACE_BASE_URL": spaces_emulator.base_url}
    done = cli(
        "huggingface", "generate", "a cat", "-m", "flux-1-schnell", "--size", "256x256", env=env
    )
    assert done.code == 5
    assert "multiples of 16" in done.stderr and "try again later" in done.stderr


# -- galleries and sleeping Spaces -----------------------------------------------------------


async def test_a_space_answering_a_gallery_gives_its_first_image(spaces_emulator):
    async with gate(spaces_emulator, base=f"{spaces_emulator.root_url}/_gallery") as g:
        result = await g.agenerate("a cat", model="flux-1-schnell", size="512x256", seed=4)
    image = result.images[0]
    assert image.url.startswith(f"{spaces_emulator.root_url}/_gallery/{FLUX}/gradio_api/file=")
    assert image.seed == 4
    assert Image.open(io.BytesIO(await image.aread())).size == (512, 256)


async def test_a_space_redirecting_to_its_hub_page_is_asleep_not_up(spaces_emulator):
    spaces_emulator.script("space_sleeping", times=50, space=Z, redirect=True)
    async with gate(spaces_emulator, retries=0) as g:
        result = await g.agenerate("a cat", size="512x512", seed=9, token="valid-redirect-0001")
    assert [c.path for c in calls(spaces_emulator)] == [f"/{MIRROR}/generate_image"]
    assert result.images[0].metadata["space"] == "mrfakename/Z-Image-Turbo"


async def test_a_redirecting_space_without_fallback_is_a_clear_transient_error(spaces_emulator):
    spaces_emulator.script("space_sleeping", times=50, space=FLUX, redirect=True)
    async with gate(spaces_emulator, retries=0) as g:
        with pytest.raises(errors.ProviderError, match="sleeping or building") as caught:
            await g.agenerate(
                "a cat", model="flux-1-schnell", size="256x256", token="valid-redirect-0002"
            )
    assert caught.value.transient


async def test_a_spent_zerogpu_token_rests_for_the_stated_wait_not_until_midnight(spaces_emulator):
    import time

    from tests.emulators.control import VALID_TOKEN

    async with gate(spaces_emulator, tokens={"hf": f"{QUOTA_TOKEN},{VALID_TOKEN}"}) as g:
        before = time.time()
        result = await g.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=1)
        rows = [r for r in await g.akey_status("huggingface") if r.state == "cooling"]
    assert result.images
    [spent] = rows
    assert spent.last_error == "QUOTA_EXCEEDED" and spent.model is None  # the whole account
    assert before + 754 <= spent.until <= time.time() + 754


async def test_the_server_answers_with_a_gallery_spaces_image(spaces_emulator, served):
    async with served(gate(spaces_emulator, base=f"{spaces_emulator.root_url}/_gallery")) as c:
        answer = await c.post(
            "/v1/images/generations",
            json={"model": "hf/flux-1-schnell", "prompt": "a cat", "size": "256x256"},
        )
        assert answer.status_code == 200, answer.text
        # the gallery's image, stored and served by imagegate: a Space's file URL never leaks
        url = answer.json()["data"][0]["url"]
        assert url.startswith("http://imagegate.test/v1/images/files/")
        assert "gradio_api" not in answer.text
        image = await c.get(url)
    assert image.status_code == 200 and image.headers["content-type"] == "image/webp"
    assert image.content[8:12] == b"WEBP"


def test_the_cli_falls_back_past_a_redirecting_space(spaces_emulator, cli, tmp_path):
    spaces_emulator.script("space_sleeping", times=50, space=Z, redirect=True)
    env = {"IMAGEGATE_HUGGINGFACE_BASE_URL": spaces_emulator.base_url}
    done = cli("huggingface", "generate", "a cat", "--size", "512x512", env=env)
    assert done.code == 0, done.stderr
    assert [c.path for c in calls(spaces_emulator)] == [f"/{MIRROR}/generate_image"]
    assert len(list(tmp_path.glob("*.webp"))) == 1
