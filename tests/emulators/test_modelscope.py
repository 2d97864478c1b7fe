"""The ModelScope emulator against the protocol notes (protocols.md section 3), with plain httpx."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from PIL import Image

from tests.emulators.control import INVALID_TOKEN, QUOTA_TOKEN, RATE_LIMIT_TOKEN, VALID_TOKEN

SUBMIT_HEADERS = {
    "Authorization": f"Bearer {VALID_TOKEN}",
    "X-ModelScope-Async-Mode": "true",
}
POLL_HEADERS = {
    "Authorization": f"Bearer {VALID_TOKEN}",
    "X-ModelScope-Task-Type": "image_generation",
}
BODY = {
    "model": "Tongyi-MAI/Z-Image-Turbo",
    "prompt": "a cute cat",
    "size": "512x768",
    "seed": 42,
    "steps": 9,
}


def submit(emulator, body=None, headers=None) -> httpx.Response:
    return httpx.post(
        f"{emulator.base_url}/images/generations",
        json=BODY if body is None else body,
        headers=SUBMIT_HEADERS if headers is None else headers,
    )


def poll(emulator, task_id: str, headers=None) -> httpx.Response:
    return httpx.get(
        f"{emulator.base_url}/tasks/{task_id}",
        headers=POLL_HEADERS if headers is None else headers,
    )


def wait_done(emulator, task_id: str) -> tuple[list[str], dict]:
    """Poll until the task leaves PENDING/RUNNING; returns the words seen and the last body."""
    seen: list[str] = []
    for _ in range(400):
        body = poll(emulator, task_id).json()
        if not seen or seen[-1] != body["task_status"]:
            seen.append(body["task_status"])
        if body["task_status"] not in {"PENDING", "RUNNING", "PROCESSING"}:
            return seen, body
        time.sleep(0.01)
    raise AssertionError(f"task never finished: {seen}")


def test_task_moves_pending_running_succeed_and_serves_a_jpeg(modelscope_emulator):
    # each status word lasts at least 0.5 s, so a poll sees it even on a busy machine
    modelscope_emulator.control.task_seconds = 1.5
    answer = submit(modelscope_emulator)
    assert answer.status_code == 200
    task_id = answer.json()["task_id"]
    assert answer.json()["request_id"]
    seen, body = wait_done(modelscope_emulator, task_id)
    assert seen == ["PENDING", "RUNNING", "SUCCEED"]
    assert body["task_id"] == task_id
    image = httpx.get(body["output_images"][0])
    assert image.status_code == 200
    decoded = Image.open(io.BytesIO(image.content))
    assert (decoded.format, decoded.size) == ("JPEG", (512, 768))
    assert image.headers["content-type"] == "image/jpeg"
    assert "." not in body["output_images"][0].rsplit("/", 1)[-1]  # no extension to go by


def test_same_prompt_and_seed_give_the_same_pixels(modelscope_emulator):
    modelscope_emulator.control.task_seconds = 0
    urls = []
    for _ in range(2):
        task_id = submit(modelscope_emulator).json()["task_id"]
        urls.append(wait_done(modelscope_emulator, task_id)[1]["output_images"][0])
    assert httpx.get(urls[0]).content == httpx.get(urls[1]).content


def test_running_answer_has_the_documented_fields(modelscope_emulator):
    modelscope_emulator.control.task_seconds = 30
    task_id = submit(modelscope_emulator).json()["task_id"]
    body = poll(modelscope_emulator, task_id).json()
    assert body["task_status"] == "PENDING"
    assert body["task_id"] == task_id and body["request_id"] and body["outputs"] == {}


def test_submit_without_async_header_fails(modelscope_emulator):
    answer = submit(modelscope_emulator, headers={"Authorization": f"Bearer {VALID_TOKEN}"})
    assert answer.status_code == 400
    assert "X-ModelScope-Async-Mode" in answer.json()["errors"]["message"]


def test_poll_without_task_type_header_fails(modelscope_emulator):
    task_id = submit(modelscope_emulator).json()["task_id"]
    answer = poll(modelscope_emulator, task_id, headers={"Authorization": f"Bearer {VALID_TOKEN}"})
    assert answer.status_code == 400
    assert "X-ModelScope-Task-Type" in answer.json()["errors"]["message"]


def test_requests_are_recorded_with_headers_and_body(modelscope_emulator):
    task_id = submit(modelscope_emulator).json()["task_id"]
    poll(modelscope_emulator, task_id)
    first, second = modelscope_emulator.requests
    assert (first.method, first.path, first.json) == ("POST", "/v1/images/generations", BODY)
    assert first.headers["x-modelscope-async-mode"] == "true"
    assert (second.method, second.path) == ("GET", f"/v1/tasks/{task_id}")
    assert second.headers["x-modelscope-task-type"] == "image_generation"


@pytest.mark.parametrize(
    "token, status, text",
    [
        (None, 401, "Authenticaton failed"),
        (INVALID_TOKEN, 401, "Authenticaton failed"),
        ("expired-token-0001", 401, "expired"),
        (QUOTA_TOKEN, 429, "Request limit exceeded."),
        (RATE_LIMIT_TOKEN, 429, "Request limit exceeded."),
    ],
)
def test_token_conventions_answer_in_modelscope_error_shape(
    modelscope_emulator, token, status, text
):
    headers = {"X-ModelScope-Async-Mode": "true"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    answer = submit(modelscope_emulator, headers=headers)
    assert answer.status_code == status
    body = answer.json()
    assert text in body["errors"]["message"] and body["request_id"]


def test_quota_token_shows_the_model_limit_spent(modelscope_emulator):
    headers = {**SUBMIT_HEADERS, "Authorization": f"Bearer {QUOTA_TOKEN}"}
    answer = submit(modelscope_emulator, headers=headers)
    assert answer.headers["modelscope-ratelimit-model-requests-remaining"] == "0"
    assert answer.headers["modelscope-ratelimit-model-requests-limit"] == "200"
    rate = submit(
        modelscope_emulator, headers={**headers, "Authorization": f"Bearer {RATE_LIMIT_TOKEN}"}
    )
    assert int(rate.headers["modelscope-ratelimit-model-requests-remaining"]) > 0


def test_successful_submits_count_down_the_ratelimit_headers(modelscope_emulator):
    first = submit(modelscope_emulator)
    second = submit(modelscope_emulator)
    assert first.headers["modelscope-ratelimit-requests-limit"] == "2000"
    assert first.headers["modelscope-ratelimit-model-requests-remaining"] == "199"
    assert second.headers["modelscope-ratelimit-model-requests-remaining"] == "198"
    assert second.headers["modelscope-ratelimit-requests-remaining"] == "1998"


@pytest.mark.parametrize(
    "change, status",
    [
        ({"model": "nobody/no-model"}, 404),
        ({"prompt": "   "}, 400),
        ({"size": "1024*1024"}, 400),
        ({"size": "256x256"}, 400),  # Z-Image-Turbo starts at 512
        ({"model": "black-forest-labs/FLUX.2-dev", "size": "1280x720"}, 400),  # FLUX max 1024
        ({"steps": 0}, 400),
        ({"steps": 101}, 400),
        ({"seed": -1}, 400),
        ({"seed": 2**31}, 400),
        ({"guidance": 1.0}, 400),
        ({"guidance": 21}, 400),
    ],
)
def test_invalid_requests_are_rejected(modelscope_emulator, change, status):
    answer = submit(modelscope_emulator, body={**BODY, **change})
    assert answer.status_code == status
    assert answer.json()["errors"]["message"]


def test_flux_accepts_guidance_and_negative_prompt(modelscope_emulator):
    body = {
        **BODY,
        "model": "black-forest-labs/FLUX.2-dev",
        "size": "1024x1024",
        "guidance": 3.5,
        "negative_prompt": "blurry",
    }
    assert submit(modelscope_emulator, body=body).status_code == 200


def test_unknown_task_is_404(modelscope_emulator):
    answer = poll(modelscope_emulator, "no-such-task")
    assert answer.status_code == 404
    assert "not found" in answer.json()["errors"]["message"]


def test_task_failed_reports_errors_message_and_error_message(modelscope_emulator):
    modelscope_emulator.control.task_seconds = 0.05
    modelscope_emulator.script("task_failed", message="inappropriate content")
    task_id = submit(modelscope_emulator).json()["task_id"]
    seen, body = wait_done(modelscope_emulator, task_id)
    assert seen[-1] == "FAILED"
    assert body["errors"] == {"code": 422, "message": "inappropriate content"}
    assert body["error_message"] == "inappropriate content"
    assert "output_images" not in body


@pytest.mark.parametrize(
    "words, expected",
    [
        (
            {"running": "PROCESSING", "succeeded": "SUCCEEDED"},
            ["PENDING", "PROCESSING", "SUCCEEDED"],
        ),
        ({"pending": "QUEUING", "succeeded": "SUCCESS"}, ["QUEUING", "RUNNING", "SUCCESS"]),
    ],
)
def test_status_words_can_be_the_variants(modelscope_emulator, words, expected):
    modelscope_emulator.control.task_seconds = 1.5  # each word lasts long enough on a busy machine
    modelscope_emulator.script("status_words", **words)
    task_id = submit(modelscope_emulator).json()["task_id"]
    seen: list[str] = []
    for _ in range(400):
        word = poll(modelscope_emulator, task_id).json()["task_status"]
        if not seen or seen[-1] != word:
            seen.append(word)
        if word == expected[-1]:
            break
        time.sleep(0.01)
    assert seen == expected


@pytest.mark.parametrize("word", ["ERROR", "CANCELED"])
def test_failed_word_variants(modelscope_emulator, word):
    modelscope_emulator.control.task_seconds = 0
    modelscope_emulator.script("task_failed", word=word)
    task_id = submit(modelscope_emulator).json()["task_id"]
    body = poll(modelscope_emulator, task_id).json()
    assert body["task_status"] == word
    assert body["errors"]["message"] == body["error_message"]


@pytest.mark.parametrize("status", [403, 404, 500, 503])
def test_scripted_status_on_submit(modelscope_emulator, status):
    modelscope_emulator.script("status", status=status, message="scripted")
    answer = submit(modelscope_emulator)
    assert answer.status_code == status
    assert answer.json()["errors"]["message"] == "scripted"
    assert submit(modelscope_emulator).status_code == 200  # only once


def test_scripted_quota_and_rate_limit(modelscope_emulator):
    modelscope_emulator.script("quota")
    modelscope_emulator.script("rate_limit", retry_after=2)
    modelscope_emulator.script("quota", message="Daily quota exceeded", headers=False)
    quota = submit(modelscope_emulator)
    assert quota.status_code == 429
    assert quota.headers["modelscope-ratelimit-model-requests-remaining"] == "0"
    rate = submit(modelscope_emulator)
    assert rate.status_code == 429 and rate.headers["retry-after"] == "2"
    assert rate.headers["modelscope-ratelimit-model-requests-remaining"] != "0"
    plain = submit(modelscope_emulator)
    assert plain.json()["errors"]["message"] == "Daily quota exceeded"
    assert "modelscope-ratelimit-model-requests-remaining" not in plain.headers


def test_malformed_and_missing_data_on_submit(modelscope_emulator):
    modelscope_emulator.script("malformed_json")
    modelscope_emulator.script("missing_data")
    broken = submit(modelscope_emulator)
    assert broken.status_code == 200
    with pytest.raises(ValueError):
        broken.json()
    missing = submit(modelscope_emulator)
    assert missing.status_code == 200 and "task_id" not in missing.json()


def test_a_poll_can_be_rate_limited_with_or_without_headers(modelscope_emulator):
    modelscope_emulator.control.task_seconds = 0
    modelscope_emulator.script("rate_limit", on="poll", retry_after=3)
    modelscope_emulator.script("rate_limit", on="poll", headers=False)
    task_id = submit(modelscope_emulator).json()["task_id"]
    limited = poll(modelscope_emulator, task_id)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert "modelscope-ratelimit-requests-remaining" in limited.headers
    bare = poll(modelscope_emulator, task_id)
    assert bare.status_code == 429 and "retry-after" not in bare.headers
    assert not any(h.startswith("modelscope-ratelimit") for h in bare.headers)
    assert poll(modelscope_emulator, task_id).json()["task_status"] == "SUCCEED"


def test_poll_faults_are_taken_by_the_poll(modelscope_emulator):
    modelscope_emulator.control.task_seconds = 0
    modelscope_emulator.script("status", on="poll", status=500, message="poll broke")
    modelscope_emulator.script("malformed_json", on="poll")
    modelscope_emulator.script("missing_data", on="poll")
    task_id = submit(modelscope_emulator).json()["task_id"]  # not taken by the submit
    assert poll(modelscope_emulator, task_id).status_code == 500
    with pytest.raises(ValueError):
        poll(modelscope_emulator, task_id).json()
    body = poll(modelscope_emulator, task_id).json()
    assert body["task_status"] == "SUCCEED" and "output_images" not in body
    assert "output_images" in poll(modelscope_emulator, task_id).json()


def test_truncated_image(modelscope_emulator):
    modelscope_emulator.control.task_seconds = 0
    task_id = submit(modelscope_emulator).json()["task_id"]
    url = poll(modelscope_emulator, task_id).json()["output_images"][0]
    whole = httpx.get(url).content
    modelscope_emulator.script("truncated_image")
    assert httpx.get(url).content == whole[: len(whole) // 2]


def test_delay_fault_and_control_api(modelscope_emulator):
    root = modelscope_emulator.root_url
    httpx.post(f"{root}/_control/settings", json={"task_seconds": 0})
    httpx.post(f"{root}/_control/script", json={"kind": "delay", "params": {"seconds": 0.05}})
    task_id = submit(modelscope_emulator).json()["task_id"]
    assert poll(modelscope_emulator, task_id).json()["task_status"] == "SUCCEED"
    logged = httpx.get(f"{root}/_control/requests").json()
    assert [entry["method"] for entry in logged] == ["POST", "GET"]
