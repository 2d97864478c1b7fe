"""Real servers the tests start for themselves on loopback: redis-server (Debian's package)
and an S3-compatible object store (moto's server mode, from the dev group).

In CI (`CI` or `IMAGEGATE_REQUIRE_SERVICES` set, as .ci/run does) a server that cannot be
started fails the test: a missing service must never pass as a skip. On a developer's
machine without it, the test is skipped with the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

# Read at import: the per-test environment fixture clears IMAGEGATE_* variables.
REQUIRED = bool(os.environ.get("CI") or os.environ.get("IMAGEGATE_REQUIRE_SERVICES"))


def unavailable(what: str, how: str) -> None:
    """Fail in CI, skip elsewhere, saying how to get `what`."""
    if REQUIRED:
        pytest.fail(f"{what} is needed in CI and could not be started: {how}", pytrace=False)
    pytest.skip(f"{what} is not available here: {how}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(process: subprocess.Popen | None) -> None:
    """Terminate a server we started, killing it if it does not go within 10 s."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class RedisServer:
    """One redis-server process on a loopback port; `stop()` and `start()` again keep the
    port, so tests can take Redis away and bring it back."""

    def __init__(self) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="imagegate-redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.binary is None:
            unavailable("redis-server", "apt-get install redis-server")
        command = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.dir),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for_port(self.port, self.process):
            self.stop()
            unavailable("redis-server", f"`{' '.join(command)}` did not start")

    def stop(self) -> None:
        stop(self.process)
        self.process = None

    def unique_url(self) -> str:
        """This server's URL with a fresh key prefix: each test sees only its own keys."""
        return f"{self.url}?prefix=t{uuid.uuid4().hex[:10]}:"


@pytest.fixture(scope="session")
def redis_server():
    """One redis-server for the whole run (tests keep apart by key prefix)."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def own_redis_server():
    """A redis-server of this test's own, which it may stop and start again."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


class S3Server:
    """moto's S3 server in its own process on a loopback port, with one bucket per call
    of `bucket()`; clients talk to it over HTTP as to any S3-compatible store."""

    region = "us-east-1"
    access_key = "test-access-key"
    secret_key = "test-secret-key"

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        try:
            import moto.server  # noqa: F401
        except ImportError:
            unavailable("moto's S3 server", "uv sync (moto[server] is in the dev group)")
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not wait_for_port(self.port, self.process, seconds=60):
            self.stop()
            unavailable("moto's S3 server", f"`{' '.join(command)}` did not start")

    def stop(self) -> None:
        stop(self.process)
        self.process = None

    def bucket(self) -> str:
        """A new, empty bucket's name (CreateBucket over HTTP)."""
        import httpx

        name = f"t-{uuid.uuid4().hex[:12]}"
        httpx.put(f"{self.endpoint}/{name}", timeout=30).raise_for_status()
        return name

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ALLOW_HTTP": "true",
        }


@pytest.fixture(scope="session")
def s3_server():
    """One S3-compatible server for the whole run (tests keep apart by bucket)."""
    server = S3Server()
    server.start()
    yield server
    server.stop()
