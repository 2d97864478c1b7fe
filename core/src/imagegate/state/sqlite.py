"""The embedded state store: one SQLite file (WAL) shared by every process of a machine.

Every operation runs on one worker thread that owns the connection, so the event loop never
waits on the disk and the connection is never shared across threads. The thread is a daemon
of our own (not a ThreadPoolExecutor, whose workers interpreter exit joins and then refuses
work), so closing at exit works and never holds the process up. WAL lets readers and
one writer work at once; writes are short `BEGIN IMMEDIATE` transactions with a busy
timeout, so two CLI runs and a server agree without losing each other's writes.

A file that cannot be used (corrupt, locked for too long, read-only, disk full) does not stop
generation: the store says so once on stderr, marks itself `degraded`, and carries on in
memory for the rest of the process.
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from . import StateStore, Window
from .memory import MemoryState
from .sqlite_history import HISTORY_SCHEMA, SQLiteHistory

__all__ = ["SQLiteState"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires REAL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_expiry ON records (expires) WHERE expires IS NOT NULL;
"""
_SWEEP_EVERY = 200
"""Writes between two deletions of expired records (reads skip them anyway)."""


class _Worker:
    """One daemon thread running submitted callables in order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._loop, name="imagegate-state", daemon=True)
        self._thread.start()

    def submit(self, work: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((work, future))
        return future

    def stop(self) -> None:
        self._queue.put(None)

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            work, future = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(work())
                except BaseException as exc:
                    future.set_exception(exc)


class SQLiteState(SQLiteHistory, StateStore):
    kind = "sqlite"

    def __init__(self, path: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._clock = clock
        self._worker: _Worker | None = None
        self._connection: sqlite3.Connection | None = None
        self._fallback: MemoryState | None = None
        self._writes = 0
        self._guard = threading.Lock()

    # -- the worker thread ----------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=NORMAL")
                # Python's casefold, so a search matches any script the way memory does
                connection.create_function("casefold", 1, _casefold, deterministic=True)
                connection.executescript(_SCHEMA + HISTORY_SCHEMA)
            except BaseException:
                connection.close()
                raise
            self._connection = connection
        return self._connection

    async def _run(self, work: Callable[[sqlite3.Connection], T], fallback) -> T:
        if self._fallback is None:
            with self._guard:
                if self._worker is None:
                    self._worker = _Worker()
                worker = self._worker
            try:
                return await asyncio.wrap_future(worker.submit(lambda: work(self._connect())))
            except (sqlite3.Error, OSError) as exc:
                self._degrade(exc)
        assert self._fallback is not None
        return await fallback(self._fallback)

    def _degrade(self, exc: BaseException) -> None:
        with self._guard:
            if self._fallback is not None:
                return
            self._fallback = MemoryState(self._clock)
            self.degraded = (
                f"the state file {self.path} cannot be used ({type(exc).__name__}: {exc}); "
                "key health and history are kept in memory for this process only"
            )
        print(f"imagegate: warning: {self.degraded}", file=sys.stderr)

    # -- the interface --------------------------------------------------------------------

    async def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        found = await self.get_many(namespace, [key])
        return found.get(key)

    async def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        def work(db: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            marks = ",".join("?" * len(wanted))
            rows = db.execute(
                f"SELECT key, value FROM records WHERE namespace = ? AND key IN ({marks}) "
                "AND (expires IS NULL OR expires > ?)",
                (namespace, *wanted, self._clock()),
            ).fetchall()
            return {key: json.loads(value) for key, value in rows}

        return await self._run(work, lambda m: m.get_many(namespace, wanted))

    async def put(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> None:
        text = json.dumps(value, separators=(",", ":"))

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO records (namespace, key, value, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, "
                "expires = excluded.expires",
                (namespace, key, text, self._expiry(ttl)),
            )
            self._maybe_sweep(db)

        await self._run(work, lambda m: m.put(namespace, key, value, ttl=ttl))

    async def add(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> dict[str, Any] | None:
        def work(db: sqlite3.Connection) -> dict[str, Any] | None:
            return self._write_if(db, namespace, key, value, ttl, lambda live: live is None)

        return await self._run(work, lambda m: m.add(namespace, key, value, ttl=ttl))

    async def hold(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            live = self._write_if(db, namespace, key, value, ttl, lambda v: v in (None, value))
            return live is None or live == value

        return await self._run(work, lambda m: m.hold(namespace, key, value, ttl=ttl))

    def _write_if(
        self,
        db: sqlite3.Connection,
        namespace: str,
        key: str,
        value: dict[str, Any],
        ttl: float | None,
        allowed: Callable[[dict[str, Any] | None], bool],
    ) -> dict[str, Any] | None:
        """Write `value` if `allowed(the live value or None)`, in one transaction; returns
        the live value it found."""
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT value FROM records WHERE namespace = ? AND key = ? "
                "AND (expires IS NULL OR expires > ?)",
                (namespace, key, self._clock()),
            ).fetchone()
            live = None if row is None else json.loads(row[0])
            if allowed(live):
                db.execute(
                    "INSERT OR REPLACE INTO records (namespace, key, value, expires) "
                    "VALUES (?, ?, ?, ?)",
                    (namespace, key, json.dumps(value, separators=(",", ":")), self._expiry(ttl)),
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return live

    async def delete(self, namespace: str, key: str | None = None) -> int:
        def work(db: sqlite3.Connection) -> int:
            if key is None:
                cursor = db.execute("DELETE FROM records WHERE namespace = ?", (namespace,))
            else:
                cursor = db.execute(
                    "DELETE FROM records WHERE namespace = ? AND key = ?", (namespace, key)
                )
            return cursor.rowcount

        return await self._run(work, lambda m: m.delete(namespace, key))

    async def items(self, namespace: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        def work(db: sqlite3.Connection) -> list[tuple[str, dict[str, Any]]]:
            rows = db.execute(
                "SELECT key, value FROM records WHERE namespace = ? AND substr(key, 1, ?) = ? "
                "AND (expires IS NULL OR expires > ?) ORDER BY key",
                (namespace, len(prefix), prefix, self._clock()),
            ).fetchall()
            return [(key, json.loads(value)) for key, value in rows]

        return await self._run(work, lambda m: m.items(namespace, prefix))

    async def hit(self, namespace: str, key: str, *, window: float, limit: int) -> Window:
        def work(db: sqlite3.Connection) -> Window:
            now = self._clock()
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT value FROM records WHERE namespace = ? AND key = ? AND expires > ?",
                    (namespace, key, now),
                ).fetchone()
                record = json.loads(row[0]) if row else {"count": 0, "reset_at": now + window}
                allowed = record["count"] < limit
                if allowed:
                    record["count"] += 1
                db.execute(
                    "INSERT OR REPLACE INTO records (namespace, key, value, expires) "
                    "VALUES (?, ?, ?, ?)",
                    (namespace, key, json.dumps(record), record["reset_at"]),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return Window(allowed, record["count"], limit, record["reset_at"])

        return await self._run(work, lambda m: m.hit(namespace, key, window=window, limit=limit))

    async def close(self) -> None:
        with self._guard:
            worker, self._worker = self._worker, None
        if worker is None:
            return

        def shut() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        try:
            await asyncio.wait_for(asyncio.wrap_future(worker.submit(shut)), timeout=1.0)
        finally:
            worker.stop()

    # -- helpers --------------------------------------------------------------------------

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock() + max(0.0, ttl)

    def _maybe_sweep(self, db: sqlite3.Connection) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            db.execute(
                "DELETE FROM records WHERE expires IS NOT NULL AND expires <= ?", (self._clock(),)
            )


def _casefold(text: str | None) -> str | None:
    return None if text is None else text.casefold()
