"""gradio_client kept off the event loop: one `Client` per (Space URL, token), jobs awaited
without blocking, their queue and step progress reported, and cancelled with the caller.

A `Client` costs two round trips (config, api info), so it is built once, in a thread, and
reused until a gate closes (`close_all`); at most `MAX_CLIENTS` are kept (least recently
used first out), since each holds threads of its own and a server meets a new token with
every caller. The cache is keyed by a digest of the token, never the token itself. No token
means anonymous: gradio_client is told `token=False`, or it would send the machine's
HF_TOKEN or hub login. `download_files=False` makes a job return the Space's file URL:
nothing is written to disk, and the core fetches the bytes only when someone needs them.

Exit is never held up by a Space: a `Client` runs its jobs and its event stream on
thread pools that the interpreter joins at exit, and a stream the Space keeps open (or a
job still running after Ctrl-C) would hold the process for minutes. Each Client built here
gets daemon-thread executors instead, and `close_all` gives the Space a bounded moment to
receive the cancels and the closes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradio_client import Client

    from imagegate import GenerateContext

__all__ = ["MAX_CLIENTS", "DaemonExecutor", "close_all", "forget", "get_client", "run_job"]

POLL_SECONDS = 0.05
"""How often job status is read while someone listens for progress."""

CLOSE_SECONDS = 1.0
"""The most `close_all` waits for Spaces to take cancels and closes (exit waits on it)."""

MAX_CLIENTS = 32
"""Clients kept at once (each runs a heartbeat thread and worker threads)."""

Key = tuple[str, str]
_clients: OrderedDict[Key, Client] = OrderedDict()
_locks: dict[Key, threading.Lock] = {}
_guard = threading.Lock()
_busy: Counter[int] = Counter()
"""Jobs in flight per Client (by id): a Client dropped from the cache while busy is closed
when its last job ends."""
_dropped: dict[int, Client] = {}
_cancels: list[threading.Thread] = []
"""Job cancels under way, which `close_all` gives a moment to reach the Space."""
constructed = 0
"""How many Clients this process has built (the benchmark shows it stays at one per Space)."""


def _key(url: str, token: str | None) -> Key:
    digest = hashlib.sha256(token.encode()).hexdigest() if token else "anonymous"
    return url, digest


def _cached(key: Key) -> Client | None:
    with _guard:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
        return client


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
                _use_daemon_threads(client)
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
        _drop(old)


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
        _drop(client)


def _drop(client: Client) -> None:
    """Close a Client no longer cached: now when idle, else when its last job ends."""
    with _guard:
        if _busy[id(client)]:
            _dropped[id(client)] = client
            return
    _in_background(client.close)


def close_all(timeout: float = CLOSE_SECONDS) -> None:
    """Close every cached Client (a busy one when its last job ends), and wait at most
    `timeout` seconds for pending job cancels to reach their Spaces (none pending: no wait;
    a close itself is never waited for, it only stops a heartbeat).

    The plugin stays usable: the next call builds a fresh Client.
    """
    with _guard:
        clients = list(_clients.values())
        _clients.clear()
        idle = [c for c in clients if not _busy[id(c)]]
        _dropped.update((id(c), c) for c in clients if _busy[id(c)])
    for client in idle:
        _in_background(client.close)
    deadline = time.monotonic() + timeout
    with _guard:
        waiting = [t for t in _cancels if t.is_alive()]
    for thread in waiting:
        thread.join(max(0.0, deadline - time.monotonic()))


class DaemonExecutor(concurrent.futures.Executor):
    """One daemon thread per task, unknown to the interpreter's exit-time join: what a
    `Client` runs here (a job, its event stream) can never keep the process alive."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self._shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future[Any] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name=self._name, daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


def _use_daemon_threads(client: Client) -> None:
    """Swap the Client's thread pools (gradio_client 2: `executor`, `helper_executor`,
    `stream_executor`) for daemon ones, before it has submitted anything."""
    for name in ("executor", "helper_executor", "stream_executor"):
        pool = getattr(client, name, None)
        if isinstance(pool, concurrent.futures.ThreadPoolExecutor):
            pool.shutdown(wait=False)
            setattr(client, name, DaemonExecutor(f"imagegate-hf-{name}"))


def _in_background(work: Callable[[], object], *, awaited: bool = False) -> None:
    """Run a blocking farewell (a close, a job cancel) in a daemon thread, one `close_all`
    waits for when `awaited`; at interpreter shutdown, where no thread may start, skip it."""
    thread = threading.Thread(target=work, name="imagegate-hf-farewell", daemon=True)
    try:
        thread.start()
    except RuntimeError:  # "can't create new thread at interpreter shutdown"
        return
    if awaited:
        with _guard:
            _cancels[:] = [t for t in _cancels if t.is_alive()]
            _cancels.append(thread)


def _job_started(client: Client) -> None:
    with _guard:
        _busy[id(client)] += 1


def _job_ended(client: Client) -> None:
    with _guard:
        _busy[id(client)] -= 1
        if _busy[id(client)] > 0:
            return
        del _busy[id(client)]
        dropped = _dropped.pop(id(client), None)
    if dropped is not None:
        _in_background(dropped.close)


async def run_job(client: Client, inputs: list[Any], api_name: str, context: GenerateContext):
    """Submit, await the result without blocking the loop, report progress; a cancelled
    caller cancels the Space job (in a thread: `Job.cancel` makes a blocking request)."""
    _job_started(client)
    try:
        job = client.submit(*inputs, api_name=api_name)
    except BaseException:
        _job_ended(client)
        raise
    job.future.add_done_callback(lambda _: _job_ended(client))
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
        _in_background(job.cancel, awaited=True)
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
