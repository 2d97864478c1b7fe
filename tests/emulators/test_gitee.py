"""The Gitee AI emulator against the protocol facts (protocols.md section 2), with plain httpx."""

from __future__ import annotations

import base64
import io
import time

import httpx
import pytest
from PIL import Image

from tests.emulators.control import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    QUOTA_TOKEN,
    RATE_LIMIT_TOKEN,
    VALID_TOKEN,
)
from tests.emulators.gitee import ASYNC_REFUSED, QUOTA_VARIANTS

AUTH = {"Authorization": f"Bearer {VALID_TOKEN}"}


def body(**overrides):
    base = {
        "model": "z-image-turbo",
        "prompt": "a cute cat",
        "width": 512,
        "height": 384,
        "seed": 42,
        "num_inference_steps": 9,
        "response_format": "url",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def post(emulator, path="/images/generations", json=None, headers=AUTH):
    return httpx.post(emulator.base_url + path, json=json, headers=headers, timeout=10)


def image_of(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_sync_url_answer_serves_a_png_of_the_requested_size(gitee_emulator):
    answer = post(gitee_emulator, json=body())
    assert answer.status_code == 200
    url = answer.json()["data"][0]["url"]
    image = image_of(httpx.get(url).content)
    assert (image.format, image.size) == ("PNG", (512, 384))
    recorded = gitee_emulator.requests[0]
    assert recorded.path == "/v1/images/generations"
    assert recorded.headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert recorded.json["num_inference_steps"] == 9


def test_sync_b64_answer_and_same_seed_same_pixels(gitee_emulator):
    first = post(gitee_emulator, json=body(response_format="b64_json")).json()
    second = post(gitee_emulator, json=body(response_format="b64_json")).json()
    data = base64.b64decode(first["data"][0]["b64_json"])
    assert image_of(data).size == (512, 384)
    assert first["data"][0]["b64_json"] == second["data"][0]["b64_json"]
    other = post(gitee_emulator, json=body(response_format="b64_json", seed=43)).json()
    assert other["data"][0]["b64_json"] != first["data"][0]["b64_json"]


def test_size_is_accepted_instead_of_width_and_height(gitee_emulator):
    answer = post(gitee_emulator, json=body(width=None, height=None, size="768x512"))
    url = answer.json()["data"][0]["url"]
    assert image_of(httpx.get(url).content).size == (768, 512)


def test_missing_dimensions_and_unknown_model_are_400s(gitee_emulator):
    assert post(gitee_emulator, json=body(width=None, height=None)).status_code == 400
    answer = post(gitee_emulator, json=body(model="no-such-model"))
    assert answer.status_code == 400
    assert "no-such-model" in answer.json()["error"]["message"]


@pytest.mark.parametrize("model", ["flux-1-schnell", "FLUX_1-Krea-dev", "FLUX.1-dev"])
def test_flux_models_reject_a_negative_prompt(gitee_emulator, model):
    answer = post(gitee_emulator, json=body(model=model, negative_prompt="blurry"))
    assert answer.status_code == 400
    assert "negative_prompt" in answer.json()["error"]["message"]
    assert post(gitee_emulator, json=body(model=model, guidance_scale=4.5)).status_code == 200


@pytest.mark.parametrize("model", ["Qwen-Image", "Qwen-Image-2512"])
def test_qwen_models_take_cfg_scale_and_reject_guidance_scale(gitee_emulator, model):
    ok = post(gitee_emulator, json=body(model=model, num_inference_steps=4, cfg_scale=1))
    assert ok.status_code == 200
    wrong = post(gitee_emulator, json=body(model=model, num_inference_steps=4, guidance_scale=1))
    assert wrong.status_code == 400
    assert "cfg_scale" in wrong.json()["error"]["message"]


def test_other_models_reject_cfg_scale(gitee_emulator):
    answer = post(gitee_emulator, json=body(model="GLM-Image", cfg_scale=1.5))
    assert answer.status_code == 400
    assert "guidance_scale" in answer.json()["error"]["message"]
    ok = post(gitee_emulator, json=body(model="GLM-Image", negative_prompt="x", guidance_scale=1.5))
    assert ok.status_code == 200


def test_steps_outside_the_model_range_are_rejected(gitee_emulator):
    assert post(gitee_emulator, json=body(num_inference_steps=21)).status_code == 400
    answer = post(gitee_emulator, json=body(model="Qwen-Image", num_inference_steps=3))
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("token", "status", "words"),
    [
        (None, 401, "unauthorized"),
        (INVALID_TOKEN, 401, "invalid api key"),
        (EXPIRED_TOKEN, 401, "expired"),
        (QUOTA_TOKEN, 402, "quota"),
        (RATE_LIMIT_TOKEN, 429, "rate limit"),
    ],
)
def test_token_conventions(gitee_emulator, token, status, words):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = post(gitee_emulator, json=body(), headers=headers)
    assert answer.status_code == status
    assert words in answer.json()["error"]["message"].lower()


def test_rate_limit_answer_carries_retry_after(gitee_emulator):
    gitee_emulator.script("rate_limit", retry_after=7)
    answer = post(gitee_emulator, json=body())
    assert (answer.status_code, answer.headers["retry-after"]) == (429, "7")
    assert post(gitee_emulator, json=body()).status_code == 200


@pytest.mark.parametrize(
    ("shape", "read"),
    [
        ("error", lambda r: r.json()["error"]["message"]),
        ("message", lambda r: r.json()["message"]),
        ("error_message", lambda r: r.json()["error_message"]),
        ("text", lambda r: r.text),
    ],
)
def test_scripted_status_in_each_error_shape(gitee_emulator, shape, read):
    gitee_emulator.script("status", status=503, message="busy", shape=shape)
    answer = post(gitee_emulator, json=body())
    assert answer.status_code == 503
    assert read(answer) == "busy"


def test_quota_answers(gitee_emulator):
    gitee_emulator.script("quota")
    gitee_emulator.script("quota", balance=True)
    first, second = post(gitee_emulator, json=body()), post(gitee_emulator, json=body())
    assert first.status_code == 402 and "quota" in first.json()["error"]["message"]
    assert second.status_code == 403
    assert second.json() == {
        "code": 30001,
        "message": "Sorry, your account balance is insufficient",
        "data": None,
    }


def test_malformed_missing_and_truncated(gitee_emulator):
    gitee_emulator.script("malformed_json")
    answer = post(gitee_emulator, json=body())
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()
    gitee_emulator.script("missing_data")
    assert "data" not in post(gitee_emulator, json=body()).json()
    gitee_emulator.script("truncated_image")
    url = post(gitee_emulator, json=body()).json()["data"][0]["url"]
    with pytest.raises(OSError):
        image_of(httpx.get(url).content)


def test_delay_holds_the_answer(gitee_emulator):
    gitee_emulator.script("delay", seconds=0.2)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            gitee_emulator.base_url + "/images/generations", json=body(), headers=AUTH, timeout=0.05
        )


