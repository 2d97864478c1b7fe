"""One updating status line on stderr while a generation runs, and only on a terminal.

Fed by the `progress=` callback of `Gate.agenerate` (`imagegate.Progress` events) and by a
ticker, so the elapsed time moves even when a provider reports nothing. When a failover
chain moves on (`any/<family>`, `--fallback`), the hand-over stays at the head of the line
(`hf: quota spent, retry in 12 min 34 s -> gitee`) while the next model works. Piped output gets
none of it: scripts see only results on stdout and warnings or errors on stderr.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from imagegate import Progress

_CLEAR = "\r\x1b[K"
_TICK = 0.25


def wanted(stream: TextIO | None = None, *, disabled: bool = False) -> bool:
    stream = stream or sys.stderr
    if disabled:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressLine:
    """Renders the latest state of each concurrent call of one request on a single line."""

    def __init__(self, provider: str, model: str, stream: TextIO | None = None) -> None:
        self.provider = provider
        self.model = model
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.events: dict[int, Progress] = {}
        self.latest: Progress | None = None
        self.handover: str | None = None
        self._shown = False

    def __call__(self, event: Progress) -> None:
        self.provider, self.model = event.provider or self.provider, event.model or self.model
        if event.stage == "failover":
            self.handover = event.message
            self.events.clear()
            self.latest = None
        else:
            self.events[event.index] = event
            self.latest = event
        self.render()

    def text(self) -> str:
        parts = [f"{self.provider} {self.model}"]
        if self.handover:
            parts.insert(0, self.handover)
        latest = self.latest
        if len(self.events) > 1:
            done = sum(1 for e in self.events.values() if e.stage == "done")
            parts.append(f"{done}/{len(self.events)} done")
        if latest is not None:
            parts.extend(_describe(latest))
        else:
            parts.append("waiting")
        parts.append(f"{time.monotonic() - self.started:.1f}s")
        return " · ".join(parts)

    def render(self) -> None:
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        line = self.text()
        if len(line) > width:
            line = line[: width - 1] + "…"
        self.stream.write(_CLEAR + line)
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._shown = False

    async def tick(self) -> None:
        """Redraw a few times a second until cancelled."""
        while True:
            self.render()
            await asyncio.sleep(_TICK)


def _describe(event: Progress) -> list[str]:
    parts = [event.status or event.stage]
    if event.queue_position is not None:
        size = f"/{event.queue_size}" if event.queue_size else ""
        parts.append(f"queue {event.queue_position}{size}")
    if event.eta is not None:
        parts.append(f"eta {event.eta:.0f}s")
    if event.step is not None:
        total = f"/{event.total_steps}" if event.total_steps else ""
        parts.append(f"step {event.step}{total}")
    if event.message:
        parts.append(event.message)
    return parts
