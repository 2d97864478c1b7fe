"""Jobs and idempotency across replicas on one Redis: a job is polled, cancelled and
finished by any replica; an idempotent retry is replayed by any replica that can serve
its images."""

from __future__ import annotations

import json
import time

import httpx
import openai

from tests.server.test_replicas import replicas  # noqa: F401 - the fixture

ASYNC = {"Prefer": "respond-async"}
STORED = {"IMAGEGATE_MODELSCOPE_TOKEN": "valid-token-0001"}
KEY = "server-key-1"


def client_for(url: str, api_key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0, timeout=30)


def job_of(client, job_id):
    return client.get(f"/images/jobs/{job_id}", cast_to=object)


def poll(client, job_id, done, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_of(client, job_id)
        if done(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job}")


def start_job(url: str, **extra) -> str:
    raw = client_for(url).images.with_raw_response.generate(
        model="ms/flux-2", prompt="a cute cat", size="512x512", extra_headers={**ASYNC, **extra}
    )
    assert raw.status_code == 202, raw.content
    return json.loads(raw.content)["id"]


def test_a_job_made_on_one_replica_is_polled_and_cancelled_on_the_other(
    replicas,  # noqa: F811
    modelscope_emulator,
):
    modelscope_emulator.control.task_seconds = 30
    env = {"IMAGEGATE_MODELSCOPE_BASE_URL": modelscope_emulator.base_url, **STORED}
    a, b = replicas(2, "--api-key", KEY, **env)
    job_id = start_job(a)
    seen = poll(client_for(b), job_id, lambda job: job["progress"] is not None)
    assert seen["status"] == "running"
    cancelled = client_for(b).delete(f"/images/jobs/{job_id}", cast_to=object)
    assert cancelled["status"] in ("cancelled", "running")
    done = poll(client_for(a), job_id, lambda job: job["status"] not in ("queued", "running"))
    assert done["status"] == "cancelled"


def test_an_idempotent_retry_sent_to_the_other_replica_replays_the_answer(
    replicas,  # noqa: F811
    a4f_emulator,
    tmp_path,
):
    shared = f"file://{tmp_path / 'images'}?shared=1"  # both replicas serve every image
    a, b = replicas(2, IMAGEGATE_A4F_BASE_URL=a4f_emulator.base_url, IMAGEGATE_MEDIA_URL=shared)
    headers = {"Idempotency-Key": "order-42", "Authorization": "Bearer a4f:valid-token-0001"}
    body = {"model": "a4f/provider-4/imagen-3.5", "prompt": "a cat", "size": "256x256"}
    first = httpx.post(f"{a}/v1/images/generations", json=body, headers=headers, timeout=30)
    again = httpx.post(f"{b}/v1/images/generations", json=body, headers=headers, timeout=30)
    assert first.status_code == again.status_code == 200
    assert len([r for r in a4f_emulator.requests if r.method == "POST"]) == 1  # one generation
    (made,), (replayed,) = first.json()["data"], again.json()["data"]
    assert replayed["url"] == made["url"].replace(a, b)  # the same image, linked from B
    assert httpx.get(replayed["url"]).content == httpx.get(made["url"]).content


def test_a_replay_whose_images_the_other_replica_cannot_serve_is_a_410(
    replicas,  # noqa: F811
    a4f_emulator,
):
    a, b = replicas(2, IMAGEGATE_A4F_BASE_URL=a4f_emulator.base_url)  # each its own disk
    headers = {"Idempotency-Key": "order-43", "Authorization": "Bearer a4f:valid-token-0001"}
    body = {"model": "a4f/provider-4/imagen-3.5", "prompt": "a cat", "size": "256x256"}
    first = httpx.post(f"{a}/v1/images/generations", json=body, headers=headers, timeout=30)
    again = httpx.post(f"{b}/v1/images/generations", json=body, headers=headers, timeout=30)
    assert first.status_code == 200
    assert again.status_code == 410, again.text  # never a link B would answer with a 404
    assert "no longer held by this server" in again.json()["error"]["message"]
    assert len([r for r in a4f_emulator.requests if r.method == "POST"]) == 1


def kill(process) -> None:
    process.kill()  # SIGKILL: no chance to hand anything over
    process.wait(timeout=10)


def test_a_replica_killed_mid_job_the_other_finishes_it(
    replicas,  # noqa: F811
    modelscope_emulator,
    redis_server,
):
    modelscope_emulator.control.task_seconds = 6
    env = {"IMAGEGATE_MODELSCOPE_BASE_URL": modelscope_emulator.base_url, **STORED}
    shared = redis_server.unique_url()
    (a,) = replicas(1, "--api-key", KEY, state_url=shared, **env)  # A alone runs the job
    job_id = start_job(a)
    poll(client_for(a), job_id, lambda job: job["progress"] is not None)
    (b,) = replicas(1, "--api-key", KEY, state_url=shared, **env)
    kill(replicas.started[0])
    done = poll(client_for(b), job_id, lambda job: job["status"] not in ("queued", "running"))
    assert done["status"] == "succeeded", done
    submits = [r for r in modelscope_emulator.requests if r.method == "POST"]
    assert len(submits) == 1  # picked up from ModelScope's task, never submitted twice


def test_jobs_sent_to_a_full_replica_run_on_the_other_at_the_same_time(
    replicas,  # noqa: F811
    modelscope_emulator,
):
    modelscope_emulator.control.task_seconds = 30
    env = {"IMAGEGATE_MODELSCOPE_BASE_URL": modelscope_emulator.base_url, **STORED}
    a, b = replicas(2, "--api-key", KEY, "--max-jobs", "1", **env)  # room for one job each
    first, second = start_job(a), start_job(a)
    for job_id in (first, second):  # both running at once: one of them on B
        seen = poll(client_for(a), job_id, lambda job: job["progress"] is not None)
        assert seen["status"] == "running"
    assert job_of(client_for(a), first)["status"] == "running"
    for job_id in (first, second):
        client_for(b).delete(f"/images/jobs/{job_id}", cast_to=object)
    for job_id in (first, second):
        done = poll(client_for(b), job_id, lambda job: job["status"] != "running")
        assert done["status"] == "cancelled"
    submits = [r for r in modelscope_emulator.requests if r.method == "POST"]
    assert len(submits) == 2  # each job ran once


def test_a_job_a_killed_replica_cannot_resume_fails_via_the_other_saying_why(
    replicas,  # noqa: F811
    redis_server,
):
    env = {
        "IMAGEGATE_PLUGINS": "tests.fakes:slow_plugin",  # a minute per image, no task id
        "IMAGEGATE_LOAD_PLUGINS": "",
        "IMAGEGATE_FAKE_TOKEN": "stored-token-1",
    }
    shared = redis_server.unique_url()
    (a,) = replicas(1, "--api-key", KEY, state_url=shared, **env)
    raw = client_for(a).images.with_raw_response.generate(
        model="fake/basic", prompt="a cat", extra_headers=ASYNC
    )
    job_id = json.loads(raw.content)["id"]
    poll(client_for(a), job_id, lambda job: job["status"] == "running")
    (b,) = replicas(1, "--api-key", KEY, state_url=shared, **env)
    kill(replicas.started[0])
    done = poll(client_for(b), job_id, lambda job: job["status"] != "running")
    assert done["status"] == "failed"
    assert done["error"]["code"] == "INTERRUPTED"
    assert "Fake gives no task id" in done["error"]["message"]
    assert "submit it again" in done["error"]["message"]


def test_a_job_on_its_callers_own_token_stays_on_its_replica_and_resumes_on_the_next_get(
    replicas,  # noqa: F811
    modelscope_emulator,
):
    modelscope_emulator.control.task_seconds = 6
    a, b = replicas(2, IMAGEGATE_MODELSCOPE_BASE_URL=modelscope_emulator.base_url)  # open
    caller = "ms:valid-token-0001"  # never stored, so only A, which has it, runs the job
    raw = client_for(a, caller).images.with_raw_response.generate(
        model="ms/flux-2", prompt="a cute cat", size="512x512", extra_headers=ASYNC
    )
    job_id = json.loads(raw.content)["id"]
    poll(client_for(a, caller), job_id, lambda job: job["progress"] is not None)
    kill(replicas.started[0])
    done = poll(client_for(b, caller), job_id, lambda job: job["status"] != "running")
    assert done["status"] == "succeeded", done
    submits = [r for r in modelscope_emulator.requests if r.method == "POST"]
    assert len(submits) == 1
