"""What `/health` says about storage: whether history is recorded, where images are kept,
for how long, and whether the image directory fell back to memory (a full disk, an
unwritable data dir). Kinds only, never a path. The state store (history's home) has its
own `state` entry beside this one."""

from __future__ import annotations

from typing import Any

from imagegate import Gate

__all__ = ["storage_health"]


def storage_health(gate: Gate, *, history: bool) -> dict[str, Any]:
    problems = []
    media = gate.media
    if media.degraded:
        problems.append("new images are kept in memory: the image directory cannot be written")
    found: dict[str, Any] = {
        "history": history,
        "images": media.url.partition(":")[0],
        "retention_seconds": gate.retention,
        "pass_links": sorted(gate.pass_links),
    }
    if problems:
        found["degraded"] = problems
    return found
