"""Failures: a clear error naming the provider, the right code, and never a token."""

from __future__ import annotations

import socket
import subprocess
import sys

import httpx
import pytest

import imagegate
from imagegate import errors
from tests.fakes import FakePlugin

TOKEN = "sk-live-secret-token-1234"


class Echoing(FakePlugin):
    """A careless plugin that puts the token into its error messages."""

    def __init__(self, failure: type[errors.ImagegateError] | type[Exception]) -> None:
        super().__init__()
        self.failure = failure

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        raise self.failure(f"upstream rejected Bearer {token}")


@pytest.mark.parametrize(
    "failure", [errors.AuthInvalid, errors.ProviderError, errors.GenerationFailed, KeyError]
)
def test_no_token_in_message_or_repr(failure):
    with imagegate.Gate(plugins=[Echoing(failure)], tokens={"fake": TOKEN}) as gate:
        with pytest.raises(errors.ImagegateError) as caught:
            gate.generate("a cat", model="fake/basic")
    error = caught.value
    for text in (str(error), repr(error), error.message, str(error.to_openai())):
        assert TOKEN not in text
    assert "***" in error.message
    chained = error.__cause__ or error.__context__
    while chained is not None:  # nor in the exceptions it was raised from
        assert TOKEN not in str(chained) and TOKEN not in repr(chained)
        chained = chained.__cause__ or chained.__context__


def test_an_unexpected_exception_becomes_a_provider_error_naming_the_provider():
    with imagegate.Gate(plugins=[Echoing(KeyError)]) as gate:
        with pytest.raises(errors.ProviderError, match=r"^Fake failed: KeyError"):
            gate.generate("a cat", model="fake/basic")


def test_an_unreachable_provider_names_the_provider_the_host_and_what_to_check():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens

    class Calling(FakePlugin):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            await context.client.post(f"{context.base_url}/images", json={})

    with imagegate.Gate(
        plugins=[Calling()], base_urls={"fake": f"http://127.0.0.1:{port}/v1"}, retries=0
    ) as gate:
        with pytest.raises(errors.ProviderUnreachable) as caught:
            gate.generate("a cat", model="fake/basic")
    message = caught.value.message
    assert f"127.0.0.1:{port}" in message and "Fake" in message
    assert "IMAGEGATE_FAKE_BASE_URL" in caught.value.hint  # advice for the owner only


def test_the_shared_client_uses_the_aiohttp_transport():
    from httpx_aiohttp import AiohttpTransport

    seen = []

    class Inspecting(FakePlugin):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            seen.append(context.client)
            return await FakePlugin.generate(self, request, model, token, context)

    with imagegate.Gate(plugins=[Inspecting()]) as gate:
        gate.generate("a cat", model="fake/basic")
        gate.generate("a cat", model="fake/basic")
    assert seen[0] is seen[1]  # one client, connections reused
    assert isinstance(seen[0]._transport, AiohttpTransport)


def test_a_caller_can_bring_its_own_client():
    seen = []

    class Inspecting(FakePlugin):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            seen.append(context.client)
            return await FakePlugin.generate(self, request, model, token, context)

    async def run():
        async with httpx.AsyncClient() as client:
            async with imagegate.Gate(plugins=[Inspecting()], client=client) as gate:
                await gate.agenerate("a cat", model="fake/basic")
            assert not client.is_closed  # the gate does not close what it does not own
            return client

    import asyncio

    assert asyncio.run(run()) is seen[0]


@pytest.mark.parametrize(
    ("error", "status", "openai_type"),
    [
        (errors.InvalidRequest, 400, "invalid_request_error"),
        (errors.InvalidModel, 404, "invalid_request_error"),
        (errors.AuthRequired, 401, "authentication_error"),
        (errors.PermissionDenied, 403, "permission_error"),
        (errors.RateLimited, 429, "rate_limit_error"),
        (errors.QuotaExceeded, 429, "insufficient_quota"),
        (errors.ProviderError, 502, "api_error"),
        (errors.Timeout, 504, "timeout_error"),
    ],
)
def test_every_error_has_a_status_and_an_openai_envelope(error, status, openai_type):
    envelope = error("what went wrong", param="size").to_openai()
    assert error.status == status
    assert envelope == {
        "error": {
            "message": "what went wrong",
            "type": openai_type,
            "param": "size",
            "code": error.code,
        }
    }


def test_importing_imagegate_stays_light():
    code = (
        "import sys, imagegate; "
        "heavy = [m for m in ('gradio_client', 'fastapi', 'uvicorn', 'aiohttp', 'gradio') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_retry_after_seconds_reads_both_header_forms():
    from datetime import datetime, timedelta, timezone
    from email.utils import format_datetime

    in_a_minute = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=60), usegmt=True)
    assert errors.retry_after_seconds("7") == 7.0
    assert 55 <= errors.retry_after_seconds(in_a_minute) <= 60
    assert errors.retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    for unreadable in (None, "", "  ", "soon"):
        assert errors.retry_after_seconds(unreadable) is None
