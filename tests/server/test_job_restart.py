"""A job outlives its server: `imagegate serve` killed mid-job and started again on the same
data dir picks the job up from the provider's own task, or says why it cannot."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import httpx
import openai
import pytest

from tests.server.test_serve_process import COMMAND, environment, free_port, wait_healthy


@pytest.fixture
def server(tmp_path):
    """Start `imagegate serve` on a shared IMAGEGATE_HOME; `kill` it like a crash would."""
    running: list[subprocess.Popen[str]] = []

    def start(*args: str, **env: str) -> str:
        port = free_port()
        process = subprocess.Popen(
            [*COMMAND, "--port", str(port), *args],
            env=environment(IMAGEGATE_HOME=str(tmp_path), **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        running.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        return url

    def kill() -> None:
        process = running[-1]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    start.kill = kill  # type: ignore[attr-defined]
    yield start
    for process in running:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=15)


def client_for(url: str, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0, timeout=30)


def job_of(client: openai.OpenAI, job_id: str) -> dict:
    return client.get(f"/images/jobs/{job_id}", cast_to=object)


def poll(client: openai.OpenAI, job_id: str, done, timeout: float = 40) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = job_of(client, job_id)
        if done(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job}")


@pytest.mark.parametrize(
    "setup",
    [
        # an open server: the caller's token, so its next GET resumes the job
        {"key": "ms:valid-token-0001", "env": {}},
        # a protected server on its own stored token: it resumes the job by itself
        {
            "key": "server-key-1",
            "args": ("--api-key", "server-key-1"),
            "env": {"IMAGEGATE_MODELSCOPE_TOKEN": "valid-token-0001"},
        },
    ],
    ids=["caller-token", "stored-token"],
)
def test_a_modelscope_job_resumes_after_the_server_is_killed(server, modelscope_emulator, setup):
    modelscope_emulator.control.task_seconds = 6
    env = {"IMAGEGATE_MODELSCOPE_BASE_URL": modelscope_emulator.base_url, **setup["env"]}
    args = setup.get("args", ())
    url = server(*args, **env)
    client = client_for(url, setup["key"])
    raw = client.images.with_raw_response.generate(
        model="ms/flux-2",
        prompt="a cute cat",
        size="512x512",
        extra_headers={"Prefer": "respond-async"},
    )
    assert raw.status_code == 202
    job_id = json.loads(raw.content)["id"]
    # the task was submitted (its id is in the job's record) and is still running
    poll(client, job_id, lambda job: job["progress"] is not None)
    assert job_of(client, job_id)["status"] == "running"

    server.kill()
    killed = time.time()
    url = server(*args, **env)  # a new process on the same data dir
    if "args" in setup:  # it resumes the job without being asked: wait, then look once
        poll_log = modelscope_emulator.requests
        deadline = time.monotonic() + 30
        while not any(r.method == "GET" and r.time > killed for r in poll_log):
            assert time.monotonic() < deadline, "the restarted server never polled the task"
            time.sleep(0.1)
    client = client_for(url, setup["key"])

    done = poll(client, job_id, lambda job: job["status"] not in ("queued", "running"))
    assert done["status"] == "succeeded", done
    (image,) = done["result"]["data"]
    assert httpx.get(image["url"], timeout=10).content[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0")
    submits = [r for r in modelscope_emulator.requests if r.method == "POST"]
    assert len(submits) == 1  # picked up from ModelScope's task, never submitted again
    polls = {r.path for r in modelscope_emulator.requests if r.method == "GET"}
    assert any(path.startswith("/v1/tasks/") for path in polls)


def test_a_job_without_a_provider_task_fails_saying_why(server):
    env = {"IMAGEGATE_PLUGINS": "tests.fakes:slow_plugin", "IMAGEGATE_LOAD_PLUGINS": ""}
    url = server(**env)
    client = client_for(url, "fk:caller-token-1")
    raw = client.images.with_raw_response.generate(
        model="fake/basic", prompt="a cat", extra_headers={"Prefer": "respond-async"}
    )
    job_id = json.loads(raw.content)["id"]
    poll(client, job_id, lambda job: job["status"] == "running")

    server.kill()
    client = client_for(server(**env), "fk:caller-token-1")

    done = poll(client, job_id, lambda job: job["status"] != "running")
    assert done["status"] == "failed"
    assert done["error"]["code"] == "INTERRUPTED"
    assert "Fake gives no task id" in done["error"]["message"]
    assert "submit it again" in done["error"]["message"]
