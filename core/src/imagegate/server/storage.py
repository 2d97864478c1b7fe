"""What `/health` says about storage: whether history is recorded, where images are kept,
for how long, and whether either fell back to memory (a full disk, an unwritable data dir,
a corrupt database). Kinds only, never a path: `/health` is open to anyone."""

from __future__ import annotations

from typing import Any

from imagegate import Gate

__all__ = ["storage_health"]


def storage_health(gate: Gate, *, history: bool) -> dict[str, Any]:
    problems = []
    if gate.state.degraded:
        problems.append("history and key health are kept in memory: the state store failed")
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
