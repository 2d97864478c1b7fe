"""What the core hands a plugin's `generate`: the shared client, where to send, how long."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = ["GenerateContext", "Progress", "ProgressCallback"]


@dataclass(frozen=True)
class Progress:
    """One progress report. `stage` is one of: submitted, queued, running, progress,
    partial, retrying, fetching, done. Providers fill what they know and leave the rest None."""

    provider: str
    model: str
    stage: str
    message: str | None = None
    queue_position: int | None = None
    queue_size: int | None = None
    eta: float | None = None
    step: int | None = None
    total_steps: int | None = None
    status: str | None = None
    """The provider's own status word (ModelScope's `RUNNING`, a Space's `IN_QUEUE`)."""
    elapsed: float = 0.0
    index: int = 0
    """Which of the concurrent calls of one request this is about (0 for the first)."""
    task_id: str | None = None
    """The provider's own id of the task just submitted (stage `submitted`). Report it only
    if your `generate` can pick the task up again from `context.resume_task` (a server's
    async jobs then survive a restart of the server)."""
    partial_image: bytes | None = field(default=None, repr=False)
    """A preview of the image being made (stage `partial`), for providers that yield them;
    streaming clients receive it as OpenAI's `image_generation.partial_image`."""


ProgressCallback = Callable[[Progress], None]


@dataclass
class GenerateContext:
    """Everything a plugin needs besides the request, the model and the token."""

    client: httpx.AsyncClient
    """The shared client (aiohttp transport): use it for every HTTP call, never a new one."""
    base_url: str | None
    """Where the provider lives: the override (`IMAGEGATE_<ID>_BASE_URL`) or its default."""
    deadline: float
    """`time.monotonic()` value by which the whole request must be done."""
    provider: str = ""
    model: str = ""
    index: int = 0
    progress_callback: ProgressCallback | None = None
    started: float = field(default_factory=time.monotonic)
    warnings: list[str] = field(default_factory=list)
    """Shared by every call of one request; the result carries them to the caller."""
    resume_task: str | None = None
    """Set when this call continues a task submitted earlier (the `task_id` a plugin
    reported with `submitted`, e.g. before a server restart): poll that task instead of
    submitting a new one. Only plugins that report task ids ever see it set."""

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - time.monotonic())

    def report(self, stage: str, **details: Any) -> None:
        """Send a `Progress` to the caller; cheap when nobody listens, never raises."""
        if self.progress_callback is None:
            return
        event = Progress(
            provider=self.provider,
            model=self.model,
            stage=stage,
            elapsed=time.monotonic() - self.started,
            index=self.index,
            **details,
        )
        with contextlib.suppress(Exception):  # a broken printer must not break generation
            self.progress_callback(event)

    def warn(self, message: str) -> None:
        """Tell the caller about a change made to their request (a mapped aspect ratio)."""
        if message not in self.warnings:
            self.warnings.append(message)

    def for_call(self, index: int, resume_task: str | None = None) -> GenerateContext:
        return replace(self, index=index, resume_task=resume_task)
