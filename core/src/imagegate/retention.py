"""How long history records and stored images are kept, and the cleanup that keeps it so.

One retention for both (default 7 days): `Gate(retention=...)`, `imagegate serve
--retention`, or `IMAGEGATE_RETENTION` (`7d`, `36h`, `90m`, `3600` seconds, `forever`).
Cleanup never runs on a request's path: after a generation is recorded, at most once per
`SWEEP_EVERY` seconds per process, a background task deletes the records older than the
retention and sweeps the media store. Every process sharing the data dir may sweep; the
work is idempotent, so two doing it at once only repeat each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .media import MediaStore
    from .state import StateStore

__all__ = ["DEFAULT_RETENTION", "RETENTION_ENV", "Janitor", "parse_retention"]

RETENTION_ENV = "IMAGEGATE_RETENTION"
DEFAULT_RETENTION = 7 * 86400.0
SWEEP_EVERY = 600.0
BATCH = 200

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_FOREVER = {"forever", "never", "none", "off", "inf"}

log = logging.getLogger("imagegate")


def parse_retention(value: float | str | None) -> float | None:
    """Seconds from `7d`, `36h`, `90m`, `3600` or a number; None means keep forever.

    ValueError names the accepted forms. None (not given) reads IMAGEGATE_RETENTION, then
    the default of 7 days.
    """
    if value is None:
        value = os.environ.get(RETENTION_ENV) or DEFAULT_RETENTION
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif value.strip().lower() in _FOREVER:
        return None
    elif match := _DURATION.match(value):
        seconds = float(match[1]) * _UNITS[(match[2] or "s").lower()]
    else:
        raise ValueError(
            f"retention {value!r} is not a duration: give e.g. 7d, 36h, 90m, 3600 (seconds) "
            "or forever"
        )
    if seconds <= 0:
        raise ValueError(f"retention must be more than 0 seconds (got {value!r}), or forever")
    return seconds


class Janitor:
    """Deletes expired history records and images in the background, throttled."""

    def __init__(
        self,
        state: Callable[[], StateStore],
        media: Callable[[], MediaStore | None],
        retention: float | None,
        clock: Callable[[], float],
    ) -> None:
        self._state = state
        self._media = media
        self.retention = retention
        self._clock = clock
        self._last: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def poke(self) -> None:
        """Start a cleanup unless one ran recently; returns at once. One due while another
        runs follows it."""
        if self.retention is None:
            return
        now = self._clock()
        if self._last is not None and now - self._last < SWEEP_EVERY:
            return
        self._last = now
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._sweeps())

    async def _sweeps(self) -> None:
        while True:
            self._again = False
            await self.sweep()
            if not self._again:
                return

    async def sweep(self) -> tuple[int, int]:
        """Delete what is past retention now: (records, images) removed."""
        if self.retention is None:
            return 0, 0
        from .state import HistoryQuery

        records = images = 0
        try:
            cutoff = self._clock() - self.retention
            state = self._state()
            while True:  # in short batches: the store keeps serving requests in between
                batch = await state.history_list(HistoryQuery(before=cutoff, limit=BATCH))
                gone = len(await state.history_delete([r["id"] for r in batch])) if batch else 0
                records += gone
                if not gone:
                    break
            media = self._media()
            if media is not None:
                images = await media.sweep()
        except Exception as exc:  # cleanup must never break anything
            log.warning("imagegate: retention cleanup failed (%s)", type(exc).__name__)
        return records, images

    async def wait(self, timeout: float = 2.0) -> None:
        """Let a running cleanup finish (a CLI run is about to exit), or give up on it."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if task.get_loop() is not asyncio.get_running_loop():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except (asyncio.TimeoutError, Exception):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
