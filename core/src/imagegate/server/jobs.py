"""Async jobs: `Prefer: respond-async` answers 202 at once and the generation runs on.

Every job is a record in the state store (namespace `jobs`, kept `retention` seconds after
it ends), so any process sharing the store can answer for it. While a job runs, its runner
holds a short claim (`job-claims`, renewed every `HEARTBEAT` s) and keeps the record's
progress and the provider task ids current. A job whose claim lapsed while it was still
`queued` or `running` lost its process: whoever notices (the sweep every `CLAIM_TTL` s, or
its caller's next GET) takes the claim and resumes it from the provider's task ids
(`GenerateContext.resume_task`), restarts it if it never started, or ends it `failed` with
a reason when the provider has no task to pick up. A job waits for its own caller only when
it runs on that caller's provider token (never stored): then its next GET resumes it, and
its deadline still ends it. So a job is never `running` forever.

On a Redis state store, every job that needs no caller's token goes through a Redis
stream instead (`StreamRunner`, stream_runner.py): any replica with room runs it, and the
stream's pending entries, not the claims, say which replica holds it and hand a dead
replica's jobs to another (`_take`, through the same recovery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imagegate.catalog import DEFAULT_MODEL
from imagegate.errors import Cancelled, ImagegateError, Timeout
from imagegate.state import StateError, fingerprint

from . import events
from .answers import render
from .job_records import (
    ACTIVE,
    Interrupted,
    JobFinished,
    StateUnavailable,
    new_job_id,
    new_record,
    not_found,
    owned,
    valid_id,
    view,
)
from .job_runner import JobRunner, LocalRunner

if TYPE_CHECKING:
    from imagegate import Gate, Progress
    from imagegate.media import MediaStore

__all__ = ["CLAIM_TTL", "HEARTBEAT", "RETENTION", "Jobs"]

log = logging.getLogger("imagegate.server")

NS, LIVE, CLAIMS = "jobs", "jobs-active", "job-claims"
CANCELS = "job-cancels"
"""A cancel asked in another process: a key of its own, which no progress write replaces."""
HEARTBEAT = 1.0
CLAIM_TTL = 3.0
RETENTION = 24 * 3600.0
EVENTS_POLL = 1.0


@dataclass
class _Live:
    """A job running in this process: its latest progress, and who listens to it."""

    progress: dict[str, Any] | None = None
    tasks: dict[str, str] = field(default_factory=dict)
    task_model: str | None = None
    changed: bool = False
    urgent: asyncio.Event = field(default_factory=asyncio.Event)
    listeners: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = field(default_factory=set)
    final: dict[str, Any] | None = None
    """The job's record once it has ended."""
    lost: bool = False
    """Its claim lapsed and another process took the job: this one stops, records nothing."""

    def report(self, report: Progress) -> None:
        if report.partial_image is not None:
            return  # previews are for streams; a job's record holds no image bytes
        shown = events.progress(report)
        shown.pop("type")
        self.progress, self.changed = shown, True
        if report.task_id:
            self.tasks[str(report.index)] = report.task_id
            self.task_model = report.model  # a chain's tasks are of the model that ran
            self.urgent.set()  # a task id is written at once: a restart needs it
        self.publish("progress", {"type": events.PROGRESS, **shown})

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        for queue in self.listeners:
            queue.put_nowait((kind, data))


