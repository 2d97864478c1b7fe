"""Limits on one request: JSON only, the body size, and giving up when the caller has gone.

The overall deadline is the core's (`timeout=` to `agenerate`); here the body is read with
a cap before anything is parsed, and the generation runs as a task that is cancelled the
moment the client disconnects, so an abandoned request stops costing provider quota.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from .errors import BodyTooLarge, UnsupportedMediaType

__all__ = ["ClientGone", "read_body", "require_json", "unless_disconnected"]

T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before the answer was ready."""


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or a 413 once it grows past `limit` bytes (checked as it streams)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    if declared is not None and declared.isdigit():
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
    """415 unless the body is declared JSON (`application/json` or a `+json` type)."""
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
