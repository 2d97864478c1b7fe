"""gradio_client kept off the event loop: one `Client` per (Space URL, token), jobs awaited
without blocking, their queue and step progress reported, and cancelled with the caller.

A `Client` costs two round trips (config, api info), so it is built once, in a thread, and
reused; at most `MAX_CLIENTS` are kept (least recently used first out, closed in a thread),
since each holds threads of its own and a server meets a new token with every caller. The
cache is keyed by a digest of the token, never the token itself. No token means anonymous:
gradio_client is told `token=False`, or it would send the machine's HF_TOKEN or hub login.
`download_files=False` makes a job return the Space's file URL: nothing is written to disk,
and the core fetches the bytes only when someone needs them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradio_client import Client

    from imagegate import GenerateContext

__all__ = ["MAX_CLIENTS", "forget", "get_client", "run_job"]

POLL_SECONDS = 0.05
"""How often job status is read while someone listens for progress."""

MAX_CLIENTS = 32
"""Clients kept at once (each runs a heartbeat thread and worker threads)."""

Key = tuple[str, str]
_clients: OrderedDict[Key, Client] = OrderedDict()
_locks: dict[Key, threading.Lock] = {}
_guard = threading.Lock()
constructed = 0
"""How many Clients this process has built (the benchmark shows it stays at one per Space)."""


def _key(url: str, token: str | None) -> Key:
    digest = hashlib.sha256(token.encode()).hexdigest() if token else "anonymous"
    return url, digest


def _import_gradio_client() -> Any:
    # gradio_client reads these when imported/constructed; we never send telemetry.
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    import gradio_client

    return gradio_client


def _cached(key: Key) -> Client | None:
    with _guard:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
        return client


def _build(url: str, token: str | None) -> Client:
    import httpx

    global constructed
    gradio_client = _import_gradio_client()
    key = _key(url, token)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one construction per key even when many calls start together
        try:
            client = _cached(key)
            if client is None:
                client = gradio_client.Client(
                    url,
                    token=token or False,  # None would mean "the machine's own token"
                    verbose=False,
                    download_files=False,
                    analytics_enabled=False,
                    # read: the queue stream gets a heartbeat every 15 s, so 60 s means dead
                    httpx_kwargs={"timeout": httpx.Timeout(60.0, connect=15.0)},
                )
                constructed += 1
                _keep(key, client)
            return client
        finally:
            with _guard:
                _locks.pop(key, None)


def _keep(key: Key, client: Client) -> None:
    with _guard:
        _clients[key] = client
        evicted = []
        while len(_clients) > MAX_CLIENTS:
            evicted.append(_clients.popitem(last=False)[1])
    for old in evicted:
        _close_later(old)


def _close_later(client: Client) -> None:
    """Stop a Client's threads once its running jobs are done (in a thread: it waits)."""

    def close() -> None:
        for pool in ("executor", "helper_executor", "stream_executor"):
            executor = getattr(client, pool, None)
            if executor is not None:
                executor.shutdown(wait=True)
        client.close()

    threading.Thread(target=close, daemon=True).start()


async def get_client(url: str, token: str | None) -> Client:
    """The Client of this Space and token, built (in a thread) on first use."""
    client = _cached(_key(url, token))
    if client is not None:
        return client
    return await asyncio.to_thread(_build, url, token)


def forget(url: str, token: str | None) -> None:
    """Drop a Space's Client (it is gone or restarted); the next call builds a fresh one."""
    with _guard:
        client = _clients.pop(_key(url, token), None)
    if client is not None:
        _close_later(client)


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
