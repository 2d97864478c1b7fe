"""What outlives a call: key health, rate windows, idempotency records, jobs, history.

One small async interface, `StateStore`, with an embedded default (SQLite in the data dir,
shared by every process of one machine), an in-process one (tests, `Gate(state="memory")`)
and, for replicas, Redis. Everything is a JSON object under `(namespace, key)`, with an
optional time to live, so each operation maps onto one atomic step of any backend:

    get / get_many / put / delete      plain records (key health, jobs)
    add                                put-if-absent, returning what was there (idempotency)
    items                              every live record of a namespace (small ones: health)
    hit                                count one event in a fixed window, refusing past a limit

and the generation history (`imagegate.history`), records ordered by time:

    history_append                     add (or replace, by id) one record at its time
    history_list                       newest first, filtered (`HistoryQuery`), bounded
    history_get / history_delete       one record by id; delete by ids or before a time

Values are JSON-serialisable dicts. Nothing here ever holds a token or base64 image data:
records name a token by its fingerprint (`fingerprint`).

`open_state(url)` picks the backend: `memory:`, `sqlite:///path/state.db`, `redis://...`,
or None for `IMAGEGATE_STATE_URL`, else `sqlite` under the data dir.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import ImagegateError

__all__ = [
    "STATE_URL_ENV",
    "HistoryQuery",
    "StateError",
    "StateStore",
    "Window",
    "fingerprint",
    "open_state",
]

STATE_URL_ENV = "IMAGEGATE_STATE_URL"


class StateError(ImagegateError):
    """The state store cannot be used (unknown, unreachable). The server answers 503.

    The message is fit for a server's caller; `hint` says which store and why (for the
    machine's owner). The SQLite store degrades to memory instead (one machine's private
    file); the Redis store raises this, since a replica must not drift apart silently.
    """

    code = "STATE_UNAVAILABLE"
    status = 503


@dataclass(frozen=True)
class Window:
    """One `hit` in a fixed window: whether it was allowed, and the window's figures."""

    allowed: bool
    count: int
    limit: int
    reset_at: float
    """Unix time at which the window starts again."""

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)


@dataclass(frozen=True)
class HistoryQuery:
    """Which history records `history_list` returns: all filters must match.

    `search` is a case-insensitive substring of the prompt or negative prompt; `model`,
    `provider` and `source` (who recorded it: `cli`, `server`, `library`) match exactly;
    `failed` True keeps failures only, False successes only; `after <= time < before` in
    unix seconds; at most `limit` records.
    """

    search: str | None = None
    model: str | None = None
    provider: str | None = None
    source: str | None = None
    failed: bool | None = None
    before: float | None = None
    after: float | None = None
    limit: int | None = 50

    def matches(self, record: dict[str, Any], at: float) -> bool:
        """The filters on one record (backends that cannot filter natively scan with it)."""
        if self.before is not None and at >= self.before:
            return False
        if self.after is not None and at < self.after:
            return False
        if self.model is not None and record.get("model") != self.model:
            return False
        if self.provider is not None and record.get("provider") != self.provider:
            return False
        if self.source is not None and record.get("source") != self.source:
            return False
        if self.failed is not None and (record.get("status") == "failed") != self.failed:
            return False
        if self.search:
            needle = self.search.casefold()
            text = f"{record.get('prompt') or ''}\n{record.get('negative_prompt') or ''}"
            if needle not in text.casefold():
                return False
        return True


def fingerprint(token: str | None) -> str:
    """A short, stable name for a token that does not reveal it (`anonymous` for none)."""
    if not token:
        return "anonymous"
    found = _PRINTS.get(token)
    if found is None:
        if len(_PRINTS) >= 1024:  # tokens come and go: the memory stays bounded
            _PRINTS.clear()
        digest = hashlib.sha256(b"imagegate-token:" + token.encode()).hexdigest()
        found = _PRINTS[token] = digest[:12]
    return found


_PRINTS: dict[str, str] = {}
"""Fingerprints by token: a server names the same few tokens on every request, and the
hash was a few microseconds each time (the tokens themselves are in memory anyway)."""