# -- asynchronous task API -----------------------------------------------------------------


def poll_until_done(url, seen=None):
    for _ in range(200):
        answer = httpx.get(url, headers=AUTH)
        assert answer.status_code == 200
        task = answer.json()
        if seen is not None:
            seen.append(task["status"])
        if task["status"] not in ("waiting", "running"):
            return task
        time.sleep(0.02)
    raise AssertionError("task never finished")


def test_async_task_moves_waiting_running_success(gitee_emulator):
    gitee_emulator.control.task_seconds = 0.3
    submitted = post(gitee_emulator, "/async/images/generations", json=body()).json()
    assert submitted["status"] == "waiting"
    assert len(submitted["task_id"]) == 32 and submitted["task_id"].isupper()
    assert submitted["urls"]["get"].endswith(f"/api/v1/task/{submitted['task_id']}")
    seen: list[str] = []
    task = poll_until_done(submitted["urls"]["get"], seen)
    assert task["status"] == "success"
    assert "running" in seen
    image = image_of(httpx.get(task["output"]["file_url"]).content)
    assert image.size == (512, 384)


def test_async_task_is_served_at_both_poll_paths(gitee_emulator):
    gitee_emulator.control.task_seconds = 0.0
    task_id = post(gitee_emulator, "/async/images/generations", json=body()).json()["task_id"]
    for path in (f"/api/v1/task/{task_id}", f"/v1/task/{task_id}"):
        answer = httpx.get(gitee_emulator.root_url + path, headers=AUTH)
        assert answer.json()["status"] == "success"
    assert httpx.get(gitee_emulator.root_url + f"/api/v1/task/{task_id}").status_code == 401
    assert httpx.get(gitee_emulator.root_url + "/api/v1/task/NOPE", headers=AUTH).status_code == 404


