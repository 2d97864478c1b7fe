"""Jobs across replicas on one Redis, through Redis Streams and one consumer group.

Why Streams: a consumer group already is the queue replicas need, with nothing of ours to
get wrong. `XADD` queues a job id; `XREADGROUP` hands each entry to exactly one replica
(the consumer is the replica's instance id), which reads a new entry only when it has room
(`max_jobs`), so a busy replica leaves work to the others; the entry stays in the group's
pending list, owned by that replica, until `XACK` once the job has ended. A replica that
dies leaves its entries pending and idle: any other takes them over with `XAUTOCLAIM`
(idle longer than `IDLE` s) and runs them through `Jobs`' own recovery (resume the
provider's task, restart a job that never started, or end it `failed` with the reason).
While a job runs, its replica resets the entry's idle time every heartbeat, by `XCLAIM`
on itself only while the entry is still its own (one Lua script), so a replica that
stalled past `IDLE` learns its job went elsewhere and stops: a job never runs twice.

Jobs waiting for their caller's own token (never stored) cannot run elsewhere: they run
here as with `LocalRunner`, sharing the same room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .job_runner import LocalRunner

if TYPE_CHECKING:
    from imagegate.state.redis import RedisState

__all__ = ["IDLE", "StreamRunner"]

log = logging.getLogger("imagegate.server")

STREAM, GROUP = "jobs-stream", "imagegate"
IDLE = 5.0
"""Seconds a running job's entry may go unrenewed before another replica takes it over."""
SWEEP = 3.0
"""Seconds between looks for entries a dead replica left pending."""
BLOCK_MS = 1000
"""How long one XREADGROUP waits for a new entry (below the client's socket timeout)."""
STALE_CONSUMER_MS = 3600 * 1000
"""A consumer (a stopped replica) with nothing pending, idle this long, is removed."""

# Reset the entry's idle time only while this consumer still owns it.
RENEW = """
local mine = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1, ARGV[3])
if #mine == 0 then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
"""

Take = Callable[[str], Awaitable[bool]]
"""Runs a job read from the stream; True once the job has ended (its entry is acked)."""


class StreamRunner(LocalRunner):
    shared = True

    def __init__(self, state: RedisState, *, consumer: str, take: Take, max_jobs: int = 16) -> None:
        super().__init__(max_jobs)
        self.state, self.consumer, self.take = state, consumer, take
        self.key = f"{state.prefix}{STREAM}"
        self._entries: dict[str, str] = {}
        """The stream entry of each job running here from the stream."""
        self._reader: asyncio.Task[None] | None = None
        self._grouped = False
        self._next_sweep = 0.0

    def begin(self) -> None:
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read())

    async def submit(self, job_id: str) -> None:
        await self._group()
        await self.state._call(lambda r: r.xadd(self.key, {"job": job_id}))

    async def renew(self, job_id: str) -> bool:
        entry = self._entries.get(job_id)
        if entry is None:
            return False
        args = (GROUP, entry, self.consumer)
        return bool(await self.state._call(lambda r: r.eval(RENEW, 1, self.key, *args)))

    async def aclose(self) -> None:
        self.closing = True
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        await super().aclose()  # its entries stay pending: another replica resumes them

    # -- reading ----------------------------------------------------------------------------

    async def _read(self) -> None:
        while True:
            await self._room.acquire()
            try:
                found = await self._next()
            except Exception as exc:  # Redis away: try again, never stop reading
                self._room.release()
                if self._grouped:  # said once; a restarted Redis may have lost the group
                    log.warning("job stream: %s", getattr(exc, "message", type(exc).__name__))
                self._grouped = False
                await asyncio.sleep(SWEEP)
                continue
            if found is None or self.holds(found[1]):
                self._room.release()
                continue
            self._run(*found)

    async def _next(self) -> tuple[str, str] | None:
        """The next entry for this replica: a dead replica's first, else a new one."""
        await self._group()
        if time.monotonic() >= self._next_sweep:
            idle = int(IDLE * 1000)
            answer = await self.state._call(
                lambda r: r.xautoclaim(self.key, GROUP, self.consumer, idle, "0-0", count=1)
            )
            if found := _first(answer[1]):
                log.warning("job %s: its replica stopped; taken over here", found[1])
                return found
            self._next_sweep = time.monotonic() + SWEEP
            await self._forget_stale()
        answer = await self.state._call(
            lambda r: r.xreadgroup(GROUP, self.consumer, {self.key: ">"}, count=1, block=BLOCK_MS)
        )
        return _first(answer[0][1]) if answer else None

    def _run(self, entry: str, job_id: str) -> None:
        self._entries[job_id] = entry

        async def run() -> None:
            try:
                if await self.take(job_id):
                    await self.state._call(lambda r: self._done(r, entry))
            except Exception as exc:  # left pending: another look picks it up again
                log.warning("job %s: %s", job_id, getattr(exc, "message", type(exc).__name__))
            finally:
                self._entries.pop(job_id, None)
                self._room.release()

        task = asyncio.get_running_loop().create_task(run(), name=f"imagegate-job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(job_id, None))

    async def _done(self, r: Any, entry: str) -> None:
        async with r.pipeline(transaction=True) as pipe:
            pipe.xack(self.key, GROUP, entry)
            pipe.xdel(self.key, entry)  # the stream holds only jobs not yet ended
            await pipe.execute()

    async def _group(self) -> None:
        if self._grouped:
            return
        from redis.exceptions import ResponseError

        async def create(r: Any) -> None:
            try:
                await r.xgroup_create(self.key, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

        await self.state._call(create)
        self._grouped = True

    async def _forget_stale(self) -> None:
        """Remove stopped replicas' consumers that hold nothing (instance ids are new in
        every process, so the group would otherwise collect one per restart)."""
        consumers = await self.state._call(lambda r: r.xinfo_consumers(self.key, GROUP))
        for consumer in consumers:
            name = consumer["name"]
            name = name.decode() if isinstance(name, bytes) else name
            idle = consumer["pending"] == 0 and consumer["idle"] > STALE_CONSUMER_MS
            if idle and name != self.consumer:
                await self.state._call(lambda r, n=name: r.xgroup_delconsumer(self.key, GROUP, n))


def _first(entries: list[Any]) -> tuple[str, str] | None:
    """(entry id, job id) of the first readable entry."""
    for entry, fields in entries:
        if entry is not None and fields and b"job" in fields:
            return entry.decode(), fields[b"job"].decode()
    return None