class StateStore(ABC):
    """The interface every backend implements; each method is one atomic step."""

    url: str = ""
    kind: str = ""
    """`sqlite`, `memory`, `redis`: safe to show (a URL may hold a password)."""
    degraded: str | None = None
    """Why this store is not the one asked for (it fell back to memory), or None."""

    @abstractmethod
    async def get(self, namespace: str, key: str) -> dict[str, Any] | None: ...

    async def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        found = {}
        for key in keys:
            value = await self.get(namespace, key)
            if value is not None:
                found[key] = value
        return found

    @abstractmethod
    async def put(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> None:
        """Store `value`, replacing what was there; it expires after `ttl` seconds."""

    @abstractmethod
    async def add(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> dict[str, Any] | None:
        """Store `value` only if the key is free; returns the existing value when it is not."""

    @abstractmethod
    async def hold(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> bool:
        """Store `value` if the key is free or still holds an equal value, else leave it:
        a lease renewed by its holder only. False when another value is live (the lease
        lapsed and someone else took it), so two holders never both renew one lease."""

    @abstractmethod
    async def delete(self, namespace: str, key: str | None = None) -> int:
        """Remove one record, or the whole namespace when `key` is None; how many went."""

    @abstractmethod
    async def items(self, namespace: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        """Every live record of a namespace whose key starts with `prefix`, by key."""

    @abstractmethod
    async def hit(self, namespace: str, key: str, *, window: float, limit: int) -> Window:
        """Count one event in the current `window`-second window unless `limit` is reached."""

    # -- history ------------------------------------------------------------------------
    #
    # Records are JSON objects with a string `id`, kept in time order. On Redis: a sorted
    # set of ids scored by time plus one hash (or string) per record; `history_append` is
    # ZADD + SET in one MULTI; `history_list` walks ZREVRANGEBYSCORE in pages of a few
    # hundred, applying `HistoryQuery.matches` until `limit` match (so a filter that
    # matches rarely reads at most the history's length, never more); `history_delete`
    # takes ZRANGEBYSCORE for `before`, then ZREM + DEL. No backend needs full-text search.

    @abstractmethod
    async def history_append(self, record: dict[str, Any], *, at: float) -> None:
        """Store one history record at unix time `at`; a record with the same `id` is
        replaced (so a caller may add what it learnt later: saved paths, hashes)."""

    @abstractmethod
    async def history_list(self, query: HistoryQuery) -> list[dict[str, Any]]:
        """The records `query` selects, newest first."""

    @abstractmethod
    async def history_get(self, record_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def history_delete(
        self, ids: Iterable[str] | None = None, *, before: float | None = None
    ) -> list[dict[str, Any]]:
        """Remove the records with these ids and/or older than `before`; returns them
        (callers delete the images they name). Neither given: nothing is removed."""

    async def check(self) -> None:
        """Raise StateError if the store cannot be used right now (for /health)."""
        return None

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def open_state(url: str | None = None) -> StateStore:
    """The store `url` names; None reads IMAGEGATE_STATE_URL, else SQLite in the data dir.

    Opening is cheap and lazy (no file is touched until the first operation).
    """
    url = (url or os.environ.get(STATE_URL_ENV) or "").strip()
    if not url or url == "sqlite:":
        from ..paths import data_dir
        from .sqlite import SQLiteState

        return SQLiteState(data_dir() / "state.db")
    scheme = url.partition(":")[0].lower()
    if scheme == "memory":
        from .memory import MemoryState

        return MemoryState()
    if scheme == "sqlite":
        from .sqlite import SQLiteState

        # sqlite:///abs/path (as the issue names it) and SQLAlchemy's sqlite:////abs/path
        path = url.removeprefix("sqlite:").removeprefix("//")
        path = path[1:] if path.startswith("//") else path
        return SQLiteState(os.path.expanduser(path))
    if scheme in ("redis", "rediss", "unix"):
        try:
            from .redis import RedisState  # type: ignore[import-not-found]
        except ImportError as exc:
            raise StateError(
                "the state store is Redis, whose backend is not installed here",
                hint=f"{STATE_URL_ENV} names Redis: pip install 'imagegate[redis]'",
            ) from exc
        return RedisState(url)
    raise StateError(
        f"unknown state store {url.split('://')[0]!r}",
        hint=f"set {STATE_URL_ENV} to memory:, sqlite:///path or redis://host:6379/0",
    )
