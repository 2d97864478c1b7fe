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
        server = ServerThread(_closing(create_app(gate, **options), gate)).start()
        started.append(server)
        return server.url

    yield start
    for server in started:
        server.stop()


def _closing(app, gate: imagegate.Gate):
    """The app, closing `gate` as its server shuts down, on the server's own loop (where
    the gate's HTTP client lives): `create_app` closes only a gate it made itself."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)

        async def closing_send(message):
            if message["type"] == "lifespan.shutdown.complete":
                await gate.aclose()
            await send(message)

        return await app(scope, receive, closing_send)

    return wrapped
