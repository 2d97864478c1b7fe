"""Limits on one request: its headers, JSON only, its body, and giving up when the caller
has gone.

The overall deadline is the core's (`timeout=` to `agenerate`); here the headers are
capped (in the HTTP parser under `imagegate serve`, `http_protocol`, and again for any
ASGI server, `headers_too_large`), the body is read with a cap before anything is parsed
and within `BODY_SECONDS`, and the generation runs as a task that is cancelled the moment
the client disconnects, so an abandoned request stops costing provider quota.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from starlette.requests import Request

from imagegate.errors import InvalidRequest

from .errors import BodyTooLarge, UnsupportedMediaType

__all__ = [
    "BODY_SECONDS",
    "HEADERS_TOO_LARGE",
    "MAX_HEADER_BYTES",
    "BodyTimeout",
    "BodyTooLarge",
    "ClientGone",
    "UnsupportedMediaType",
    "headers_too_large",
    "http_protocol",
    "read_body",
    "require_json",
    "unless_disconnected",
]

T = TypeVar("T")

MAX_HEADER_BYTES = 32 * 1024
"""The request line and all headers together; browsers' cookies for localhost fit."""

HEADERS_TOO_LARGE = json.dumps(
    {
        "error": {
            "message": f"the request headers are larger than {MAX_HEADER_BYTES // 1024} KB",
            "type": "invalid_request_error",
            "param": None,
            "code": "HEADERS_TOO_LARGE",
        }
    }
).encode()


def headers_too_large(scope: dict[str, Any]) -> bool:
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    for name, value in scope["headers"]:
        size += len(name) + len(value) + 4
    return size > MAX_HEADER_BYTES


def http_protocol() -> tuple[str, dict[str, Any]]:
    """uvicorn's `http` setting and options that stop reading headers past the cap:
    httptools (uvicorn's fast parser) has no limit of its own, so our subclass of its
    protocol counts (`imagegate.server.protocol`); h11 has a buffer limit to set."""
    import importlib.util

    if importlib.util.find_spec("httptools") is None:
        return "h11", {"h11_max_incomplete_event_size": MAX_HEADER_BYTES}
    return "imagegate.server.protocol:BoundedHttpTools", {}


class ClientGone(Exception):
    """The client disconnected before the answer was ready."""


BODY_SECONDS = 30.0
"""How long a caller may take to send its body once its headers are in (a caller that
stalls mid-body must not hold a connection and a task until the end of time)."""


class BodyTimeout(InvalidRequest):
    code = "BODY_TIMEOUT"
    status = 408


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or a 413 once it grows past `limit` bytes (checked as it streams),
    or a 408 when it has not arrived within `BODY_SECONDS`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    current = asyncio.current_task()
    assert current is not None
    late = False

    def expire() -> None:
        nonlocal late
        late = True
        current.cancel()

    # call_later, not wait_for: no extra task on the hot path
    seconds = BODY_SECONDS
    deadline = asyncio.get_running_loop().call_later(seconds, expire)
    try:
        return await _read(request, limit, declared is not None and declared.isdigit())
    except asyncio.CancelledError:
        if not late:
            raise
        if hasattr(current, "uncancel"):  # 3.11+: this cancellation is handled here
            current.uncancel()
        raise BodyTimeout(f"the request body did not arrive within {seconds:g} s") from None
    finally:
        deadline.cancel()


async def _read(request: Request, limit: int, declared: bool) -> bytes:
    if declared:
        body = await request.body()
        if len(body) > limit:
            raise _too_large(limit)
        return body
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> BodyTooLarge:
    return BodyTooLarge(f"the request body is larger than {limit // 1024} KB", param=None)


def require_json(request: Request) -> None:
    """415 unless the body is declared JSON (`application/json` or a `+json` type): a
    `text/plain` POST needs no CORS preflight, so any web page could send one."""
    declared = request.headers.get("content-type", "")
    media = declared.partition(";")[0].strip().lower()
    if media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    ):
        return
    raise UnsupportedMediaType(
        f"the body must be JSON sent with `Content-Type: application/json` "
        f"(got {declared.strip()[:100] or 'no Content-Type'})",
        param=None,
    )


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`; cancel it and raise ClientGone if the client disconnects first.

    Once the body is read, the next ASGI message can only be `http.disconnect`, so one
    pending `receive()` watches the connection without polling; `work` runs in the caller's
    own task (no extra task or wait per request), which the watcher cancels.
    """
    current = asyncio.current_task()
    assert current is not None
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone = True
        current.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        if hasattr(current, "uncancel"):  # 3.11+: this cancellation is handled here
            current.uncancel()
        raise ClientGone from None
    finally:
        watcher.cancel()
