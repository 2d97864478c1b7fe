"""The generation history on Redis, shared by every replica. Mixed into `RedisState`.

    <prefix>history@index      a sorted set of record ids scored by time (ties by id, as
                               the other backends order them)
    <prefix>history@records    a hash: id -> the record's JSON

Appending is one Lua script (HSET + ZADD, then trimming the oldest past `max_history`, so
Redis never holds more than that however long retention is); listing walks the sorted set
newest first in pages, applying `HistoryQuery.matches` until `limit` records match;
deleting by time takes the oldest in batches of one script each. Time retention itself is
the history module's (`history_delete(before=...)`), as on SQLite.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from . import HistoryQuery

__all__ = ["DEFAULT_MAX_HISTORY", "RedisHistory"]

DEFAULT_MAX_HISTORY = 50_000
"""Records kept at most (the newest); `?max_history=` in the URL changes it."""
_PAGE = 200

# KEYS: index, records. ARGV: id, at, json, max.
_APPEND = """
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[1], over)
  for i = 1, #oldest, 2 do redis.call('HDEL', KEYS[2], oldest[i]) end
end
return 1
"""
# KEYS: index, records. ARGV: ids... Returns the records removed.
_DELETE_IDS = """
local gone = {}
for i = 1, #ARGV do
  local record = redis.call('HGET', KEYS[2], ARGV[i])
  if record then gone[#gone + 1] = record end
  redis.call('HDEL', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[1], ARGV[i])
end
return gone
"""
# KEYS: index, records. ARGV: before (exclusive), batch size. Returns {ids taken, records}.
_DELETE_BEFORE = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
local gone = {}
for i = 1, #ids do
  local record = redis.call('HGET', KEYS[2], ids[i])
  if record then gone[#gone + 1] = record end
  redis.call('HDEL', KEYS[2], ids[i])
  redis.call('ZREM', KEYS[1], ids[i])
end
return {#ids, gone}
"""
HISTORY_SCRIPTS = {
    "history_append": _APPEND,
    "history_delete_ids": _DELETE_IDS,
    "history_delete_before": _DELETE_BEFORE,
}


def _score(value: float) -> str:
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    return repr(float(value))


class RedisHistory:
    """The history methods of `RedisState` (which supplies `_call`, `_script`, `prefix`)."""

    prefix: str
    max_history: int
    _script: Any
    _call: Any

    def _history_keys(self) -> list[str]:
        return [f"{self.prefix}history@index", f"{self.prefix}history@records"]

    async def history_append(self, record: dict[str, Any], *, at: float) -> None:
        body = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        args = [str(record["id"]), _score(at), body, str(self.max_history)]
        keys = self._history_keys()
        await self._call(self._script("history_append", keys, args))

    async def history_list(self, query: HistoryQuery) -> list[dict[str, Any]]:
        index, records = self._history_keys()
        top = "+inf" if query.before is None else f"({_score(query.before)}"
        bottom = "-inf" if query.after is None else _score(query.after)
        found: list[dict[str, Any]] = []
        offset = 0
        while query.limit is None or len(found) < query.limit:
            page = await self._call(
                lambda r, o=offset: r.zrevrangebyscore(
                    index, top, bottom, start=o, num=_PAGE, withscores=True
                )
            )
            if not page:
                break
            ids = [member for member, _ in page]
            bodies = await self._call(lambda r, ids=ids: r.hmget(records, ids))
            for (_, at), body in zip(page, bodies, strict=True):
                if body is None:
                    continue  # deleted between the two reads
                record = json.loads(body)
                if query.matches(record, at):
                    found.append(record)
                    if query.limit is not None and len(found) >= query.limit:
                        break
            offset += len(page)
        return found

    async def history_get(self, record_id: str) -> dict[str, Any] | None:
        records = self._history_keys()[1]
        body = await self._call(lambda r: r.hget(records, record_id))
        return None if body is None else json.loads(body)

    async def history_delete(
        self, ids: Iterable[str] | None = None, *, before: float | None = None
    ) -> list[dict[str, Any]]:
        keys = self._history_keys()
        gone: list[bytes] = []
        wanted = [str(i) for i in ids or ()]
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            gone += await self._call(self._script("history_delete_ids", keys, batch))
        if before is not None:
            taken = 500
            while taken == 500:
                taken, batch = await self._call(
                    self._script("history_delete_before", keys, [_score(before), "500"])
                )
                gone += batch
        return [json.loads(body) for body in gone]