class Jobs:
    """The jobs of one server: create, look up, cancel, follow, and recover them."""

    def __init__(
        self,
        gate: Gate,
        media: MediaStore,
        *,
        timeout: float,
        retention: float = RETENTION,
        runner: JobRunner | None = None,
        envelope: Callable[[ImagegateError, bool], dict[str, Any]] | None = None,
        fallbacks: Any = None,
        history: bool = True,
        max_jobs: int = 16,
    ) -> None:
        self.gate, self.media, self.timeout, self.retention = gate, media, timeout, retention
        self.fallbacks, self.history = fallbacks, history
        self.instance = fingerprint(new_job_id())
        self.runner = runner or self._runner_for(gate, max_jobs)
        self.envelope = envelope or (lambda exc, sent_tokens=False: exc.to_openai()["error"])
        """The error object a record keeps (worded for a caller who sent tokens or not)."""
        self._live: dict[str, _Live] = {}
        self._sweeper: asyncio.Task[None] | None = None

    # -- the routes' calls ----------------------------------------------------------------

    async def create(
        self,
        *,
        owner: str,
        tokens: str | None,
        params: dict[str, Any],
        warnings: list[str],
        base: str,
        model: str | None = None,
    ) -> dict[str, Any]:
        """A new job for `params` (`Gate.agenerate` keywords, `prompt` included), started."""
        job_id = new_job_id()
        record = new_record(
            job_id,
            owner=owner,
            token=fingerprint(tokens) if tokens else None,
            request={"params": params, "warnings": warnings, "base": base},
            model=model or params.get("model") or DEFAULT_MODEL,
            timeout=self.timeout,
        )
        if self.runner.shared and not tokens:  # any replica may run it
            record["_stream"] = True
            await self._put(record)
            await self._state(self.runner.submit(job_id))
            return record
        await self._put(record)
        await self._state(self._state_of().put(LIVE, job_id, {}, ttl=self.retention))
        await self._claim(job_id)  # a new id: always free
        self._start(record, tokens, {})
        return record

    async def get(self, job_id: str, owner: str, tokens: str | None) -> dict[str, Any]:
        """The caller's job; one that lost its process is picked up (or failed) first."""
        record = owned(await self._find(job_id), job_id, owner)
        shared = record.get("_stream")  # its stream recovers it
        if record["status"] in ACTIVE and not shared and not self.runner.holds(job_id):
            record = await self._recover(record, tokens)
        return record

    async def cancel(self, job_id: str, owner: str) -> dict[str, Any]:
        record = owned(await self._find(job_id), job_id, owner)
        if record["status"] not in ACTIVE:
            raise JobFinished(
                f"job {job_id} has already {_past(record['status'])}: only a queued or "
                "running job can be cancelled",
                param="job_id",
            )
        live = self._live.get(job_id)
        cancelled = Cancelled(f"job {job_id} was cancelled by its caller")
        outcome = {"status": "cancelled", "error": self.envelope(cancelled, False)}
        if self.runner.cancel(job_id):
            if live is None:  # it was still waiting for room here: it never ran
                return await self._end(record, outcome)
            for _ in range(50):  # its own handler writes `cancelled`; usually at once
                if job_id not in self._live and (live is None or live.final is not None):
                    break
                await asyncio.sleep(0.02)
            return owned(await self._find(job_id), job_id, owner)
        # queued or running in another process: its runner sees the mark within a heartbeat
        await self._state(self._state_of().put(CANCELS, job_id, {}, ttl=self.retention))
        return await self._end(record, outcome)

    async def follow(
        self, record: dict[str, Any], owner: str, tokens: str | None, base: str | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """A job's events (`record` from `get`): its object now, progress as it comes, its
        object again whenever its status changes, the last time with its outcome."""
        job_id = record["id"]
        yield events.JOB, await self.view(record, base)
        if record["status"] not in ACTIVE:
            return
        live = self._live.get(job_id)
        if live is not None:
            queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
            live.listeners.add(queue)
            try:
                if live.final is not None:
                    yield events.JOB, await self.view(live.final, base)
                    return
                while True:
                    kind, data = await queue.get()
                    if kind == "done":  # the record: shown with this follower's links
                        yield events.JOB, await self.view(data, base)
                        return
                    yield events.PROGRESS, data
            finally:
                live.listeners.discard(queue)
        last = record
        while True:  # it runs elsewhere: follow its record
            await asyncio.sleep(EVENTS_POLL)
            record = await self.get(job_id, owner, tokens)
            if record["progress"] and record["progress"] != last["progress"]:
                yield events.PROGRESS, {"type": events.PROGRESS, **record["progress"]}
            if record["status"] != last["status"] or record["status"] not in ACTIVE:
                yield events.JOB, await self.view(record, base)
            if record["status"] not in ACTIVE:
                return
            last = record

    async def view(self, record: dict[str, Any], base: str | None = None) -> dict[str, Any]:
        """The job object its caller sees (`result` read back from the media store, its
        links under `base`: where the caller reached this server, else where it made it)."""
        return await view(record, self.media, base or record["_request"]["base"])

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Begin sweeping for jobs that lost their process (call inside the event loop)."""
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
            self.runner.begin()

    async def aclose(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(BaseException):
                await self._sweeper
            self._sweeper = None
        await self.runner.aclose()

    async def recover_all(self) -> None:
        """Pick up (or fail) every job whose process is gone and that can go on without
        its caller's token."""
        for job_id, _ in await self._state(self._state_of().items(LIVE)):
            if self.runner.holds(job_id):
                continue
            record = await self._find(job_id)
            if record is None or record["status"] not in ACTIVE:
                await self._state(self._state_of().delete(LIVE, job_id))
                continue
            await self._recover(record, None)

    async def _sweep(self) -> None:
        while True:
            # first after one claim's life: a killed process's claims have lapsed by then,
            # and a server that is only started touches no state yet
            await asyncio.sleep(CLAIM_TTL)
            try:
                await self.recover_all()
            except Exception as exc:  # a broken store must not end the sweeping
                log.warning("job sweep failed: %s", type(exc).__name__)

    # -- running ----------------------------------------------------------------------------

    async def _recover(self, record: dict[str, Any], tokens: str | None) -> dict[str, Any]:
        job_id = record["id"]
        state = self._state_of()
        if await self._state(state.get(CLAIMS, job_id)) is not None:
            return record  # its process is alive
        if not await self._claim(job_id):
            return record
        if time.time() >= record["_deadline"]:
            return await self._expire(record)
        if record["_token"] is not None and (
            tokens is None or fingerprint(tokens) != record["_token"]
        ):
            await self._state(state.delete(CLAIMS, job_id))  # its caller's next GET resumes it
            return record
        if record["status"] == "running" and not record["_tasks"]:
            return await self._interrupt(record)
        self._start(record, tokens if record["_token"] is not None else None, _resume(record))
        return record

    async def _take(self, job_id: str) -> bool:
        """Run a job this replica read from the stream: a new one, or one whose replica
        stopped (resumed, restarted or failed as `_recover` would). True once it has
        ended, so its entry is done with."""
        try:
            record = await self._find(job_id)
            if record is not None and record["status"] in ACTIVE:
                if time.time() >= record["_deadline"]:
                    await self._expire(record)
                elif record["status"] == "running" and not record["_tasks"]:
                    await self._interrupt(record)
                else:
                    await self._execute(job_id, None, _resume(record))
        except asyncio.CancelledError:  # by its caller, or it went to another replica
            if self.runner.closing:
                return False
            current = asyncio.current_task()
            if current is not None and hasattr(current, "uncancel"):  # Python 3.11+
                current.uncancel()  # handled: what follows may use timeouts again
        if self.runner.closing:
            return False  # left pending: another replica resumes it
        record = await self._find(job_id)
        return record is None or record["status"] not in ACTIVE

    async def _expire(self, record: dict[str, Any]) -> dict[str, Any]:
        timeout = Timeout(f"job {record['id']} did not finish before its deadline")
        return await self._end(record, {"status": "failed", "error": self.envelope(timeout, False)})

    async def _interrupt(self, record: dict[str, Any]) -> dict[str, Any]:
        provider = self._provider_name(record["model"])
        stopped = Interrupted(
            f"the server stopped while job {record['id']} was running, and {provider} gives "
            "no task id to pick the generation up again; submit it again"
        )
        return await self._end(record, {"status": "failed", "error": self.envelope(stopped, False)})

    def _start(self, record: dict[str, Any], tokens: str | None, resume: dict[int, str]) -> None:
        job_id = record["id"]
        self.runner.start(job_id, lambda: self._execute(job_id, tokens, resume))

    async def _execute(self, job_id: str, tokens: str | None, resume: dict[int, str]) -> None:
        live = self._live[job_id] = _Live()
        keeper: asyncio.Task[None] | None = None
        final: dict[str, Any] | None = None
        try:
            record = await self._find(job_id)
            if record is None or record["status"] not in ACTIVE or record.get("_cancel"):
                return
            live.tasks = dict(record["_tasks"])
            record.update(status="running", started_at=record["started_at"] or int(time.time()))
            await self._put(record)
            current = asyncio.current_task()
            assert current is not None
            keeper = asyncio.get_running_loop().create_task(self._keep(job_id, live, current))
            asked = record["_request"]
            params = dict(asked["params"])
            if resume and record.get("_task_model"):
                params["model"] = record["_task_model"]  # pick up that model's own tasks
            try:
                result = await self.gate.agenerate(
                    params.pop("prompt"),
                    token=tokens,
                    timeout=max(0.1, record["_deadline"] - time.time()),
                    progress=live.report,
                    fallbacks=None if resume else self.fallbacks,
                    history=self.history,
                    keep_images=True,
                    resume=resume or None,
                    **params,
                )
                body = await render(result, asked["warnings"], asked["base"], record=self.media)
                final = {"status": "succeeded", "result": body, "model": result.model}
            except ImagegateError as exc:
                final = {"status": "failed", "error": self.envelope(exc, tokens is not None)}
        except asyncio.CancelledError:
            if not self.runner.closing and not live.lost:
                cancelled = Cancelled(f"job {job_id} was cancelled by its caller")
                final = {"status": "cancelled", "error": self.envelope(cancelled, False)}
            raise
        except Exception as exc:  # our own bug: the job still ends, the log says which
            log.error("job %s failed inside the server: %s", job_id, type(exc).__name__)
            final = {
                "status": "failed",
                "error": self.envelope(ImagegateError("internal error"), False),
            }
        finally:
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(BaseException):
                    await keeper
            try:
                if final is not None:
                    found = await self._find(job_id)
                    if found is not None:
                        await self._end(found, final, live)
                elif not live.lost:  # stopping: leave it resumable for the next process
                    await self._state(self._state_of().delete(CLAIMS, job_id))
            except ImagegateError as exc:
                log.error("job %s: its outcome could not be recorded: %s", job_id, exc.message)
            finally:
                self._live.pop(job_id, None)

    async def _keep(self, job_id: str, live: _Live, work: asyncio.Task[Any]) -> None:
        """Renew the claim, write progress and task ids, obey a cancel from elsewhere."""
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(live.urgent.wait(), HEARTBEAT)
            live.urgent.clear()
            try:
                record = await self._find(job_id)
                if record is None or record.get("_cancel") or await self._cancelled(job_id):
                    work.cancel()
                    return
                if live.changed:
                    live.changed = False
                    record.update(
                        progress=live.progress,
                        _tasks=dict(live.tasks),
                        _task_model=live.task_model,
                    )
                    await self._put(record)
                if not await self._renew(record):
                    # our claim lapsed (a stalled process) and another took the job over:
                    # it runs there now, from the same provider tasks
                    log.warning("job %s: taken over by another server; stopping here", job_id)
                    live.lost = True
                    work.cancel()
                    return
            except ImagegateError as exc:
                log.warning("job %s: state store: %s", job_id, exc.message)

    async def _end(
        self, record: dict[str, Any], outcome: dict[str, Any], live: _Live | None = None
    ) -> dict[str, Any]:
        now = time.time()
        if outcome["status"] != "cancelled" and (
            record.get("_cancel") or await self._cancelled(record["id"])
        ):
            cancelled = Cancelled(f"job {record['id']} was cancelled by its caller")
            outcome = {"status": "cancelled", "error": self.envelope(cancelled, False)}
        record.update(outcome, finished_at=int(now), expires_at=int(now + self.retention))
        record["_cancel"] = record["status"] == "cancelled"
        if live is not None and live.progress is not None:
            record["progress"] = live.progress
        await self._put(record)
        state = self._state_of()
        await self._state(state.delete(LIVE, record["id"]))
        await self._state(state.delete(CLAIMS, record["id"]))
        if live is not None:
            live.final = record
            live.publish("done", record)
        return record

    # -- the store ---------------------------------------------------------------------------

    def _state_of(self):
        return self.gate.state

    async def _cancelled(self, job_id: str) -> bool:
        return await self._state(self._state_of().get(CANCELS, job_id)) is not None

    async def _find(self, job_id: str) -> dict[str, Any] | None:
        if not valid_id(job_id):
            raise not_found(job_id)
        return await self._state(self._state_of().get(NS, job_id))

    async def _put(self, record: dict[str, Any]) -> None:
        await self._state(self._state_of().put(NS, record["id"], record, ttl=self.retention))

    async def _renew(self, record: dict[str, Any]) -> bool:
        """Keep holding a running job: its stream entry, or its claim."""
        if record.get("_stream"):
            return await self._state(self.runner.renew(record["id"]))
        # only while it is still ours (StateStore.hold): never one another process took
        mine = {"by": self.instance}
        return await self._state(self._state_of().hold(CLAIMS, record["id"], mine, ttl=CLAIM_TTL))

    async def _claim(self, job_id: str) -> bool:
        """Take the job's claim if nobody holds it."""
        mine = {"by": self.instance}
        return await self._state(self._state_of().add(CLAIMS, job_id, mine, ttl=CLAIM_TTL)) is None

    @staticmethod
    async def _state(operation):
        try:
            return await operation
        except StateError as exc:
            raise StateUnavailable(
                "this server's state store is unavailable, so jobs cannot be kept; try again later"
            ) from exc

    def _runner_for(self, gate: Gate, max_jobs: int) -> JobRunner:
        """A stream shared by every replica on a Redis store; this process's tasks else."""
        if gate.state.kind != "redis":
            return LocalRunner(max_jobs)
        from .stream_runner import StreamRunner

        return StreamRunner(gate.state, consumer=self.instance, take=self._take, max_jobs=max_jobs)

    def _provider_name(self, model: str) -> str:
        try:
            return self.gate.get_model(model).provider.display_name
        except ImagegateError:
            return "the provider"


def _resume(record: dict[str, Any]) -> dict[int, str]:
    """The provider task ids to pick a job up from, by image index."""
    return {int(index): task for index, task in record["_tasks"].items()}


def _past(status: str) -> str:
    return {"succeeded": "succeeded", "failed": "failed", "cancelled": "been cancelled"}[status]
