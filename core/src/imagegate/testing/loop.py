"""An event loop on a thread of its own, for `check_plugin`: a plugin that blocks the loop
is caught blocking (the check's thread keeps running) instead of hanging the check."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

__all__ = ["FutureTimeout", "Stalled", "ThreadLoop"]


class Stalled(Exception):
    """The event loop stopped answering: something blocks it."""


class ThreadLoop:
    """An event loop running on a thread of its own; `run` waits for one coroutine."""

    def __enter__(self) -> ThreadLoop:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        return self

    def run(
        self, coro: Coroutine[Any, Any, Any], timeout: float, stall: float | None = None
    ) -> Any:
        """The coroutine's result; `FutureTimeout` after `timeout`, `Stalled` as soon as
        the loop has not run a callback for `stall` seconds (when given)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    return future.result(min(0.2, max(0.0, deadline - time.monotonic())))
                except FutureTimeout:
                    if time.monotonic() >= deadline:
                        raise
                    if stall is not None and not self.responsive(stall):
                        raise Stalled() from None
        except (FutureTimeout, Stalled):
            future.cancel()
            raise

    def responsive(self, within: float) -> bool:
        probe: Future[None] = Future()
        self.loop.call_soon_threadsafe(probe.set_result, None)
        try:
            probe.result(within)
        except FutureTimeout:
            return False
        return True

    def __exit__(self, *exc_info: object) -> None:
        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(drain(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()
