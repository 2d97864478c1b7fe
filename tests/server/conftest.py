"""Fixtures for the server tests: a fake-backed app in-process, and the same on a socket."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest

import imagegate
from imagegate import Provider
from imagegate.server import create_app
from tests.emulators.server import ServerThread
from tests.fakes import FakePlugin

OTHER_PROVIDER = Provider(
    id="other", display_name="Other", model_prefix="other", auth_prefix="ot", auth="optional"
)


@pytest.fixture
def fake() -> FakePlugin:
    return FakePlugin()


@pytest.fixture
def gate(fake: FakePlugin) -> imagegate.Gate:
    """The fake provider plus a second one, so a token prefix can name the wrong provider."""
    return imagegate.Gate(
        plugins=[fake, FakePlugin(provider=OTHER_PROVIDER)], use_stored_tokens=False, retries=0
    )


@pytest.fixture
async def client(gate: imagegate.Gate) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gate)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://imagegate.test") as c:
        yield c


@pytest.fixture
def live_server() -> Iterator[Callable[..., str]]:
    """Start `create_app(gate, **options)` on a free loopback port; returns its base URL."""
    started: list[ServerThread] = []

    def start(gate: imagegate.Gate, **options) -> str:
        server = ServerThread(create_app(gate, **options)).start()
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.stop()
