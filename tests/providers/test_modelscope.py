"""The ModelScope plugin against the ModelScope emulator, through imagegate's public API."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import subprocess
import sys

import pytest
from PIL import Image

import imagegate
import imagegate_modelscope
from imagegate import errors
from imagegate_modelscope.schedule import DURATIONS, Schedule
from tests.emulators.control import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    QUOTA_TOKEN,
    RATE_LIMIT_TOKEN,
    VALID_TOKEN,
)

pytestmark = pytest.mark.anyio

MODELS = {
    "ms/z-image-turbo": "Tongyi-MAI/Z-Image-Turbo",
    "ms/qwen-image-2512": "Qwen/Qwen-Image-2512",
    "ms/flux-2": "black-forest-labs/FLUX.2-dev",
    "ms/flux-1-krea-dev": "black-forest-labs/FLUX.1-Krea-dev",
    "ms/flux-1": "MusePublic/489_ckpt_FLUX_1",
}
DEFAULT_STEPS = {
    "Tongyi-MAI/Z-Image-Turbo": 9,
    "Qwen/Qwen-Image-2512": 4,
    "black-forest-labs/FLUX.2-dev": 24,
    "black-forest-labs/FLUX.1-Krea-dev": 24,
    "MusePublic/489_ckpt_FLUX_1": 24,
}
GUIDED = {
    "black-forest-labs/FLUX.2-dev",
    "black-forest-labs/FLUX.1-Krea-dev",
    "MusePublic/489_ckpt_FLUX_1",
}


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


# -- the wire request -----------------------------------------------------------------------


@pytest.mark.parametrize("alias, model_id", MODELS.items())
async def test_wire_request_of_every_model_with_defaults(emulator, alias, model_id):
    async with gate(emulator) as g:
        result = await g.agenerate("a cute cat", model=alias, seed=7)
    assert result.model == f"ms/{model_id}"
    submit = submits(emulator)[0]
    expected = {
        "model": model_id,
        "prompt": "a cute cat",
        "size": "1024x1024",
        "seed": 7,
        "steps": DEFAULT_STEPS[model_id],
    }
    if model_id in GUIDED:
        expected["guidance"] = 3.5
    assert submit.json == expected
    assert submit.headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert submit.headers["x-modelscope-async-mode"] == "true"
    assert submit.headers["content-type"] == "application/json"
    task_id = result.images[0].metadata["task_id"]
    for poll in polls(emulator):
        assert poll.method == "GET" and poll.path == f"/v1/tasks/{task_id}"
        assert poll.headers["x-modelscope-task-type"] == "image_generation"
        assert poll.headers["authorization"] == f"Bearer {VALID_TOKEN}"


@pytest.mark.parametrize("model_id", MODELS.values())
async def test_every_model_gives_a_jpeg_of_the_requested_size(emulator, model_id):
    async with gate(emulator) as g:
        result = await g.agenerate(
            "a lighthouse", model=f"ms/{model_id}", size="768x512", response_format="b64_json"
        )
    image = result.images[0]
    decoded = Image.open(io.BytesIO(await image.aread()))
    assert (decoded.format, decoded.size) == ("JPEG", (768, 512))
    assert image.mime_type == "image/jpeg"
    assert image.url.startswith(emulator.root_url)
    assert image.seed == submits(emulator)[0].json["seed"]


async def test_caller_values_are_sent_and_guidance_is_named_guidance(emulator):
    async with gate(emulator) as g:
        await g.agenerate(
            "a cat",
            model="modelscope/flux-2",
            negative_prompt="blurry",
            size="1024x768",
            steps=30,
            guidance_scale=5,
            seed=123,
        )
    assert submits(emulator)[0].json == {
        "model": "black-forest-labs/FLUX.2-dev",
        "prompt": "a cat",
        "negative_prompt": "blurry",
        "size": "1024x768",
        "seed": 123,
        "steps": 30,
        "guidance": 5.0,
    }


async def test_guidance_is_dropped_with_a_warning_for_models_without_it(emulator):
    async with gate(emulator) as g:
        result = await g.agenerate("a cat", model="ms/z-image-turbo", guidance_scale=4)
    assert "guidance" not in submits(emulator)[0].json
    assert any("guidance_scale ignored" in w for w in result.warnings)


async def test_ms_prefixed_token_and_env_configuration(emulator, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_MODELSCOPE_BASE_URL", emulator.base_url)
    monkeypatch.setenv("IMAGEGATE_MODELSCOPE_TOKEN", f"ms:{VALID_TOKEN}")

    def blocking() -> imagegate.ImageResult:  # the sync API, from a thread without a loop
        with imagegate.Gate(plugins=[imagegate_modelscope]) as g:
            return g.generate("a cat", model="ms/flux-1")

    result = await asyncio.to_thread(blocking)
    assert result.provider == "modelscope"
    assert submits(emulator)[0].headers["authorization"] == f"Bearer {VALID_TOKEN}"


@pytest.mark.parametrize(
    "params, param",
    [
        ({"model": "ms/flux-2", "guidance_scale": 1.2}, "guidance_scale"),  # ModelScope: >= 1.5
        ({"model": "ms/flux-2", "guidance_scale": 11}, "guidance_scale"),  # spec: FLUX.2 1-10
        ({"model": "ms/flux-1", "size": "1280x720"}, "size"),  # FLUX: sides up to 1024
        ({"model": "ms/z-image-turbo", "size": "256x256"}, "size"),  # Z-Image: from 512
        ({"model": "ms/z-image-turbo", "steps": 21}, "steps"),
        ({"model": "ms/qwen-image-2512", "prompt": "x" * 2000}, "prompt"),
    ],
)
async def test_requests_modelscope_would_refuse_fail_before_any_call(emulator, params, param):
    params = {"prompt": "a cat", **params}
    async with gate(emulator) as g:
        with pytest.raises(errors.InvalidRequest) as caught:
            await g.agenerate(**params)
    assert caught.value.param == param
    assert emulator.requests == []


async def test_unknown_model_in_the_ms_namespace(emulator):
    async with gate(emulator) as g:
        with pytest.raises(errors.InvalidModel, match="ms/flux-2"):
            await g.agenerate("a cat", model="ms/flux-3")


# -- status words and progress --------------------------------------------------------------


async def test_progress_reports_each_status_change(emulator):
    emulator.control.task_seconds = 1.5
    seen = []
    async with gate(emulator) as g:
        await g.agenerate("a cat", model="ms/flux-2", progress=seen.append)
    stages = [(p.stage, p.status) for p in seen]
    assert stages == [
        ("submitted", None),
        ("queued", "PENDING"),
        ("running", "RUNNING"),
        ("done", "SUCCEED"),
    ]
    assert all(
        p.provider == "modelscope" and p.model == "ms/black-forest-labs/FLUX.2-dev" for p in seen
    )
    assert len(polls(emulator)) > len(stages) - 1  # RUNNING was polled more than once


@pytest.mark.parametrize(
    "words",
    [
        {"running": "PROCESSING", "succeeded": "SUCCEEDED"},
        {"pending": "QUEUING", "succeeded": "SUCCESS"},
        {"pending": "WARMING_UP", "running": "SOMETHING_NEW"},  # unknown words: still running
    ],
)
async def test_every_status_word_variant_is_understood(emulator, words):
    emulator.control.task_seconds = 0.9
    emulator.script("status_words", **words)
    seen = []
    async with gate(emulator) as g:
        result = await g.agenerate("a cat", model="ms/flux-1", progress=seen.append)
    reported = [p.status for p in seen if p.status]
    assert reported[-1] == words.get("succeeded", "SUCCEED")
    assert set(reported) <= {*words.values(), "PENDING", "RUNNING", "SUCCEED"}
    assert result.images[0].metadata["status"] == reported[-1]


# -- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize("word", ["FAILED", "ERROR", "CANCELED"])
async def test_failed_task_is_generation_failed_with_the_reason(emulator, word):
    emulator.script("task_failed", word=word, message="Output data may contain inappropriate")
    async with gate(emulator, retries=2) as g:
        with pytest.raises(errors.GenerationFailed) as caught:
            await g.agenerate("a cat", model="ms/z-image-turbo")
    assert "inappropriate" in caught.value.message and word in caught.value.message
    assert len(submits(emulator)) == 1  # not retried: the provider gave up


@pytest.mark.parametrize(
    "fault, params, error, text",
    [
        ("status", {"status": 403, "message": "Access denied"}, errors.PermissionDenied, "Alibaba"),
        ("status", {"status": 404, "message": "Model gone"}, errors.InvalidModel, "retired"),
        ("status", {"status": 400, "message": "Bad size"}, errors.InvalidRequest, "Bad size"),
        ("status", {"status": 500, "message": "boom"}, errors.ProviderError, "boom"),
        ("malformed_json", {}, errors.ProviderError, "not JSON"),
        ("missing_data", {}, errors.ProviderError, "task_id"),
        ("missing_data", {"on": "poll"}, errors.ProviderError, "output_images"),
        ("malformed_json", {"on": "poll", "times": 9}, errors.ProviderError, "not JSON"),
        ("status", {"on": "poll", "status": 404}, errors.ProviderError, "404"),
        ("quota", {}, errors.QuotaExceeded, "0 of 200 calls of this model"),
        (
            "quota",
            {"message": "Daily quota exceeded", "headers": False},
            errors.QuotaExceeded,
            "quota",
        ),
        ("rate_limit", {}, errors.RateLimited, "Request limit exceeded"),
    ],
)
async def test_every_fault_maps_to_its_error(emulator, fault, params, error, text):
    params = dict(params)
    emulator.script(fault, times=params.pop("times", 1), **params)
    async with gate(emulator) as g:
        with pytest.raises(error) as caught:
            await g.agenerate("a cat", model="ms/z-image-turbo")
    assert type(caught.value) is error
    assert text in caught.value.message and "ModelScope" in caught.value.message
    assert VALID_TOKEN not in caught.value.message and VALID_TOKEN not in repr(caught.value)


async def test_server_errors_are_retried_by_the_core(emulator):
    emulator.script("status", status=503, message="busy")
    async with gate(emulator, retries=1) as g:
        result = await g.agenerate("a cat", model="ms/z-image-turbo")
    assert len(result.images) == 1 and len(submits(emulator)) == 2


async def test_a_few_failed_polls_do_not_fail_the_task(emulator):
    emulator.script("status", on="poll", status=502, message="gateway")
    emulator.script("rate_limit", on="poll", retry_after=0.2)
    async with gate(emulator) as g:
        result = await g.agenerate("a cat", model="ms/z-image-turbo")
    assert len(result.images) == 1 and len(submits(emulator)) == 1


async def test_rate_limit_retry_after_is_honoured(emulator):
    emulator.script("rate_limit", retry_after=0.2)
    seen = []
    async with gate(emulator, retries=1) as g:
        await g.agenerate("a cat", model="ms/z-image-turbo", progress=seen.append)
    assert any(p.stage == "retrying" and "0.2s" in (p.message or "") for p in seen)


async def test_truncated_image_is_refused(emulator):
    emulator.script("truncated_image")
    async with gate(emulator) as g:
        with pytest.raises(errors.ProviderError, match="truncated"):
            await g.agenerate("a cat", model="ms/z-image-turbo", response_format="b64_json")


@pytest.mark.parametrize(
    "token, error",
    [
        (INVALID_TOKEN, errors.AuthInvalid),
        (EXPIRED_TOKEN, errors.AuthExpired),
    ],
)
async def test_bad_tokens(emulator, token, error):
    async with gate(emulator, tokens=token) as g:
        with pytest.raises(error) as caught:
            await g.agenerate("a cat", model="ms/flux-2")
    assert type(caught.value) is error
    assert token not in caught.value.message and "imagegate keys" not in caught.value.message
    assert "imagegate keys set modelscope" in caught.value.hint


async def test_no_token_is_auth_required_without_a_call(emulator):
    async with imagegate.Gate(
        plugins=[imagegate_modelscope], base_urls={"modelscope": emulator.base_url}
    ) as g:
        with pytest.raises(errors.AuthRequired, match="IMAGEGATE_MODELSCOPE_TOKEN"):
            await g.agenerate("a cat", model="ms/flux-2")
    assert emulator.requests == []


# -- token rotation -------------------------------------------------------------------------


async def test_quota_rotates_to_the_next_token_and_skips_the_spent_one_after(emulator):
    async with gate(emulator, tokens=f"{QUOTA_TOKEN},{VALID_TOKEN}") as g:
        await g.agenerate("a cat", model="ms/flux-2")
        used = [r.headers["authorization"] for r in submits(emulator)]
        assert used == [f"Bearer {QUOTA_TOKEN}", f"Bearer {VALID_TOKEN}"]
        await g.agenerate("a dog", model="ms/flux-2")
    assert submits(emulator)[-1].headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert len(submits(emulator)) == 3  # the spent token was not tried again


async def test_rate_limit_rotates_to_the_next_token(emulator):
    async with gate(emulator, tokens=f"{RATE_LIMIT_TOKEN},{VALID_TOKEN}") as g:
        result = await g.agenerate("a cat", model="ms/flux-2")
    assert len(result.images) == 1
    assert [r.headers["authorization"] for r in submits(emulator)] == [
        f"Bearer {RATE_LIMIT_TOKEN}",
        f"Bearer {VALID_TOKEN}",
    ]


async def test_every_token_spent_is_quota_exceeded_without_tokens_in_the_message(emulator):
    tokens = f"{QUOTA_TOKEN},quota-token-0002"
    async with gate(emulator, tokens=tokens) as g:
        with pytest.raises(errors.QuotaExceeded) as caught:
            await g.agenerate("a cat", model="ms/flux-2")
    for token in tokens.split(","):
        assert token not in str(caught.value) and token not in repr(caught.value)


# -- deadline and cancellation --------------------------------------------------------------


async def test_a_task_that_outlives_the_deadline_times_out_and_polling_stops(emulator):
    emulator.control.task_seconds = 30
    async with gate(emulator, timeout=0.8) as g:
        with pytest.raises(errors.Timeout) as caught:
            await g.agenerate("a cat", model="ms/flux-2")
    assert "ModelScope" in caught.value.message
    assert caught.value.status == 504
    count = len(emulator.requests)
    assert count >= 2  # it did poll before giving up
    await asyncio.sleep(1.2)
    assert len(emulator.requests) == count


async def test_per_call_timeout_also_stops_polling(emulator):
    emulator.control.task_seconds = 30
    async with gate(emulator) as g:
        with pytest.raises(errors.Timeout, match="ModelScope"):
            await g.agenerate("a cat", model="ms/z-image-turbo", timeout=0.5)
    count = len(emulator.requests)
    await asyncio.sleep(1.2)
    assert len(emulator.requests) == count


async def test_cancellation_stops_polling_at_once(emulator):
    emulator.control.task_seconds = 30
    polled = asyncio.Event()

    def progress(event):
        if event.stage in ("queued", "running"):
            polled.set()

    async with gate(emulator) as g:
        task = asyncio.create_task(g.agenerate("a cat", model="ms/flux-2", progress=progress))
        await asyncio.wait_for(polled.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        count = len(emulator.requests)
        await asyncio.sleep(1.5)
    assert len(emulator.requests) == count
    assert len(polls(emulator)) >= 1


# -- the schedule ---------------------------------------------------------------------------


def test_cold_schedule_starts_fast_and_backs_off_to_a_cap():
    schedule = Schedule()
    delays = [schedule.next_delay(0) for _ in range(8)]
    assert delays[0] == 0.25
    assert delays == sorted(delays) and max(delays) == 1.0


def test_warm_schedule_never_sleeps_past_the_expected_end_then_polls_closely():
    schedule = Schedule(expected=10.0)
    elapsed, times = 0.0, []
    while elapsed < 14:
        elapsed += schedule.next_delay(elapsed)
        times.append(round(elapsed, 3))
    assert 10.0 in times
    before = [t for t in times if t < 10]
    after = [t for t in times if t > 10]
    assert len(before) <= 5  # fewer polls than a cold schedule while the task surely runs
    assert after[0] - 10.0 == pytest.approx(1.0)  # then no closer than the 1 s floor
    gaps = [b - a for a, b in itertools.pairwise(times) if a >= 2]
    assert min(gaps) >= 1.0 - 1e-9


# -- installation ---------------------------------------------------------------------------


def test_with_only_this_plugin_installed_the_models_are_exactly_ours():
    code = "import imagegate, json; print(json.dumps([m.full_id for m in imagegate.list_models()]))"
    env = {**os.environ, "IMAGEGATE_LOAD_PLUGINS": "modelscope"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [f"ms/{model_id}" for model_id in MODELS.values()]


def test_provider_declaration():
    provider = imagegate_modelscope.PROVIDER
    assert (provider.id, provider.model_prefix, provider.auth_prefix) == ("modelscope", "ms", "ms")
    assert provider.auth == "required" and provider.image_format == "jpeg"
    assert provider.base_url == "https://api-inference.modelscope.cn/v1"
    assert provider.quota_reset == "00:00+08:00"
    assert provider.token_env == ("IMAGEGATE_MODELSCOPE_TOKEN",)


@pytest.mark.parametrize(
    "payload, reason",
    [
        ({"errors": {"message": "a"}, "error_message": "b", "message": "c"}, "a"),
        ({"error_message": "b", "message": "c"}, "b"),
        ({"message": "c", "error": "d"}, "c"),
        ({"error": {"message": "d"}}, "d"),
        ({"error": "e"}, "e"),
        ({}, None),
    ],
)
def test_failure_reason_is_read_from_every_known_field(payload, reason):
    from imagegate_modelscope import wire

    state = wire.task_state({"task_status": "FAILED", **payload}, "t1")
    assert (state.phase, state.reason) == ("failed", reason)
