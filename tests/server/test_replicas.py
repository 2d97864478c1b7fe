"""Replicas as they are deployed: several `imagegate serve` processes on their own ports,
each with its own home directory, sharing one real Redis. What one learns, the others know;
a limit holds for their sum."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from tests.realservers import free_port
from tests.server.test_serve_process import wait_healthy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def replicas(tmp_path, redis_server):
    """`start(n, *args, **env)`: n replicas of `imagegate serve` on one Redis; their URLs.
    `started` holds their processes."""
    started: list[subprocess.Popen[str]] = []

    def start(count: int, *args: str, state_url: str | None = None, **extra: str) -> list[str]:
        state_url = state_url or redis_server.unique_url()
        urls = []
        for n in range(count):
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
            env.update(
                PYTHONPATH=str(ROOT),
                IMAGEGATE_HOME=str(tmp_path / f"replica-{n}"),  # nothing shared on disk
                IMAGEGATE_STATE_URL=state_url,
                **extra,
            )
            started.append(
                subprocess.Popen(
                    [sys.executable, "-m", "imagegate.cli", "serve", "--port", str(port), *args],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url, process in zip(urls, started[-count:], strict=True):
            wait_healthy(url, process)
        return urls

    start.started = started
    yield start
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def sdk(url: str, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0, timeout=30)


def test_a_token_cooling_on_one_replica_is_skipped_on_the_other(replicas, a4f_emulator):
    a, b = replicas(2, IMAGEGATE_A4F_BASE_URL=a4f_emulator.base_url)
    tokens = "a4f:quota-token-0001,valid-token-0002"
    model = "a4f/provider-4/imagen-3.5"
    sdk(a, tokens).images.generate(model=model, prompt="a cat", size="256x256")
    sdk(b, tokens).images.generate(model=model, prompt="a dog", size="256x256")
    sent = [r.headers["authorization"] for r in a4f_emulator.requests if r.method == "POST"]
    assert sent == [
        "Bearer quota-token-0001",  # A learns it is spent...
        "Bearer valid-token-0002",
        "Bearer valid-token-0002",  # ...and B never sends it
    ]
    health = httpx.get(f"{b}/health").json()
    assert health["state"] == {"backend": "redis", "degraded": None}


def test_a_rate_limit_holds_for_the_sum_of_the_replicas(replicas):
    a, b = replicas(2, "--rate-limit", "4/minute", "--rate-limit", "1000/hour")
    answers = [httpx.get(f"{url}/v1/models") for url in (a, b, a, b, a, b)]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429, 429]
    assert [r.headers["x-ratelimit-remaining"] for r in answers[:4]] == ["3", "2", "1", "0"]
    assert int(answers[-1].headers["retry-after"]) >= 1


def test_redis_lost_and_back_every_replica_says_so_and_recovers(replicas, own_redis_server):
    urls = replicas(2, state_url=own_redis_server.url)
    own_redis_server.stop()
    for url in urls:
        health = httpx.get(f"{url}/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        models = httpx.get(f"{url}/v1/models")
        assert models.status_code == 200  # what needs no shared state still answers
    own_redis_server.start()
    for url in urls:
        assert httpx.get(f"{url}/health").status_code == 200
    first = replicas.started[0]
    first.send_signal(signal.SIGINT)
    log = first.communicate(timeout=15)[0]
    assert f"the state store (redis at 127.0.0.1:{own_redis_server.port}) failed" in log
    assert "is reachable again" in log


@pytest.mark.parametrize("media", ["s3", "shared directory"])
def test_an_image_url_from_one_replica_is_served_by_the_other(
    replicas, a4f_emulator, media, tmp_path, request
):
    if media == "s3":
        s3_server = request.getfixturevalue("s3_server")
        env = {"IMAGEGATE_MEDIA_URL": f"s3://{s3_server.bucket()}/images"}
        env.update(s3_server.environment())
    else:
        env = {"IMAGEGATE_MEDIA_URL": f"file://{tmp_path}/shared-images?shared=1"}
    a, b = replicas(2, IMAGEGATE_A4F_BASE_URL=a4f_emulator.base_url, **env)
    client = sdk(a, "a4f:valid-token-0001")
    answer = client.images.generate(model="a4f/provider-4/imagen-3.5", prompt="a cat")
    url = answer.data[0].url
    assert url.startswith(f"{a}/v1/images/files/")
    image = httpx.get(url.replace(a, b))
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
