"""The generation history in the SQLite state file: a table of its own, indexed by time and
by the columns the filters use, next to the key-value records (same file, same worker
thread, same fall-back to memory). Mixed into `SQLiteState`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from . import HistoryQuery

__all__ = ["HISTORY_SCHEMA", "SQLiteHistory"]

HISTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    id TEXT PRIMARY KEY,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    model TEXT,
    provider TEXT,
    source TEXT,
    prompt TEXT NOT NULL,
    negative_prompt TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_at ON history (at);
CREATE INDEX IF NOT EXISTS history_model ON history (model, at);
CREATE INDEX IF NOT EXISTS history_provider ON history (provider, at);
CREATE INDEX IF NOT EXISTS history_status ON history (status, at);
"""


class SQLiteHistory:
    """The history methods of `SQLiteState` (which supplies `_run`)."""

    _run: Any

    async def history_append(self, record: dict[str, Any], *, at: float) -> None:
        row = (
            str(record["id"]),
            at,
            record.get("status") or "ok",
            record.get("model"),
            record.get("provider"),
            record.get("source"),
            record.get("prompt") or "",
            record.get("negative_prompt"),
            json.dumps(record, separators=(",", ":"), ensure_ascii=False),
        )

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO history (id, at, status, model, provider, source, "
                "prompt, negative_prompt, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

        await self._run(work, lambda m: m.history_append(record, at=at))

    async def history_list(self, query: HistoryQuery) -> list[dict[str, Any]]:
        where, args = [], []
        for column, value in (
            ("model", query.model),
            ("provider", query.provider),
            ("source", query.source),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if query.failed is not None:
            where.append("status = 'failed'" if query.failed else "status != 'failed'")
        if query.before is not None:
            where.append("at < ?")
            args.append(query.before)
        if query.after is not None:
            where.append("at >= ?")
            args.append(query.after)
        if query.search:
            where.append(
                "instr(casefold(prompt || char(10) || coalesce(negative_prompt, '')), ?) > 0"
            )
            args.append(query.search.casefold())
        sql = "SELECT record FROM history"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, id DESC"
        if query.limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, query.limit))

        def work(db: sqlite3.Connection) -> list[dict[str, Any]]:
            return [json.loads(text) for (text,) in db.execute(sql, args).fetchall()]

        return await self._run(work, lambda m: m.history_list(query))

    async def history_get(self, record_id: str) -> dict[str, Any] | None:
        def work(db: sqlite3.Connection) -> dict[str, Any] | None:
            row = db.execute("SELECT record FROM history WHERE id = ?", (record_id,)).fetchone()
            return None if row is None else json.loads(row[0])

        return await self._run(work, lambda m: m.history_get(record_id))

    async def history_delete(
        self, ids: Iterable[str] | None = None, *, before: float | None = None
    ) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(ids or ()))

        def work(db: sqlite3.Connection) -> list[dict[str, Any]]:
            doomed: dict[str, str] = {}
            db.execute("BEGIN IMMEDIATE")
            try:
                if before is not None:
                    rows = db.execute("SELECT id, record FROM history WHERE at < ?", (before,))
                    doomed.update(rows.fetchall())
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    sql = f"SELECT id, record FROM history WHERE id IN ({marks})"
                    doomed.update(db.execute(sql, chunk).fetchall())
                keys = list(doomed)
                for start in range(0, len(keys), 500):
                    chunk = keys[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    db.execute(f"DELETE FROM history WHERE id IN ({marks})", chunk)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return [json.loads(text) for text in doomed.values()]

        return await self._run(work, lambda m: m.history_delete(wanted, before=before))
