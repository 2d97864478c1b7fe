"""`stream: true`: one generation as Server-Sent Events, the way OpenAI's Images API streams.

Events, each named as its `type`: `imagegate.progress` while the provider works (queue
position, steps, status), `image_generation.partial_image` for previews a provider yields
(at most `partial_images` per image), then one `image_generation.completed` per image;
`error` (OpenAI's envelope) if it fails midway. sse-starlette sends a keep-alive comment
every `ping` seconds, so no proxy or client read timeout cuts a long wait.

The status line waits for the first event (at most one ping interval): a request that fails
at once (a refused token, a provider's 4xx) is an ordinary HTTP error the SDK raises as
usual. A client that disconnects cancels the generation, as a synchronous one does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from imagegate.errors import ImagegateError

from . import events
from .limits import unless_disconnected

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from imagegate import Gate

__all__ = ["MAX_STREAM_N", "PING", "stream_answer"]

PING = 15.0
"""Seconds between keep-alive comments (and the longest wait before the status line)."""
MAX_STREAM_N = 4
"""Images one stream carries: each `completed` event holds a whole image in base64."""

Item = tuple[str, Any]


async def stream_answer(
    request: Request,
    gate: Gate,
    *,
    params: dict[str, Any],
    tokens: str | None,
    timeout: float,
    warnings: list[str],
    partial_images: int,
    ping: float,
    describe: Callable[[ImagegateError], dict[str, Any]],
) -> Response:
    """Start the generation and answer with its event stream (or its early error)."""
    from sse_starlette import EventSourceResponse

    params = dict(params)
    prompt = params.pop("prompt")
    if params.get("response_format") == "url":
        warnings = [*warnings, "response_format url ignored: a stream carries images as b64_json"]
    params["response_format"] = "b64_json"  # bytes fetched inside the deadline
    queue: asyncio.Queue[Item] = asyncio.Queue()

    async def work() -> None:
        try:
            result = await gate.agenerate(
                prompt,
                token=tokens,
                timeout=timeout,
                progress=lambda report: queue.put_nowait(("progress", report)),
                **params,
            )
        except ImagegateError as exc:
            queue.put_nowait(("error", exc))
        else:
            queue.put_nowait(("done", result))

    task = asyncio.get_running_loop().create_task(work())
    try:
        first = await unless_disconnected(request, _first(queue, ping))
    except BaseException:
        await _stop(task)
        raise
    if first is not None and first[0] == "error":
        raise first[1]  # before the status line: an ordinary error answer
    content = _events(first, queue, task, warnings, partial_images, describe)
    return EventSourceResponse(content, ping=ping, headers={"Cache-Control": "no-store"})


async def _first(queue: asyncio.Queue[Item], wait: float) -> Item | None:
    with contextlib.suppress(asyncio.TimeoutError):
        return await asyncio.wait_for(queue.get(), wait)
    return None


async def _events(
    first: Item | None,
    queue: asyncio.Queue[Item],
    task: asyncio.Task[None],
    warnings: list[str],
    partial_images: int,
    describe: Callable[[ImagegateError], dict[str, Any]],
) -> AsyncIterator[Any]:
    previews: dict[int, int] = {}
    item = first
    try:
        while True:
            if item is None:
                item = await queue.get()
            kind, value = item
            item = None
            if kind == "progress":
                if value.partial_image is None:
                    yield events.sse(events.PROGRESS, events.progress(value))
                    continue
                sent = previews.get(value.index, 0)
                if sent < partial_images:
                    previews[value.index] = sent + 1
                    yield events.sse(events.PARTIAL, events.partial(value, sent))
            elif kind == "done":
                said = [*warnings, *value.warnings]
                last = len(value.images) - 1
                for index, image in enumerate(value.images):
                    shown = said if index == last else None
                    yield events.sse(
                        events.COMPLETED, events.completed(image, index, value, warnings=shown)
                    )
                return
            else:
                yield events.sse("error", {"type": "error", "error": describe(value)})
                return
    finally:
        await _stop(task)


async def _stop(task: asyncio.Task[None]) -> None:
    """Cancel the generation if it still runs (a client that left costs no more quota)."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(BaseException):
        await task
