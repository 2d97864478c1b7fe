"""What the server tells retrying clients, and how an SDK's retry joins the first try.

The official OpenAI SDKs retry 408, 409, 429 and 5xx answers and lost connections (twice by
default), honouring `x-should-retry`. Behind the gateway every retry is a new generation, and
the gateway has already retried the provider itself, so:

- `x-should-retry: false` (`retry_advice.py`) goes on every failure a retry cannot fix and
  on every transient one the core already retried.
- A retry the SDK marks (`x-stainless-retry-count` > 0) of a request from the same caller
  with the same body joins the first try while it is still running, or gets the answer the
  first try's client never received (kept `WINDOW` seconds). A client that disconnects
  while the SDK will retry leaves its work running for `GRACE` seconds, the SDK's longest
  pause between tries, before it is cancelled. This is per process; `Idempotency-Key`
  records work across processes and replicas.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .limits import ClientGone, unless_disconnected
from .retry_advice import should_retry

__all__ = ["GRACE", "WINDOW", "Flight", "RetryJoins", "should_retry"]

GRACE = 10.0
"""Seconds a disconnected SDK request keeps running for its retry (the SDK waits <= 8 s)."""
WINDOW = 60.0
"""Seconds an answer its client never received is kept for that client's retry."""
MAX_KEPT = 32


@dataclass
class Kept:
    """A finished answer: status, headers and body, shareable with a joining retry."""

    status: int
    body: bytes
    headers: dict[str, str]

    def response(self) -> Response:
        return Response(self.body, status_code=self.status, headers=self.headers)

    @classmethod
    def of(cls, response: Response) -> Kept:
        headers = {
            k.decode(): v.decode()
            for k, v in response.raw_headers
            if k.lower() not in (b"content-length", b"x-request-id")
        }
        return cls(response.status_code, bytes(response.body), headers)


@dataclass
class Flight:
    """One first try in progress: its joiners wait on `answer`."""

    answer: asyncio.Future[Kept] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    joiners: int = 0
    gone: bool = False
    """The first try's own client has disconnected."""
    cancel: Callable[[], None] | None = None
    _timer: asyncio.TimerHandle | None = None

    def arm(self, grace: float) -> None:
        """Cancel the work in `grace` seconds unless someone joins meanwhile."""
        self.disarm()
        if self.cancel is not None and self.joiners == 0:
            self._timer = asyncio.get_running_loop().call_later(grace, self._expire)

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self.joiners == 0 and self.cancel is not None:
            self.cancel()


class RetryJoins:
    """First tries of SDK requests in flight, and answers their clients never received."""

    def __init__(self, *, grace: float = GRACE, window: float = WINDOW) -> None:
        self.grace = grace
        self.window = window
        self._flights: dict[Any, Flight] = {}
        self._kept: OrderedDict[Any, tuple[float, Kept]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._flights) + len(self._kept)

    async def join(self, request: Request, key: Any) -> Response | None:
        """The first try's answer for a retry, or None when there is nothing to join."""
        kept = self._kept.pop(key, None)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1].response()
        flight = self._flights.get(key)
        if flight is None:
            return None
        flight.joiners += 1
        flight.disarm()
        try:
            kept_answer = await unless_disconnected(request, asyncio.shield(flight.answer))
        finally:
            flight.joiners -= 1
            if flight.gone and not flight.answer.done():
                flight.arm(self.grace)
        return kept_answer.response()

    async def run(
        self, request: Request, key: Any, work: Callable[[], Awaitable[Response]]
    ) -> Response:
        """Run a first try, shared with its retries; a disconnect cancels it after GRACE."""
        flight = Flight()
        self._flights[key] = flight
        current = asyncio.current_task()
        assert current is not None
        flight.cancel = current.cancel
        watcher = asyncio.ensure_future(_watch(request, flight, self.grace))
        try:
            response = await work()
        except asyncio.CancelledError:
            if not flight.gone:
                raise
            if hasattr(current, "uncancel"):
                current.uncancel()
            flight.answer.cancel()
            raise ClientGone from None
        except BaseException as exc:
            flight.answer.set_exception(exc)
            flight.answer.exception()  # retrieved: joiners may be none
            raise
        finally:
            watcher.cancel()
            flight.disarm()
            self._flights.pop(key, None)
        kept = Kept.of(response)
        flight.answer.set_result(kept)
        if flight.gone and flight.joiners == 0 and response.status_code == 200:
            self._keep(key, kept)
        return response

    def _keep(self, key: Any, kept: Kept) -> None:
        now = time.monotonic()
        self._kept[key] = (now + self.window, kept)
        while self._kept and (
            len(self._kept) > MAX_KEPT or next(iter(self._kept.values()))[0] <= now
        ):
            self._kept.popitem(last=False)


async def _watch(request: Request, flight: Flight, grace: float) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    flight.gone = True
    flight.arm(grace)
