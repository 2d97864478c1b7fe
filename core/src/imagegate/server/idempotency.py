"""`Idempotency-Key`: a repeat of a request replays the first answer, never a second
generation.

The first request with a key (per caller) takes it with the state store's put-if-absent
(`add`), so two processes or replicas cannot both run it. Its answer is kept `KEEP` seconds
as a record (a body without base64, or the job it made); a repeat with the same body gets
it back (`Idempotent-Replayed: true`), one with another body is a 409. A repeat that arrives
while the first still runs waits for it. A failure is not kept: nothing was generated, so
the next try with the key runs again (a repeat waiting in the same process gets the same
failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from imagegate.errors import InvalidRequest
from imagegate.state import StateError, StateStore

from .job_records import StateUnavailable
from .limits import ClientGone, unless_disconnected

__all__ = ["KEEP", "Idempotency", "IdempotencyConflict"]

NS = "idempotency"
KEEP = 24 * 3600.0
"""Seconds a key's answer is replayed."""
PENDING_GRACE = 30.0
"""Seconds past its deadline a key stays taken by a first try that never finished (its
process died), so it can never block a key for long."""
POLL = 0.25

Outcome = dict[str, Any]
"""What a key's answer is kept as: `{"kind": "body" | "job", ...}` (JSON)."""


class IdempotencyConflict(InvalidRequest):
    code = "IDEMPOTENCY_CONFLICT"
    status = 409


class IdempotencyBusy(InvalidRequest):
    code = "IDEMPOTENCY_IN_PROGRESS"
    status = 409


_AGAIN = object()
"""A first try that ended without an answer (its client left): a waiter runs it itself."""


class Idempotency:
    def __init__(self, state: Callable[[], StateStore], *, keep: float = KEEP) -> None:
        self._state = state
        self.keep = keep
        self._local: dict[str, asyncio.Future[Any]] = {}

    async def run(
        self,
        request: Request,
        *,
        owner: str,
        key: str,
        fingerprint: bytes,
        timeout: float,
        work: Callable[[], Awaitable[tuple[Response, Outcome | None]]],
        replay: Callable[[Outcome], Awaitable[Response]],
    ) -> Response:
        """The answer for this key: `work()`'s the first time, `replay`ed afterwards."""
        slot = f"{owner}:{hashlib.sha256(key.encode()).hexdigest()[:40]}"
        print_ = hashlib.sha256(fingerprint).hexdigest()
        deadline = time.monotonic() + timeout + PENDING_GRACE
        while True:
            pending = {"state": "pending", "request": print_}
            found = await self._call(
                self._state().add(NS, slot, pending, ttl=timeout + PENDING_GRACE)
            )
            if found is None:
                return await self._first(slot, print_, work)
            if found.get("request") != print_:
                raise IdempotencyConflict(
                    "this Idempotency-Key was used for a different request; use a new key "
                    "for a new request",
                    param="Idempotency-Key",
                )
            if found.get("state") == "done":
                return _replayed(await replay(found["outcome"]))
            waited = await self._wait(request, slot, deadline)
            if waited is not None:
                return _replayed(await replay(waited))
            if time.monotonic() >= deadline:
                raise IdempotencyBusy(
                    "a request with this Idempotency-Key is still running; try again later",
                    param="Idempotency-Key",
                )

    async def _first(
        self,
        slot: str,
        print_: str,
        work: Callable[[], Awaitable[tuple[Response, Outcome | None]]],
    ) -> Response:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._local[slot] = future
        try:
            response, outcome = await work()
        except (ClientGone, asyncio.CancelledError):
            future.set_result(_AGAIN)
            await self._release(slot)
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved, whether or not anyone waits
            await self._release(slot)
            raise
        finally:
            self._local.pop(slot, None)
        if outcome is None:
            future.set_result(_AGAIN)
            await self._release(slot)
        else:
            done = {"state": "done", "request": print_, "outcome": outcome}
            await self._call(self._state().put(NS, slot, done, ttl=self.keep))
            future.set_result(outcome)
        return response

    async def _wait(self, request: Request, slot: str, deadline: float) -> Outcome | None:
        """The first try's outcome once it has one; None when it ended without one."""
        local = self._local.get(slot)
        if local is not None:
            outcome = await unless_disconnected(request, asyncio.shield(local))
            return None if outcome is _AGAIN else outcome
        while time.monotonic() < deadline:  # it runs in another process: watch its record
            await unless_disconnected(request, asyncio.sleep(POLL))
            found = await self._call(self._state().get(NS, slot))
            if found is None:
                return None
            if found.get("state") == "done":
                return found["outcome"]
        return None

    async def _release(self, slot: str) -> None:
        with contextlib.suppress(StateError):
            await self._state().delete(NS, slot)

    @staticmethod
    async def _call(operation):
        try:
            return await operation
        except StateError as exc:
            raise StateUnavailable(
                "this server's state store is unavailable, so Idempotency-Key cannot be "
                "honoured; try again later"
            ) from exc


def _replayed(response: Response) -> Response:
    response.headers["Idempotent-Replayed"] = "true"
    return response
