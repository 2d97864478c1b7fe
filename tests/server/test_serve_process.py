"""`imagegate serve` as a person runs it: a real process, real plugins, an OpenAI client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.realservers import free_port

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "imagegate.cli", "serve"]


def wait_healthy(url: str, process: subprocess.Popen[str], seconds: float = 60) -> None:
    """Until `imagegate serve` at `url` answers /health with 200; fails at once if it exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = process.stdout.read() if process.stdout else ""
            raise AssertionError(f"imagegate serve exited: {said}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("imagegate serve did not become healthy")


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    env.update(PYTHONPATH=str(ROOT), **extra)
    return env


@pytest.fixture
def serve(tmp_path):
    started: list[subprocess.Popen[str]] = []

    def start(*args: str, **env: str) -> str:
        port = free_port()
        process = subprocess.Popen(
            [*COMMAND, "--port", str(port), *args],
            env=environment(IMAGEGATE_HOME=str(tmp_path), **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process)
        return url

    yield start
    for process in started:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=15)


def test_serve_answers_an_openai_client_through_the_real_plugins(serve, a4f_emulator):
    url = serve(IMAGEGATE_A4F_BASE_URL=a4f_emulator.base_url)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="a4f:valid-token-0001", max_retries=0)
    models = {model.id for model in client.models.list()}
    assert {"a4f/provider-4/imagen-3.5", "gitee/z-image-turbo", "hf/z-image-turbo"} <= models
    answer = client.images.generate(
        model="a4f/provider-4/imagen-3.5", prompt="a cute cat", n=2, size="256x256"
    )
    assert len(answer.data) == 2
    assert httpx.get(answer.data[0].url).content.startswith(b"\x89PNG")
    (call,) = [r for r in a4f_emulator.requests if r.method == "POST"]
    assert call.headers["authorization"] == "Bearer valid-token-0001"
    assert call.json["n"] == 2


def test_serve_refuses_a_public_address_while_holding_tokens(tmp_path):
    done = subprocess.run(
        [*COMMAND, "--host", "0.0.0.0", "--port", str(free_port())],
        env=environment(IMAGEGATE_HOME=str(tmp_path), IMAGEGATE_GITEE_TOKEN="stored-secret-1"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0
    assert "refusing to listen on 0.0.0.0 without an API key" in done.stderr
    assert "stored-secret-1" not in done.stderr + done.stdout
