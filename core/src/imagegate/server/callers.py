"""Who is calling (for binding jobs and idempotency records to them) and what their
headers ask of time: `Prefer: respond-async`, `Idempotency-Key`, and the OpenAI SDK's
`x-stainless-retry-count` and `x-stainless-read-timeout`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.datastructures import Headers

from imagegate.errors import InvalidRequest
from imagegate.state import fingerprint

__all__ = ["MAX_IDEMPOTENCY_KEY", "Asks", "owner_of", "read_asks"]

MAX_IDEMPOTENCY_KEY = 255
READ_TIMEOUT_MARGIN = 0.5
"""Seconds the gateway's deadline keeps before the client's read timeout, so the client
hears our 504 (which says not to retry) instead of timing out itself and retrying."""
_PREFER_SPLIT = re.compile(r"[,;]")


def owner_of(api_key: str | None, tokens: str | None) -> str:
    """A caller's stable name that reveals neither the API key nor a provider token."""
    return fingerprint(f"key:{api_key or ''}|tokens:{tokens or ''}")


@dataclass(frozen=True)
class Asks:
    """What one request's headers ask for beyond the body."""

    respond_async: bool = False
    idempotency_key: str | None = None
    retry_count: int | None = None
    """The SDK's count of earlier tries of this request; None when not sent (not an SDK)."""
    read_timeout: float | None = None

    @property
    def plain(self) -> bool:
        """Nothing but a synchronous answer is asked for: the fast path."""
        return (
            not self.respond_async
            and self.idempotency_key is None
            and self.retry_count is None
            and self.read_timeout is None
        )

    def deadline(self, timeout: float) -> float:
        """The request's deadline: the server's, capped by the client's read timeout."""
        if self.read_timeout is None:
            return timeout
        return max(0.1, min(timeout, self.read_timeout - READ_TIMEOUT_MARGIN))


PLAIN = Asks()


_ASKING = {b"prefer", b"idempotency-key", b"x-stainless-retry-count", b"x-stainless-read-timeout"}


def read_asks(headers: Headers) -> Asks:
    """The headers' asks; a 400 naming the header when one is malformed. One pass over the
    raw headers: most requests ask nothing and pay only that."""
    if not any(name in _ASKING for name, _ in headers.raw):
        return PLAIN
    prefer = headers.get("prefer")
    key = headers.get("idempotency-key")
    count = headers.get("x-stainless-retry-count")
    read = headers.get("x-stainless-read-timeout")
    return Asks(
        respond_async=prefer is not None and _prefers_async(prefer),
        idempotency_key=None if key is None else _idempotency_key(key),
        retry_count=_count(count),
        read_timeout=_seconds(read),
    )


def _prefers_async(prefer: str) -> bool:
    return any(part.strip().lower() == "respond-async" for part in _PREFER_SPLIT.split(prefer))


def _idempotency_key(key: str) -> str:
    key = key.strip()
    if not key:
        raise InvalidRequest("the Idempotency-Key header is empty", param="Idempotency-Key")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidRequest(
            f"the Idempotency-Key header is {len(key)} characters; at most "
            f"{MAX_IDEMPOTENCY_KEY} are allowed (a UUID is 36)",
            param="Idempotency-Key",
        )
    return key


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return 0


def _seconds(value: str | None) -> float | None:
    """A client's read timeout; unreadable or not positive ones are ignored."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds > 0 and seconds == seconds and seconds != float("inf") else None
