"""Async jobs (`Prefer: respond-async`) over a real socket, with the official `openai` SDK."""

from __future__ import annotations

import base64
import json
import time

import httpx
import openai
import pytest

import imagegate
import imagegate_gitee
from imagegate import errors
from tests.fakes import FakePlugin, png_bytes

ASYNC = {"Prefer": "respond-async"}


def sdk(base_url: str, api_key: str = "fk:caller-token-1") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=30)


def submit(client: openai.OpenAI, **params) -> tuple[int, dict, httpx.Headers]:
    params.setdefault("model", "fake/basic")
    params.setdefault("prompt", "a cute cat")
    raw = client.images.with_raw_response.generate(**params, extra_headers=ASYNC)
    return raw.status_code, json.loads(raw.content), raw.headers


def job(client: openai.OpenAI, job_id: str) -> dict:
    return client.get(f"/images/jobs/{job_id}", cast_to=object)


def wait_for(client: openai.OpenAI, job_id: str, *, until=("succeeded", "failed", "cancelled")):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = job(client, job_id)
        if found["status"] in until:
            return found
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {found['status']}")


@pytest.fixture
def fake() -> FakePlugin:
    return FakePlugin(delay=0.2)


@pytest.fixture
def base_url(live_server, fake) -> str:
    return live_server(imagegate.Gate(plugins=[fake], use_stored_tokens=False, retries=0))


def test_a_job_is_accepted_and_polled_to_succeeded_with_n_2(base_url, fake):
    client = sdk(base_url)
    status, accepted, headers = submit(
        client, n=2, response_format="b64_json", extra_body={"seed": 3}
    )
    assert status == 202
    assert headers["location"] == f"/v1/images/jobs/{accepted['id']}"
    assert accepted["object"] == "image.generation.job"
    assert accepted["status"] in ("queued", "running")
    assert isinstance(accepted["created_at"], int)
    assert accepted["id"].startswith("imgjob_") and len(accepted["id"]) > 30

    done = wait_for(client, accepted["id"])
    assert done["status"] == "succeeded", done
    assert done["error"] is None and done["finished_at"] >= done["created_at"]
    result = done["result"]
    assert [base64.b64decode(item["b64_json"]) for item in result["data"]] == [
        png_bytes(8, 8, 3),
        png_bytes(8, 8, 4),
    ]
    assert result["model"] == "fake/basic" and result["provider"] == "fake"
    assert len(fake.calls) == 2  # one per image, each once


def test_the_result_is_the_body_a_synchronous_call_returns(base_url):
    client = sdk(base_url)
    sync = client.images.with_raw_response.generate(
        model="fake/basic", prompt="a cat", response_format="b64_json", extra_body={"seed": 9}
    )
    _, accepted, _ = submit(
        client, prompt="a cat", response_format="b64_json", extra_body={"seed": 9}
    )
    result = wait_for(client, accepted["id"])["result"]
    expected = json.loads(sync.content)
    assert {k: v for k, v in result.items() if k != "created"} == {
        k: v for k, v in expected.items() if k != "created"
    }


def test_a_failed_job_carries_the_error_a_synchronous_call_gives(base_url, fake):
    fake.failures.append(errors.GenerationFailed("the provider refused the prompt"))
    client = sdk(base_url)
    _, accepted, _ = submit(client)
    done = wait_for(client, accepted["id"])
    assert done["status"] == "failed" and done["result"] is None
    assert done["error"] == {
        "message": "the provider refused the prompt",
        "type": "server_error",
        "param": None,
        "code": "GENERATION_FAILED",
    }


def test_bad_input_is_refused_before_a_job_exists(base_url, fake):
    client = sdk(base_url)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(
            model="fake/basic", prompt="a cat", size="10x10", extra_headers=ASYNC
        )
    assert caught.value.body["param"] == "size"
    with pytest.raises(openai.NotFoundError):
        client.images.generate(model="fake/none", prompt="a cat", extra_headers=ASYNC)
    assert fake.calls == []


def test_unknown_and_other_callers_jobs_are_the_same_404(base_url):
    mine = sdk(base_url, "fk:caller-token-1")
    theirs = sdk(base_url, "fk:someone-else-2")
    _, accepted, _ = submit(mine)
    for client, job_id in [
        (theirs, accepted["id"]),
        (mine, "imgjob_" + "x" * 32),
        (mine, "not-a-job"),
    ]:
        for method in (client.get, client.delete):
            with pytest.raises(openai.NotFoundError) as caught:
                method(f"/images/jobs/{job_id}", cast_to=object)
            error = caught.value.body
            assert error["code"] == "JOB_NOT_FOUND" and error["param"] == "job_id"
            assert "caller-token-1" not in json.dumps(error)
            assert caught.value.response.headers["x-should-retry"] == "false"
    assert wait_for(mine, accepted["id"])["status"] == "succeeded"


