"""Where async jobs run: the seam between the job records and the work itself.

`Jobs` (jobs.py) keeps every job in the state store and decides what runs; a `JobRunner`
runs it. `LocalRunner` runs jobs as asyncio tasks of this process, at most `max_jobs` at a
time (the rest stay `queued`). `StreamRunner` (stream_runner.py) also hands jobs to every
replica on one Redis (`shared`: `submit`, `renew`); the records, ids, ownership and resume
logic stay in `Jobs`.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

__all__ = ["JobRunner", "LocalRunner"]

Work = Callable[[], Awaitable[None]]


class JobRunner(ABC):
    """Runs job work; `Jobs` calls it, never the routes."""

    closing: bool = False
    """True once `aclose` began: a job cancelled now leaves its record resumable."""
    shared: bool = False
    """Whether `submit` hands a job to whichever replica has room (else only `start`)."""

    def begin(self) -> None:
        """Start taking jobs from other replicas (only where `shared`; in the event loop)."""
        return None

    async def submit(self, job_id: str) -> None:
        """Queue a job for any replica (only where `shared`)."""
        raise NotImplementedError

    async def renew(self, job_id: str) -> bool:
        """Keep a submitted job running here; False once another replica took it over."""
        raise NotImplementedError

    @abstractmethod
    def start(self, job_id: str, work: Work) -> None:
        """Run `work` (it records its own progress and outcome) when there is room."""

    @abstractmethod
    def cancel(self, job_id: str) -> bool:
        """Cancel the job if it runs here; False if this runner does not hold it."""

    @abstractmethod
    def holds(self, job_id: str) -> bool:
        """Whether the job is queued or running in this runner."""

    @abstractmethod
    async def aclose(self) -> None:
        """Stop every job (`closing` is set, so they stay resumable) and wait for them."""


class LocalRunner(JobRunner):
    def __init__(self, max_jobs: int = 16) -> None:
        self._room = asyncio.Semaphore(max_jobs)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, job_id: str, work: Work) -> None:
        async def run() -> None:
            async with self._room:
                await work()

        task = asyncio.get_running_loop().create_task(run(), name=f"imagegate-job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    def cancel(self, job_id: str) -> bool:
        task = self._tasks.get(job_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def holds(self, job_id: str) -> bool:
        task = self._tasks.get(job_id)
        return task is not None and not task.done()

    async def aclose(self) -> None:
        self.closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
