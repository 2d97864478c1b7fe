"""What `/health` says about storage: whether history is recorded, where images are kept,
for how long, whether the image directory fell back to memory (a full disk, an unwritable
data dir), and whether a shared image store (S3) answers. Kinds only, never a path or a
credential. The state store (history's home) has its own `state` entry beside this one."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from imagegate import Gate
from imagegate.media import MediaStore, MediaUnavailable

from .logs import log

__all__ = ["MediaProbe", "storage_health"]

PROBE_SECONDS = 3.0
"""How long /health waits for the image store to answer before calling it unreachable."""
PROBE_FRESH = 5.0
"""Seconds one probe's answer stands: a load balancer asking every second, or anyone
asking /health in a loop, costs the bucket one request per 5 s, not one per ask."""


class MediaProbe:
    """Whether the gate's image store answers, asked at most every `PROBE_FRESH` seconds."""

    def __init__(self) -> None:
        self._last: tuple[float, MediaStore, str | None] | None = None

    async def problem(self, media: MediaStore) -> str | None:
        now = time.monotonic()
        if self._last and self._last[1] is media and now - self._last[0] < PROBE_FRESH:
            return self._last[2]
        try:
            await asyncio.wait_for(media.check(), PROBE_SECONDS)
            found = None
        except MediaUnavailable as exc:
            found = f"the image store ({_kind(media)}) cannot be reached"
            log.warning("%s: %s", found, exc.hint or exc.message)  # the where, for the owner
        except asyncio.TimeoutError:
            found = f"the image store ({_kind(media)}) did not answer in {PROBE_SECONDS:g} s"
            log.warning("%s", found)
        self._last = (time.monotonic(), media, found)
        return found


def _kind(media: MediaStore) -> str:
    return media.url.partition(":")[0]


def storage_health(gate: Gate, *, history: bool, unreachable: str | None = None) -> dict[str, Any]:
    """`unreachable`: what `MediaProbe.problem` found, if anything."""
    problems = []
    media = gate.media
    if unreachable:
        problems.append(unreachable)
    if media.degraded:
        problems.append("new images are kept in memory: the image directory cannot be written")
    found: dict[str, Any] = {
        "history": history,
        "images": _kind(media),
        "retention_seconds": gate.retention,
        "pass_links": sorted(gate.pass_links),
    }
    if problems:
        found["degraded"] = problems
    return found
