"""gradio_client kept off the event loop: one `Client` per (Space URL, token), jobs awaited
without blocking, their queue and step progress reported, and cancelled with the caller.

A `Client` costs two round trips (config, api info), so it is built once, in a thread, and
reused. `download_files=False` makes a job return the Space's file URL: nothing is written
to disk, and the core fetches the bytes only when someone needs them.
"""

from __future__ import annotations

import asyncio
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradio_client import Client

    from imagegate import GenerateContext

__all__ = ["forget", "get_client", "run_job"]

POLL_SECONDS = 0.05
"""How often job status is read while someone listens for progress."""

_clients: dict[tuple[str, str | None], Client] = {}
_locks: dict[tuple[str, str | None], threading.Lock] = {}
_guard = threading.Lock()
constructed = 0
"""How many Clients this process has built (the benchmark shows it stays at one per Space)."""


def _import_gradio_client() -> Any:
    # gradio_client reads these when imported/constructed; we never send telemetry.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    import gradio_client

    return gradio_client


def _build(url: str, token: str | None) -> Client:
    import httpx

    global constructed
    gradio_client = _import_gradio_client()
    key = (url, token)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one construction per key even when many calls start together
        client = _clients.get(key)
        if client is None:
            client = gradio_client.Client(
                url,
                token=token,
                verbose=False,
                download_files=False,
                analytics_enabled=False,
                # read: the queue stream gets a heartbeat every 15 s, so 60 s means it is dead
                httpx_kwargs={"timeout": httpx.Timeout(60.0, connect=15.0)},
            )
            _clients[key] = client
            constructed += 1
        return client


async def get_client(url: str, token: str | None) -> Client:
    """The Client of this Space and token, built (in a thread) on first use."""
    client = _clients.get((url, token))
    if client is not None:
        return client
    return await asyncio.to_thread(_build, url, token)


def forget(url: str, token: str | None) -> None:
    """Drop a Space's Client (it is gone or restarted); the next call builds a fresh one."""
    client = _clients.pop((url, token), None)
    if client is not None:
        threading.Thread(target=client.close, daemon=True).start()


async def run_job(client: Client, inputs: list[Any], api_name: str, context: GenerateContext):
    """Submit, await the result without blocking the loop, report progress; a cancelled
    caller cancels the Space job (in a thread: `Job.cancel` makes a blocking request)."""
    job = client.submit(*inputs, api_name=api_name)
    waiter = asyncio.wrap_future(job.future)
    listening = context.progress_callback is not None
    last: tuple[Any, ...] | None = None
    try:
        while not waiter.done():
            await asyncio.wait({waiter}, timeout=POLL_SECONDS if listening else None)
            if listening and not waiter.done():
                last = _report(job.status(), context, last)
    except asyncio.CancelledError:
        waiter.cancel()
        threading.Thread(target=job.cancel, daemon=True).start()
        raise
    return waiter.result()


def _report(status: Any, context: GenerateContext, last: tuple[Any, ...] | None):
    """One Progress per change of queue place or step."""
    from gradio_client.utils import Status

    code = status.code
    if code == Status.IN_QUEUE:
        key: tuple[Any, ...] = (code, status.rank, status.queue_size)
        if key != last:
            context.report(
                "queued",
                status=code.value,
                queue_position=status.rank,
                queue_size=status.queue_size,
                eta=status.eta,
            )
        return key
    if code == Status.PROGRESS and status.progress_data:
        unit = status.progress_data[0]
        key = (code, unit.index, unit.length)
        if key != last:
            context.report(
                "progress",
                status=code.value,
                step=unit.index,
                total_steps=unit.length,
                message=unit.desc,
            )
        return key
    if code == Status.PROCESSING and (code,) != last:
        context.report("running", status=code.value)
        return (code,)
    return last