def test_cancelling_a_running_job_and_a_finished_one(base_url, fake):
    fake.delay = 30
    client = sdk(base_url)
    _, accepted, _ = submit(client)
    wait_for(client, accepted["id"], until=("running",))
    cancelled = client.delete(f"/images/jobs/{accepted['id']}", cast_to=object)
    assert cancelled["status"] == "cancelled"
    assert cancelled["error"]["code"] == "CANCELLED"
    assert job(client, accepted["id"])["status"] == "cancelled"
    with pytest.raises(openai.ConflictError) as caught:
        client.delete(f"/images/jobs/{accepted['id']}", cast_to=object)
    assert "already been cancelled" in caught.value.body["message"]


def test_cancelling_a_gitee_job_cancels_the_gitee_task(live_server, gitee_emulator, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_GITEE_MODE", "async")
    gitee_emulator.control.task_seconds = 30
    gate = imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": gitee_emulator.base_url},
        use_stored_tokens=False,
    )
    client = sdk(live_server(gate), "gitee:valid-token-0001")
    _, accepted, _ = submit(client, model="gitee/z-image-turbo")
    deadline = time.monotonic() + 10
    while not any(r.path.endswith("/async/images/generations") for r in gitee_emulator.requests):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert client.delete(f"/images/jobs/{accepted['id']}", cast_to=object)["status"] == "cancelled"
    deadline = time.monotonic() + 10
    while not any(r.path.endswith("/cancel") for r in gitee_emulator.requests):
        assert time.monotonic() < deadline, "the Gitee task was never cancelled"
        time.sleep(0.05)


def test_a_jobs_events_stream_its_progress_and_outcome(base_url, fake):
    client = sdk(base_url)
    _, accepted, _ = submit(client)
    with httpx.stream(
        "GET",
        f"{base_url}/v1/images/jobs/{accepted['id']}/events",
        headers={"Authorization": "Bearer fk:caller-token-1"},
        timeout=30,
    ) as response:
        assert response.status_code == 200
        names, last = [], None
        for line in response.iter_lines():
            if line.startswith("event: "):
                names.append(line[7:])
            elif line.startswith("data: "):
                last = json.loads(line[6:])
    assert names[0] == "image.generation.job" and names[-1] == "image.generation.job"
    assert last["status"] == "succeeded" and last["result"]["data"]


def test_an_idempotency_key_replays_the_same_job(base_url, fake):
    client = sdk(base_url)
    key = {"Idempotency-Key": "job-key-1", **ASYNC}
    first = client.images.with_raw_response.generate(
        model="fake/basic", prompt="a cat", extra_headers=key
    )
    again = client.images.with_raw_response.generate(
        model="fake/basic", prompt="a cat", extra_headers=key
    )
    assert again.status_code == 202
    assert json.loads(again.content)["id"] == json.loads(first.content)["id"]
    assert again.headers["idempotent-replayed"] == "true"
    wait_for(client, json.loads(first.content)["id"])
    assert len(fake.calls) == 1


def test_a_server_with_room_for_one_job_keeps_the_next_queued_until_then(
    live_server, fake, monkeypatch
):
    monkeypatch.setenv("IMAGEGATE_MAX_JOBS", "1")
    fake.delay = 60.0
    client = sdk(live_server(imagegate.Gate(plugins=[fake], use_stored_tokens=False)))
    (_, first, _), (_, second, _) = submit(client), submit(client)
    wait_for(client, first["id"], until=("running",))
    assert job(client, second["id"])["status"] == "queued"  # no room for it yet
    client.delete(f"/images/jobs/{first['id']}", cast_to=object)
    assert wait_for(client, second["id"], until=("running",))["status"] == "running"
    client.delete(f"/images/jobs/{second['id']}", cast_to=object)
    assert wait_for(client, second["id"])["status"] == "cancelled"


def test_a_max_jobs_setting_that_is_not_a_positive_number_stops_the_start(monkeypatch):
    from imagegate.server import create_app

    monkeypatch.setenv("IMAGEGATE_MAX_JOBS", "none")
    with pytest.raises(ValueError, match="IMAGEGATE_MAX_JOBS"):
        create_app(imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False))
