"""Fixtures: the hostile upstream (and a second one standing for an internal service), and
`imagegate serve` as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from . import hostile as hostile_module
from .hostile import Hostile

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "imagegate", "serve"]


@pytest.fixture(scope="session")
def _hostile_servers() -> Iterator[tuple[Hostile, Hostile]]:
    upstream, internal = hostile_module.start(), hostile_module.start()
    yield upstream, internal
    upstream.server.stop()
    internal.server.stop()


@pytest.fixture
def hostile(_hostile_servers) -> Hostile:
    upstream = _hostile_servers[0]
    upstream.reset()
    return upstream


@pytest.fixture
def internal(_hostile_servers) -> Hostile:
    """Another service on this machine that no provider answer may make us reach."""
    service = _hostile_servers[1]
    service.reset()
    return service


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def environment(home: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any token or imagegate setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IMAGEGATE_", "HF_")) and k != "HUGGING_FACE_HUB_TOKEN"
    }
    env.update(
        PYTHONPATH=str(ROOT),
        IMAGEGATE_HOME=str(home / "imagegate"),
        HF_HOME=str(home / "hf-home"),  # no real hub login of the developer's is seen
        GRADIO_ANALYTICS_ENABLED="False",
        HF_HUB_DISABLE_TELEMETRY="1",
    )
    env.update(extra)
    return env


class Served:
    def __init__(self, url: str, process: subprocess.Popen[str]) -> None:
        self.url = url
        self.process = process
        self._output: str | None = None

    def stop(self) -> str:
        """Stop the server; everything it wrote."""
        if self._output is None:
            self.process.send_signal(signal.SIGINT)
            self._output, _ = self.process.communicate(timeout=30)
        return self._output


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """Start `python -m imagegate serve --port <free> *args` with `env` added; waits until
    /health answers."""
    started: list[Served] = []

    def start(*args: str, **env: str) -> Served:
        port = free_port()
        process = subprocess.Popen(
            [*COMMAND, "--port", str(port), *args],
            env=environment(tmp_path, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        served = Served(f"http://127.0.0.1:{port}", process)
        started.append(served)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                    return served
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"imagegate serve did not become healthy: {served.stop()}")

    yield start
    for served in started:
        served.stop()


def run_command(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m imagegate *args` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "imagegate", *args],
        env=environment(home, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
