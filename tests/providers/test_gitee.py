"""The Gitee AI plugin against the Gitee emulator, through imagegate's public API."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import pytest
from PIL import Image

import imagegate
import imagegate_gitee
from imagegate import errors
from imagegate_gitee.generation import forget_slow_models
from tests.emulators.control import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    QUOTA_TOKEN,
    RATE_LIMIT_TOKEN,
    VALID_TOKEN,
)

pytestmark = pytest.mark.anyio

# The spec's table: id -> (display name, negative prompt, steps (min, max, default),
# guidance (min, max, default) or None).
TABLE = {
    "z-image-turbo": ("Z-Image Turbo", True, (1, 20, 9), None),
    "GLM-Image": ("GLM Image", True, (1, 50, 30), (0, 20, 1.5)),
    "Qwen-Image": ("Qwen Image", True, (4, 50, 20), None),
    "Qwen-Image-2512": ("Qwen Image 2512", True, (1, 50, 4), (0, 20, 1)),
    "flux-1-schnell": ("FLUX.1 Schnell", False, (1, 50, 8), (0, 50, 7.5)),
    "FLUX_1-Krea-dev": ("FLUX.1 Krea", False, (1, 50, 20), (0, 20, 4.5)),
    "FLUX.1-dev": ("FLUX.1", False, (1, 50, 20), (0, 20, 4.5)),
}
GUIDANCE_NAME = {"Qwen-Image-2512": "cfg_scale"}  # every other model with guidance: guidance_scale


def new_gate(emulator, tokens: str | None = VALID_TOKEN, **options) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": emulator.base_url},
        tokens={"gitee": tokens} if tokens else None,
        use_stored_tokens=False,
        **options,
    )


@pytest.fixture(autouse=True)
def _fresh_plugin_state():
    forget_slow_models()
    yield
    forget_slow_models()


@pytest.fixture
async def gate(gitee_emulator) -> AsyncIterator[imagegate.Gate]:
    async with new_gate(gitee_emulator, retries=0) as gate:
        yield gate


@pytest.fixture
def task_mode(monkeypatch, gitee_emulator):
    monkeypatch.setenv("IMAGEGATE_GITEE_MODE", "async")
    gitee_emulator.control.task_seconds = 0.05
    return gitee_emulator


def paths(emulator) -> list[str]:
    return [f"{r.method} {r.path}" for r in emulator.requests]


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- the catalog -----------------------------------------------------------------------------


def test_the_seven_models_with_the_spec_capabilities():
    models = {m.id: m for m in imagegate.Gate(plugins=[imagegate_gitee]).list_models("gitee")}
    assert list(models) == list(TABLE)
    for model_id, (name, negative, steps, guidance) in TABLE.items():
        model = models[model_id]
        caps = model.capabilities
        assert model.display_name == name
        assert model.full_id == f"gitee/{model_id}"
        assert caps.negative_prompt is negative
        assert (caps.steps.min, caps.steps.max, caps.steps.default) == steps
        if guidance is None:
            assert caps.guidance is None
        else:
            assert (caps.guidance.min, caps.guidance.max, caps.guidance.default) == guidance
    provider = models["z-image-turbo"].provider
    assert (provider.id, provider.model_prefix, provider.auth_prefix) == ("gitee",) * 3
    assert (provider.auth, provider.image_format) == ("required", "png")
    assert provider.base_url == "https://ai.gitee.com/v1"
    assert provider.key_url == "https://ai.gitee.com"


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("gitee/qwen-image", "gitee/Qwen-Image"),
        ("gitee/flux-1-krea-dev", "gitee/FLUX_1-Krea-dev"),
        ("gitee/flux-1-dev", "gitee/FLUX.1-dev"),
        ("gitee/glm-image", "gitee/GLM-Image"),
        ("gitee/z-image-turbo", "gitee/z-image-turbo"),
    ],
)
def test_spec_aliases(typed, canonical):
    assert imagegate.Gate(plugins=[imagegate_gitee]).get_model(typed).full_id == canonical


def test_only_gitee_models_when_only_this_plugin_loads(tmp_path):
    script = (
        "import imagegate, json; print(json.dumps([m.full_id for m in imagegate.list_models()]))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    env.update(IMAGEGATE_LOAD_PLUGINS="gitee", IMAGEGATE_HOME=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [f"gitee/{model_id}" for model_id in TABLE]


# -- the wire request and the image, for every model -----------------------------------------


@pytest.mark.parametrize("model_id", list(TABLE))
async def test_wire_request_with_defaults_and_a_real_image(gate, gitee_emulator, model_id):
    _, negative, steps, guidance = TABLE[model_id]
    result = await gate.agenerate(
        "a cute cat",
        model=f"gitee/{model_id}",
        size="640x384",
        seed=1234,
        negative_prompt="blurry",
    )

    (sent,) = gitee_emulator.requests
    assert sent.path == "/v1/images/generations"
    assert sent.headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert sent.headers["content-type"] == "application/json"
    expected = {
        "model": model_id,
        "prompt": "a cute cat",
        "width": 640,
        "height": 384,
        "seed": 1234,
        "num_inference_steps": steps[2],
        "response_format": "url",
    }
    if negative:
        expected["negative_prompt"] = "blurry"
    if guidance is not None:
        expected[GUIDANCE_NAME.get(model_id, "guidance_scale")] = guidance[2]
    assert sent.json == expected
    if not negative:
        assert any("negative_prompt" in w for w in result.warnings)

    (image,) = result.images
    assert image.seed == 1234
    picture = decoded(await image.aread())
    assert (picture.format, picture.size) == ("PNG", (640, 384))
    assert result.model == f"gitee/{model_id}"


@pytest.mark.parametrize(
    ("model", "field"),
    [("gitee/Qwen-Image-2512", "cfg_scale"), ("gitee/GLM-Image", "guidance_scale")],
)
async def test_explicit_steps_and_guidance_use_the_model_field_name(
    gate, gitee_emulator, model, field
):
    await gate.agenerate("a cat", model=model, steps=12, guidance_scale=3.25)
    sent = gitee_emulator.requests[0].json
    assert (sent["num_inference_steps"], sent[field]) == (12, 3.25)
    other = "guidance_scale" if field == "cfg_scale" else "cfg_scale"
    assert other not in sent


async def test_guidance_for_a_model_without_it_is_dropped_with_a_warning(gate, gitee_emulator):
    result = await gate.agenerate("a cat", model="gitee/qwen-image", guidance_scale=2)
    sent = gitee_emulator.requests[0].json
    assert "cfg_scale" not in sent and "guidance_scale" not in sent
    assert any("guidance_scale" in w for w in result.warnings)


async def test_b64_json_is_asked_of_gitee_and_returned_as_bytes(gate, gitee_emulator):
    result = await gate.agenerate(
        "a cat", model="gitee/z-image-turbo", size="512x512", response_format="b64_json"
    )
    assert gitee_emulator.requests[0].json["response_format"] == "b64_json"
    (image,) = result.images
    assert image.url is None
    assert decoded(image.data).size == (512, 512)


async def test_n_fans_out_into_one_call_per_image(gate, gitee_emulator):
    result = await gate.agenerate("a cat", model="gitee/z-image-turbo", n=3, seed=10)
    assert len(result.images) == 3
    assert sorted(r.json["seed"] for r in gitee_emulator.requests) == [10, 11, 12]


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (INVALID_TOKEN, errors.AuthInvalid),
        (EXPIRED_TOKEN, errors.AuthExpired),
        (QUOTA_TOKEN, errors.QuotaExceeded),
        (RATE_LIMIT_TOKEN, errors.RateLimited),
    ],
)
async def test_token_answers_map_to_imagegate_errors(gitee_emulator, token, error):
    async with new_gate(gitee_emulator, tokens=token, retries=0) as gate:
        with pytest.raises(error) as raised:
            await gate.agenerate("a cat", model="gitee/z-image-turbo")
    assert type(raised.value) is error
    assert "Gitee AI" in str(raised.value)
    assert token not in str(raised.value) and token not in repr(raised.value)


async def test_no_token_is_auth_required_before_any_call(gitee_emulator):
    async with new_gate(gitee_emulator, tokens=None) as gate:
        with pytest.raises(errors.AuthRequired, match="IMAGEGATE_GITEE_TOKEN"):
            await gate.agenerate("a cat", model="gitee/z-image-turbo")
    assert gitee_emulator.requests == []


@pytest.mark.parametrize(
    ("fault", "params", "error", "words"),
    [
        (
            "status",
            {"status": 400, "message": "prompt rejected"},
            errors.InvalidRequest,
            "rejected",
        ),
        (
            "status",
            {"status": 400, "message": "bad size", "shape": "message"},
            errors.InvalidRequest,
            "bad size",
        ),
        (
            "status",
            {"status": 400, "message": "no", "shape": "error_message"},
            errors.InvalidRequest,
            "no",
        ),
        ("status", {"status": 418, "message": "teapot", "shape": "text"}, None, "teapot"),
        ("status", {"status": 401, "message": "Unauthorized"}, errors.AuthInvalid, "rejected"),
        (
            "status",
            {"status": 403, "message": "无权限访问该模型"},
            errors.PermissionDenied,
            "无权限访问该模型",
        ),
        ("status", {"status": 403, "message": "key expired"}, errors.AuthExpired, "expired"),
        ("status", {"status": 503, "message": "busy"}, errors.ProviderError, "busy"),
        ("quota", {}, errors.QuotaExceeded, "quota"),
        ("quota", {"balance": True}, errors.QuotaExceeded, "balance is insufficient"),
        ("quota", {"status": 429}, errors.QuotaExceeded, "quota"),
        ("rate_limit", {"retry_after": 7}, errors.RateLimited, "rate limit"),
        ("malformed_json", {}, errors.ProviderError, "not a JSON object"),
        ("missing_data", {}, errors.ProviderError, "without an image"),
    ],
)
async def test_scripted_faults_map_to_imagegate_errors(
    gate, gitee_emulator, fault, params, error, words
):
    gitee_emulator.script(fault, **params)
    with pytest.raises(error or errors.ProviderError) as raised:
        await gate.agenerate("a cat", model="gitee/z-image-turbo")
    if error is not None:
        assert type(raised.value) is error
    else:
        assert type(raised.value) is errors.ProviderError
        assert f"HTTP {params['status']}" in str(raised.value)
    assert "Gitee AI" in str(raised.value)
    assert words.lower() in str(raised.value).lower()
    if fault == "rate_limit":
        assert raised.value.retry_after == 7
    if fault == "status" and params["status"] >= 500:
        assert raised.value.transient


async def test_a_5xx_is_retried_by_the_core(gitee_emulator):
    gitee_emulator.script("status", status=502, message="bad gateway")
    async with new_gate(gitee_emulator, retries=1) as gate:
        result = await gate.agenerate("a cat", model="gitee/z-image-turbo", size="256x256")
    assert decoded(await result.images[0].aread()).size == (256, 256)
    assert len(gitee_emulator.requests) == 2


async def test_truncated_image_is_a_clear_error(gate, gitee_emulator):
    gitee_emulator.script("truncated_image")
    result = await gate.agenerate("a cat", model="gitee/z-image-turbo")
    with pytest.raises(errors.ProviderError, match="truncated"):
        await result.images[0].aread()
    gitee_emulator.script("truncated_image")
    with pytest.raises(errors.ProviderError, match="truncated"):
        await gate.agenerate("a cat", model="gitee/z-image-turbo", response_format="b64_json")


async def test_a_slow_answer_ends_at_the_deadline(gate, gitee_emulator):
    gitee_emulator.script("delay", seconds=3)
    with pytest.raises(errors.Timeout):
        await gate.agenerate("a cat", model="gitee/z-image-turbo", timeout=0.3)


async def test_a_token_echoed_by_the_service_never_reaches_the_caller(gitee_emulator):
    secret = "valid-SECRET-token-4242"
    gitee_emulator.script("status", status=400, message=f"bad request for key {secret}")
    async with new_gate(gitee_emulator, tokens=secret, retries=0) as gate:
        with pytest.raises(errors.InvalidRequest) as raised:
            await gate.agenerate("a cat", model="gitee/z-image-turbo")
    assert secret not in str(raised.value) and secret not in repr(raised.value)
    assert "bad request for key" in str(raised.value)


async def test_token_rotation_end_to_end(gitee_emulator):
    async with new_gate(gitee_emulator, tokens=f"{QUOTA_TOKEN},{VALID_TOKEN}") as gate:
        first = await gate.agenerate("a cat", model="gitee/z-image-turbo", size="256x256")
        used = [r.headers["authorization"] for r in gitee_emulator.requests]
        assert used == [f"Bearer {QUOTA_TOKEN}", f"Bearer {VALID_TOKEN}"]
        assert decoded(await first.images[0].aread()).size == (256, 256)

        gitee_emulator.requests.clear()
        await gate.agenerate("a dog", model="gitee/z-image-turbo")
        used = [r.headers["authorization"] for r in gitee_emulator.requests]
        assert used == [f"Bearer {VALID_TOKEN}"]  # the spent token is skipped


async def test_an_auth_prefixed_token_is_stripped(gitee_emulator):
    async with new_gate(gitee_emulator, tokens=f"gitee:{VALID_TOKEN}") as gate:
        await gate.agenerate("a cat", model="gitee/z-image-turbo")
    assert gitee_emulator.requests[0].headers["authorization"] == f"Bearer {VALID_TOKEN}"


# -- the asynchronous task API ---------------------------------------------------------------


@pytest.mark.parametrize("model_id", ["z-image-turbo", "Qwen-Image-2512", "FLUX.1-dev"])
async def test_task_mode_submits_polls_and_reports_progress(gate, task_mode, model_id):
    task_mode.control.task_seconds = 0.8  # long enough for a poll to see "running"
    events: list[imagegate.Progress] = []
    result = await gate.agenerate(
        "a cat", model=f"gitee/{model_id}", size="512x256", seed=5, progress=events.append
    )
    submit, *polls = task_mode.requests
    assert submit.path == "/v1/async/images/generations"
    assert submit.json["model"] == model_id
    assert submit.json["response_format"] == "url"
    assert submit.json["seed"] == 5
    expected_guidance = {"Qwen-Image-2512": "cfg_scale", "FLUX.1-dev": "guidance_scale"}
    if model_id in expected_guidance:
        assert expected_guidance[model_id] in submit.json
    task_id = result.images[0].metadata["task_id"]
    assert [p.path for p in polls] == [f"/api/v1/task/{task_id}"] * len(polls)
    assert all(p.headers["authorization"] == f"Bearer {VALID_TOKEN}" for p in polls)
    stages = [(e.stage, e.status) for e in events]
    assert stages[0] == ("submitted", "waiting")
    assert ("running", "running") in stages
    assert stages[-1] == ("done", "success")
    assert decoded(await result.images[0].aread()).size == (512, 256)


async def test_task_mode_b64_json_fetches_the_task_file(gate, task_mode):
    result = await gate.agenerate("a cat", model="gitee/GLM-Image", response_format="b64_json")
    assert decoded(result.images[0].data).format == "PNG"


@pytest.mark.parametrize(
    "params",
    [
        {"message": "NSFW content detected"},
        {"message": "NSFW content detected", "status": "failed", "in_output": True},
    ],
)
async def test_a_failed_task_is_generation_failed_with_the_reason(gate, task_mode, params):
    task_mode.script("task_failed", **params)
    with pytest.raises(errors.GenerationFailed, match="NSFW content detected") as raised:
        await gate.agenerate("a cat", model="gitee/z-image-turbo")
    assert "Gitee AI" in str(raised.value)
    assert not any(r.path.endswith("/cancel") for r in task_mode.requests)


async def test_the_old_poll_path_is_tolerated(gate, task_mode):
    task_mode.script("old_poll_path")
    result = await gate.agenerate("a cat", model="gitee/z-image-turbo", size="256x256")
    task_id = result.images[0].metadata["task_id"]
    assert f"GET /v1/task/{task_id}" in paths(task_mode)
    assert decoded(await result.images[0].aread()).size == (256, 256)


async def test_a_transient_poll_failure_does_not_lose_the_task(gate, task_mode):
    def on_progress(event: imagegate.Progress) -> None:
        if event.stage == "submitted":
            task_mode.script("status", status=503, message="busy")

    result = await gate.agenerate("a cat", model="gitee/z-image-turbo", progress=on_progress)
    assert result.images[0].url
    assert [p for p in paths(task_mode) if p.startswith("POST")] == [
        "POST /v1/async/images/generations"
    ]


@pytest.mark.parametrize(
    ("fault", "words"),
    [("malformed_json", "not a JSON object"), ("missing_data", "without an image")],
)
async def test_a_bad_poll_answer_is_a_clear_error(gate, task_mode, fault, words):
    def on_progress(event: imagegate.Progress) -> None:
        if event.stage == "submitted":
            task_mode.script(fault)

    with pytest.raises(errors.ProviderError, match=words):
        await gate.agenerate("a cat", model="gitee/z-image-turbo", progress=on_progress)


async def test_a_bad_submit_answer_is_a_clear_error(gate, task_mode):
    task_mode.script("missing_data")
    with pytest.raises(errors.ProviderError, match="task_id"):
        await gate.agenerate("a cat", model="gitee/z-image-turbo")


async def test_a_truncated_task_file_is_a_clear_error(gate, task_mode):
    task_mode.script("truncated_image")
    result = await gate.agenerate("a cat", model="gitee/z-image-turbo")
    with pytest.raises(errors.ProviderError, match="truncated"):
        await result.images[0].aread()


async def test_task_submit_errors_map_like_the_sync_ones(task_mode):
    async with new_gate(task_mode, tokens=QUOTA_TOKEN, retries=0) as gate:
        with pytest.raises(errors.QuotaExceeded):
            await gate.agenerate("a cat", model="gitee/z-image-turbo")


async def test_the_deadline_cancels_the_task(gate, task_mode):
    task_mode.control.task_seconds = 30
    with pytest.raises(errors.Timeout):
        await gate.agenerate("a cat", model="gitee/z-image-turbo", timeout=0.8)
    task_id = task_mode.requests[1].path.rsplit("/", 1)[-1]
    assert f"POST /api/v1/task/{task_id}/cancel" in paths(task_mode)


async def test_a_caller_who_cancels_cancels_the_task(gate, task_mode):
    task_mode.control.task_seconds = 30
    submitted = asyncio.Event()

    def on_progress(event: imagegate.Progress) -> None:
        if event.stage == "submitted":
            submitted.set()

    job = asyncio.ensure_future(
        gate.agenerate("a cat", model="gitee/z-image-turbo", progress=on_progress)
    )
    await submitted.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    assert any(p.endswith("/cancel") for p in paths(task_mode))


# -- choosing between the synchronous call and the task API ----------------------------------


async def test_a_gateway_timeout_sends_the_next_request_to_the_task_api(gate, gitee_emulator):
    gitee_emulator.control.task_seconds = 0.05
    gitee_emulator.script("status", status=504, message="Gateway Time-out", shape="text")
    with pytest.raises(errors.Timeout) as raised:
        await gate.agenerate("a cat", model="gitee/FLUX.1-dev")
    # no second paid job while the first may still finish
    assert paths(gitee_emulator) == ["POST /v1/images/generations"]
    message = raised.value.message
    assert "may still be made, and billed" in message and "did not submit it again" in message
    assert "next request goes to Gitee AI's task API" in message
    assert not raised.value.transient  # the core does not resubmit it either

    gitee_emulator.requests.clear()
    result = await gate.agenerate("a cat", model="gitee/FLUX.1-dev")
    assert paths(gitee_emulator)[0] == "POST /v1/async/images/generations"
    assert result.images[0].metadata["mode"] == "async"
    assert any("task API" in w and "504" in w for w in result.warnings)
    gitee_emulator.requests.clear()
    await gate.agenerate("a cat", model="gitee/z-image-turbo")  # other models stay sync
    assert paths(gitee_emulator) == ["POST /v1/images/generations"]


async def test_sync_mode_never_uses_the_task_api(gate, gitee_emulator, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_GITEE_MODE", "sync")
    gitee_emulator.script("status", status=504, message="Gateway Time-out")
    with pytest.raises(errors.Timeout, match="HTTP 504") as raised:
        await gate.agenerate("a cat", model="gitee/FLUX.1-dev")
    assert paths(gitee_emulator) == ["POST /v1/images/generations"]
    assert "IMAGEGATE_GITEE_MODE" not in raised.value.message
    assert "IMAGEGATE_GITEE_MODE" in raised.value.hint


async def test_an_unknown_mode_warns_and_uses_auto(gate, gitee_emulator, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_GITEE_MODE", "turbo")
    result = await gate.agenerate("a cat", model="gitee/z-image-turbo")
    assert any("IMAGEGATE_GITEE_MODE" in w for w in result.warnings)
    assert result.images[0].metadata["mode"] == "sync"


def test_blocking_generate_with_the_environment(gitee_emulator, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_GITEE_TOKEN", VALID_TOKEN)
    monkeypatch.setenv("IMAGEGATE_GITEE_BASE_URL", gitee_emulator.base_url)
    with imagegate.Gate(plugins=[imagegate_gitee]) as gate:
        result = gate.generate("a cat", model="gitee/z-image-turbo", size="384x256")
        assert decoded(result.images[0].read()).size == (384, 256)
