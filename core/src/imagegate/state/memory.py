"""The in-process state store: tests, `Gate(state="memory")`, and the fallback when the
configured store cannot be used. Thread-safe; records vanish with the process. The history
keeps the newest `MAX_HISTORY` records, so a long-lived fallback cannot grow without end."""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from . import HistoryQuery, StateStore, Window

__all__ = ["MemoryState"]

MAX_HISTORY = 10_000


class MemoryState(StateStore):
    kind = "memory"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.url = "memory:"
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[tuple[str, str], tuple[dict[str, Any], float]] = {}
        self._history: dict[str, tuple[float, dict[str, Any]]] = {}

    def _live(self, namespace: str, key: str, now: float) -> dict[str, Any] | None:
        found = self._data.get((namespace, key))
        if found is None:
            return None
        if found[1] <= now:
            del self._data[(namespace, key)]
            return None
        return found[0]

    async def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            value = self._live(namespace, key, self._clock())
            return copy.deepcopy(value) if value is not None else None

    async def put(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> None:
        with self._lock:
            self._data[(namespace, key)] = (copy.deepcopy(value), self._expiry(ttl))

    async def add(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> dict[str, Any] | None:
        with self._lock:
            existing = self._live(namespace, key, self._clock())
            if existing is not None:
                return copy.deepcopy(existing)
            self._data[(namespace, key)] = (copy.deepcopy(value), self._expiry(ttl))
            return None

    async def delete(self, namespace: str, key: str | None = None) -> int:
        with self._lock:
            doomed = [k for k in self._data if k[0] == namespace and (key is None or k[1] == key)]
            for k in doomed:
                del self._data[k]
            return len(doomed)

    async def items(self, namespace: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            now = self._clock()
            keys = sorted(k for ns, k in self._data if ns == namespace and k.startswith(prefix))
            found = [(k, self._live(namespace, k, now)) for k in keys]
            return [(k, copy.deepcopy(v)) for k, v in found if v is not None]

    async def hit(self, namespace: str, key: str, *, window: float, limit: int) -> Window:
        with self._lock:
            now = self._clock()
            record = self._live(namespace, key, now)
            if record is None:
                record = {"count": 0, "reset_at": now + window}
            allowed = record["count"] < limit
            if allowed:
                record = {**record, "count": record["count"] + 1}
            self._data[(namespace, key)] = (record, record["reset_at"])
            return Window(allowed, record["count"], limit, record["reset_at"])

    async def history_append(self, record: dict[str, Any], *, at: float) -> None:
        with self._lock:
            self._history[str(record["id"])] = (at, copy.deepcopy(record))
            if len(self._history) > MAX_HISTORY:
                oldest = min(self._history.items(), key=lambda item: (item[1][0], item[0]))
                del self._history[oldest[0]]

    async def history_list(self, query: HistoryQuery) -> list[dict[str, Any]]:
        with self._lock:
            ordered = sorted(self._history.items(), key=lambda i: (i[1][0], i[0]), reverse=True)
            found = []
            for _, (at, record) in ordered:
                if query.limit is not None and len(found) >= query.limit:
                    break
                if query.matches(record, at):
                    found.append(copy.deepcopy(record))
            return found

    async def history_get(self, record_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._history.get(record_id)
            return copy.deepcopy(found[1]) if found else None

    async def history_delete(
        self, ids: Iterable[str] | None = None, *, before: float | None = None
    ) -> list[dict[str, Any]]:
        wanted = set(ids or ())
        with self._lock:
            doomed = [
                key
                for key, (at, _) in self._history.items()
                if key in wanted or (before is not None and at < before)
            ]
            return [self._history.pop(key)[1] for key in doomed]

    def _expiry(self, ttl: float | None) -> float:
        return math.inf if ttl is None else self._clock() + max(0.0, ttl)
