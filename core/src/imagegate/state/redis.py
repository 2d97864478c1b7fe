"""The state store for several replicas: one Redis (or Valkey) that every replica shares.

Layout, under a prefix (default `imagegate:`; `?prefix=` in the URL changes it):

    <prefix><namespace>:<key>   one record: "<expiry>|<json>" (expiry in unix seconds, or
                                "-" for none), with Redis's own expiry set to the same time
    <prefix><namespace>         the namespace's index: a sorted set of keys by expiry
                                (+inf for none), so `items` and `delete(namespace)` never scan
                                the keyspace; pruned of past entries on every write, and
                                expiring itself with its last record
    <prefix>history@...         the generation history (`redis_history.py`), bounded by
                                count (`?max_history=`, default 50,000)

Every check-and-update (`put`, `add`, `delete`, `hit`) is one Lua script, so it is atomic
across replicas. Liveness is checked against this store's clock (`clock=`, the same time
source as key health's `until`), so replicas need synchronised clocks (NTP), as they do for
key health anyway; Redis's own expiry frees the memory.

Redis unreachable is never hidden: every operation raises `StateError` (the server answers
503 and says so on /health), and the client reconnects by itself on the next operation
once Redis is back. Falling back to private state would let replicas disagree silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from . import StateError, StateStore, Window
from .redis_history import DEFAULT_MAX_HISTORY, RedisHistory
from .redis_scripts import SCRIPTS

__all__ = ["RedisState"]

log = logging.getLogger("imagegate.state")
log.addHandler(logging.NullHandler())  # a library logs only where the application says

DEFAULT_PREFIX = "imagegate:"
DEFAULT_TIMEOUT = 2.0
"""Seconds to connect or to wait for an answer before a request gets its 503."""


class RedisState(RedisHistory, StateStore):
    kind = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.prefix = prefix if prefix is not None else query.pop("prefix", DEFAULT_PREFIX)
        query.pop("prefix", None)
        self.max_history = int(query.pop("max_history", DEFAULT_MAX_HISTORY))
        self._options = {
            "socket_timeout": DEFAULT_TIMEOUT,
            "socket_connect_timeout": DEFAULT_TIMEOUT,
        }
        for name in list(self._options):
            if name in query:
                del self._options[name]
        self._target = urlunsplit(parts._replace(query=urlencode(query)))
        self.url = _without_password(url)
        self.where = _where(parts)
        """host:port or socket path: what a log line or an owner's hint may show."""
        self._clock = clock
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._scripts: dict[str, Any] = {}
        self._down = False

    # -- connection -----------------------------------------------------------------------

    def _redis(self) -> aioredis.Redis:
        """The client of the running event loop: a redis-py pool belongs to one loop, and
        one store may serve several (a server's, a sync Gate's portal thread)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = aioredis.Redis.from_url(self._target, **self._options)
            if not self._scripts:  # a script runs on whichever client it is given
                self._scripts = {
                    name: client.register_script(source) for name, source in SCRIPTS.items()
                }
        return client

    def _script(self, name: str, keys: list[str], args: list[str]):
        return lambda r: self._scripts[name](keys=keys, args=args, client=r)

    async def _call(self, work: Callable[[aioredis.Redis], Any]) -> Any:
        try:
            result = await work(self._redis())
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from None
        if self._down:
            self._down = False
            log.warning("imagegate: the state store (redis at %s) is reachable again", self.where)
        return result

    def _unavailable(self, exc: BaseException) -> StateError:
        detail = f"{type(exc).__name__}: {exc}"
        if not self._down:
            self._down = True
            log.warning("imagegate: the state store (redis at %s) failed: %s", self.where, detail)
        return StateError(
            "the shared state store is unavailable; try again shortly",
            hint=f"Redis at {self.where} failed ({detail}); start it, or point "
            "IMAGEGATE_STATE_URL at one that runs",
        )

    async def check(self) -> None:
        await self._call(lambda r: r.ping())

    async def close(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
        self._clients.clear()  # other loops' pools go with their loops

    # -- the interface --------------------------------------------------------------------

    def _record(self, namespace: str, key: str) -> str:
        return f"{self.prefix}{namespace}:{key}"

    def _index(self, namespace: str) -> str:
        return f"{self.prefix}{namespace}"

    def _value(self, raw: bytes | None, now: float) -> dict[str, Any] | None:
        if raw is None:
            return None
        expiry, _, body = raw.partition(b"|")
        if expiry != b"-" and float(expiry) <= now:
            return None
        return json.loads(body)

    def _expiry(self, ttl: float | None) -> str:
        return "-" if ttl is None else repr(self._clock() + max(0.0, ttl))

    async def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        raw = await self._call(lambda r: r.get(self._record(namespace, key)))
        return self._value(raw, self._clock())

    async def get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        raws = await self._call(lambda r: r.mget([self._record(namespace, k) for k in wanted]))
        now = self._clock()
        found = {}
        for key, raw in zip(wanted, raws, strict=True):
            value = self._value(raw, now)
            if value is not None:
                found[key] = value
        return found

    async def put(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> None:
        body = json.dumps(value, separators=(",", ":"))
        args = [repr(self._clock()), self._expiry(ttl), key, body]
        keys = [self._record(namespace, key), self._index(namespace)]
        await self._call(self._script("put", keys, args))

    async def add(
        self, namespace: str, key: str, value: dict[str, Any], *, ttl: float | None = None
    ) -> dict[str, Any] | None:
        body = json.dumps(value, separators=(",", ":"))
        now = self._clock()
        args = [repr(now), self._expiry(ttl), key, body]
        keys = [self._record(namespace, key), self._index(namespace)]
        existing = await self._call(self._script("add", keys, args))
        return None if existing is None else self._value(existing, now)

    async def delete(self, namespace: str, key: str | None = None) -> int:
        if key is None:
            keys, args = [self._index(namespace)], [f"{self.prefix}{namespace}:"]
            return int(await self._call(self._script("delete_all", keys, args)))
        keys, args = [self._record(namespace, key), self._index(namespace)], [key]
        return int(await self._call(self._script("delete_one", keys, args)))

    async def items(self, namespace: str, prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
        now = self._clock()

        async def work(r: aioredis.Redis) -> list[tuple[str, bytes | None]]:
            members = await r.zrangebyscore(self._index(namespace), f"({now!r}", "+inf")
            keys = sorted(k for m in members if (k := m.decode()).startswith(prefix))
            found: list[tuple[str, bytes | None]] = []
            for start in range(0, len(keys), 500):
                batch = keys[start : start + 500]
                raws = await r.mget([self._record(namespace, k) for k in batch])
                found += zip(batch, raws, strict=True)
            return found

        found = await self._call(work)
        return [(k, v) for k, raw in found if (v := self._value(raw, now)) is not None]

    async def hit(self, namespace: str, key: str, *, window: float, limit: int) -> Window:
        now = self._clock()
        args = [repr(now), key, str(limit), repr(now + window)]
        keys = [self._record(namespace, key), self._index(namespace)]
        allowed, count, reset = await self._call(self._script("hit", keys, args))
        return Window(bool(allowed), int(count), limit, float(reset))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _where(parts) -> str:
    if parts.scheme == "unix":
        return parts.path
    return parts.netloc.rpartition("@")[2] or "localhost:6379"