def test_async_submit_checks_like_the_sync_endpoint(gitee_emulator):
    answer = post(
        gitee_emulator,
        "/async/images/generations",
        json=body(model="FLUX.1-dev", negative_prompt="x"),
    )
    assert answer.status_code == 400
    headers = {"Authorization": f"Bearer {INVALID_TOKEN}"}
    assert (
        post(gitee_emulator, "/async/images/generations", json=body(), headers=headers).status_code
        == 401
    )


@pytest.mark.parametrize(
    ("params", "status", "where"),
    [
        ({"message": "NSFW content detected"}, "failure", "message"),
        (
            {"message": "NSFW content detected", "status": "failed", "in_output": True},
            "failed",
            "output",
        ),
    ],
)
def test_async_task_failure(gitee_emulator, params, status, where):
    gitee_emulator.control.task_seconds = 0.05
    gitee_emulator.script("task_failed", **params)
    submitted = post(gitee_emulator, "/async/images/generations", json=body()).json()
    task = poll_until_done(submitted["urls"]["get"])
    assert task["status"] == status
    reason = task["message"] if where == "message" else task["output"]["error"]
    assert reason == "NSFW content detected"


def test_async_cancel(gitee_emulator):
    gitee_emulator.control.task_seconds = 30
    submitted = post(gitee_emulator, "/async/images/generations", json=body()).json()
    cancelled = httpx.post(submitted["urls"]["cancel"], headers=AUTH)
    assert cancelled.json()["status"] == "cancelled"
    assert httpx.get(submitted["urls"]["get"], headers=AUTH).json()["status"] == "cancelled"


def test_old_poll_path_fault(gitee_emulator):
    gitee_emulator.control.task_seconds = 0.0
    gitee_emulator.script("old_poll_path")
    submitted = post(gitee_emulator, "/async/images/generations", json=body()).json()
    assert "urls" not in submitted
    task_id = submitted["task_id"]
    assert (
        httpx.get(gitee_emulator.root_url + f"/api/v1/task/{task_id}", headers=AUTH).status_code
        == 404
    )
    assert (
        httpx.get(gitee_emulator.base_url + f"/task/{task_id}", headers=AUTH).json()["status"]
        == "success"
    )


def test_async_missing_output_and_truncated_file(gitee_emulator):
    gitee_emulator.control.task_seconds = 0.0
    task_id = post(gitee_emulator, "/async/images/generations", json=body()).json()["task_id"]
    gitee_emulator.script("missing_data")
    task = httpx.get(gitee_emulator.base_url + f"/task/{task_id}", headers=AUTH).json()
    assert (task["status"], task["output"]) == ("success", None)
    gitee_emulator.script("truncated_image")
    task_id = post(gitee_emulator, "/async/images/generations", json=body()).json()["task_id"]
    task = httpx.get(gitee_emulator.base_url + f"/task/{task_id}", headers=AUTH).json()
    with pytest.raises(OSError):
        image_of(httpx.get(task["output"]["file_url"]).content)


def test_control_api_over_http(gitee_emulator):
    root = gitee_emulator.root_url
    httpx.post(root + "/_control/script", json={"kind": "status", "params": {"status": 500}})
    assert post(gitee_emulator, json=body()).status_code == 500
    log = httpx.get(root + "/_control/requests").json()
    assert log[-1]["json"]["model"] == "z-image-turbo"


@pytest.mark.parametrize("variant", sorted(QUOTA_VARIANTS))
def test_quota_answers_in_chinese(gitee_emulator, variant):
    status, message = QUOTA_VARIANTS[variant]
    gitee_emulator.script("quota", variant=variant)
    answer = post(gitee_emulator, json=body())
    assert answer.status_code == status and answer.json() == {"message": message}
    assert post(gitee_emulator, json=body()).status_code == 200


def test_the_task_api_refuses_some_models_and_scripted_ones(gitee_emulator):
    for model in sorted(ASYNC_REFUSED):
        answer = post(gitee_emulator, "/async/images/generations", json=body(model=model))
        assert answer.status_code == 400 and "异步" in answer.json()["error"]["message"]
        assert post(gitee_emulator, json=body(model=model)).status_code == 200  # sync works
    gitee_emulator.script("async_refused")
    assert post(gitee_emulator, "/async/images/generations", json=body()).status_code == 400
    assert post(gitee_emulator, "/async/images/generations", json=body()).status_code == 200
