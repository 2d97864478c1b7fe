"""ModelScope as it really answers (issue 12): JPEG images, 429s and failures while polling a
task that is already paid for, limits by the headers' figures, and guidance ranges that
are both the spec's and the service's, through the library, the CLI and the server."""

from __future__ import annotations

import pytest

import imagegate
import imagegate_modelscope
from imagegate import errors
from imagegate_modelscope.schedule import DURATIONS
from tests.emulators.control import VALID_TOKEN

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _forget_task_durations():
    DURATIONS.clear()
    yield
    DURATIONS.clear()


@pytest.fixture
def emulator(modelscope_emulator):
    modelscope_emulator.control.task_seconds = 0.05
    return modelscope_emulator


def gate(emulator, tokens: str = VALID_TOKEN, **kwargs) -> imagegate.Gate:
    kwargs.setdefault("retries", 0)
    return imagegate.Gate(
        plugins=[imagegate_modelscope],
        base_urls={"modelscope": emulator.base_url},
        tokens={"modelscope": tokens},
        **kwargs,
    )


def submits(emulator):
    return [r for r in emulator.requests if r.path.endswith("/images/generations")]


def polls(emulator):
    return [r for r in emulator.requests if "/tasks/" in r.path]


# -- JPEG, labelled by the bytes --------------------------------------------------------


async def test_images_are_labelled_jpeg_by_their_bytes_before_anyone_reads_them(emulator):
    async with gate(emulator) as g:
        result = await g.agenerate("a cat", model="ms/z-image-turbo", size="512x512")
    image = result.images[0]
    assert image.mime_type == "image/jpeg" and image.extension == ".jpg"
    assert image.data[:3] == b"\xff\xd8\xff" and image.url


def test_the_cli_saves_a_jpg(emulator, cli, tmp_path):
    env = {
        "IMAGEGATE_MODELSCOPE_BASE_URL": emulator.base_url,
        "IMAGEGATE_MODELSCOPE_TOKEN": VALID_TOKEN,
    }
    done = cli("modelscope", "generate", "a cat", "-m", "ms/flux-2", "--size", "512x512", env=env)
    assert done.code == 0, done.stderr
    [saved] = tmp_path.glob("*.jpg")
    assert saved.read_bytes()[:3] == b"\xff\xd8\xff"


async def test_the_server_lists_modelscope_images_as_jpeg(emulator, served):
    async with served(gate(emulator)) as client:
        models = (await client.get("/v1/models")).json()["data"]
    assert {m["image_format"] for m in models if m["owned_by"] == "modelscope"} == {"jpeg"}


# -- a paid task is never abandoned while the deadline allows more polls -----------------


@pytest.mark.parametrize("headers", [True, False], ids=["with-headers", "without-headers"])
async def test_429s_while_polling_back_off_and_the_task_is_kept(emulator, headers):
    emulator.script("rate_limit", on="poll", times=4, retry_after=0.05, headers=headers)
    seen: list[imagegate.Progress] = []
    async with gate(emulator) as g:
        result = await g.agenerate("a cat", model="ms/flux-2", progress=seen.append)
    assert result.images and len(submits(emulator)) == 1
    assert sum(1 for p in seen if p.stage == "retrying") == 4


async def test_a_spent_limit_on_a_poll_is_no_reason_to_drop_the_task(emulator):
    emulator.script("quota", on="poll")  # model-requests-remaining 0 on the poll
    async with gate(emulator) as g:
        result = await g.agenerate("a cat", model="ms/flux-2")
    assert result.images and len(submits(emulator)) == 1


async def test_a_polls_retry_after_is_honoured(emulator):
    emulator.script("rate_limit", on="poll", retry_after=1.5, headers=False)
    seen: list[imagegate.Progress] = []
    async with gate(emulator) as g:
        await g.agenerate("a cat", model="ms/z-image-turbo", progress=seen.append)
    assert any(p.stage == "retrying" and "1.5s" in (p.message or "") for p in seen)
    first, second = polls(emulator)[:2]
    assert second.time - first.time >= 1.4


async def test_many_failed_polls_do_not_lose_the_task(emulator):
    emulator.script("status", on="poll", times=4, status=503, message="busy", retry_after=0.05)
    emulator.script("status", on="poll", times=2, status=502, message="bad gateway")
    async with gate(emulator) as g:
        result = await g.agenerate("a cat", model="ms/z-image-turbo")
    assert result.images and len(submits(emulator)) == 1 and len(polls(emulator)) >= 7


async def test_the_server_gets_the_image_after_a_rate_limited_poll(emulator, served):
    emulator.script("rate_limit", on="poll", times=4, retry_after=0.05, headers=False)
    async with served(gate(emulator)) as client:
        answer = await client.post(
            "/v1/images/generations", json={"model": "ms/z-image-turbo", "prompt": "a cat"}
        )
    assert answer.status_code == 200, answer.text
    assert len(submits(emulator)) == 1


# -- limits: what the headers' figures say -----------------------------------------------


@pytest.mark.parametrize(
    ("scope", "left"),
    [("model", "0 of 200 calls of this model"), ("token", "0 of 2000 calls today")],
)
async def test_a_spent_daily_limit_names_its_scope_and_the_reset(emulator, scope, left):
    emulator.script("quota", scope=scope)
    async with gate(emulator) as g:
        with pytest.raises(errors.QuotaExceeded) as caught:
            await g.agenerate("a cat", model="ms/flux-2")
    exc = caught.value
    assert exc.scope == scope and left in exc.message
    assert "00:00 UTC+08:00" in exc.message  # midnight in Asia/Shanghai, not UTC


# -- guidance: what both the spec and the service take ----------------------------------


def test_flux_2_advertises_and_enforces_the_intersection(emulator, cli):
    caps = gate(emulator).get_model("ms/flux-2").capabilities
    assert (caps.guidance.min, caps.guidance.max) == (1.5, 10)
    for alias in ("ms/flux-1-krea-dev", "ms/flux-1"):
        guidance = gate(emulator).get_model(alias).capabilities.guidance
        assert (guidance.min, guidance.max) == (1.5, 20)
    shown = cli("modelscope", "models", "show", "ms/flux-2")
    assert "1.5-10 (default 3.5)" in shown.stdout
    assert "64-1024 px per side, multiples of 16" in shown.stdout


@pytest.mark.parametrize("guidance", [1.2, 12])
async def test_guidance_outside_it_is_refused_naming_the_range(emulator, guidance):
    async with gate(emulator) as g:
        with pytest.raises(errors.InvalidRequest, match=r"outside 1\.5-10") as caught:
            await g.agenerate("a cat", model="ms/flux-2", guidance_scale=guidance)
    assert caught.value.param == "guidance_scale" and emulator.requests == []


async def test_a_model_spent_token_rests_for_that_model_until_midnight_in_shanghai(emulator):
    from datetime import datetime, timedelta, timezone

    emulator.script("quota")  # the model's 200 a day are used up
    async with gate(emulator, tokens=f"{VALID_TOKEN},valid-token-0002") as g:
        await g.agenerate("a cat", model="ms/flux-2")
        [spent] = [r for r in await g.akey_status("modelscope") if r.state == "cooling"]
    assert spent.model == "ms/black-forest-labs/FLUX.2-dev"
    back = datetime.fromtimestamp(spent.until, timezone(timedelta(hours=8)))
    assert (back.hour, back.minute) == (0, 0)
