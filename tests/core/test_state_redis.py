"""The Redis state store against a real redis-server: shared by replicas, atomic, bounded
in memory, and loud (never private) when Redis is away. The contract every backend keeps
is in test_state.py."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

import imagegate
from imagegate.errors import QuotaExceeded
from imagegate.state import StateError, open_state
from imagegate.state.redis import RedisState
from tests.fakes import FakePlugin

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def raw_keys(url: str, prefix: str) -> dict[str, int]:
    """Every key under `prefix` with its Redis TTL in ms (-1: none); a test may scan."""
    client = aioredis.Redis.from_url(url)
    try:
        found = {}
        async for key in client.scan_iter(match=f"{prefix}*"):
            found[key.decode()] = await client.pttl(key)
        return found
    finally:
        await client.aclose()


async def test_the_url_picks_redis_and_its_prefix(redis_server, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_STATE_URL", f"{redis_server.url}?prefix=app1:")
    store = open_state()
    assert isinstance(store, RedisState) and store.kind == "redis"
    assert store.prefix == "app1:"
    await store.put("health", "k", {"v": 1})
    assert await raw_keys(redis_server.url, "app1:") == {"app1:health:k": -1, "app1:health": -1}
    await store.delete("health")
    assert await raw_keys(redis_server.url, "app1:") == {}
    await store.close()


async def test_records_and_their_index_expire_in_redis_itself(redis_server):
    store = RedisState(redis_server.unique_url())
    await store.put("health", "short", {"v": 1}, ttl=30)
    await store.put("health", "long", {"v": 2}, ttl=600)
    await store.hit("rate", "caller", window=60, limit=5)
    ttls = await raw_keys(redis_server.url, store.prefix)
    assert set(ttls) == {
        f"{store.prefix}health:short",
        f"{store.prefix}health:long",
        f"{store.prefix}health",
        f"{store.prefix}rate:caller",
        f"{store.prefix}rate",
    }
    assert all(ttl > 0 for ttl in ttls.values())  # nothing stays for ever
    assert 590_000 < ttls[f"{store.prefix}health"] <= 600_000  # the index lives as its last
    await store.close()


async def test_the_index_forgets_expired_keys_on_the_next_write(redis_server):
    clock = Clock()
    store = RedisState(redis_server.unique_url(), clock=clock)
    for n in range(20):
        await store.put("idem", f"old-{n}", {"n": n}, ttl=10)
    clock.now += 11
    await store.put("idem", "new", {"n": 0}, ttl=10)
    client = aioredis.Redis.from_url(redis_server.url)
    assert await client.zrange(f"{store.prefix}idem", 0, -1) == [b"new"]
    await client.aclose()
    assert [k for k, _ in await store.items("idem")] == ["new"]
    await store.close()


async def test_two_replicas_count_hits_and_claim_keys_atomically(redis_server):
    url = redis_server.unique_url()
    replicas = [RedisState(url), RedisState(url)]
    hits = await asyncio.gather(
        *(replicas[n % 2].hit("rate", "caller", window=60, limit=25) for n in range(60))
    )
    assert sum(h.allowed for h in hits) == 25
    assert sorted(h.count for h in hits if h.allowed) == list(range(1, 26))
    claims = await asyncio.gather(
        *(replicas[n % 2].add("idem", "request-1", {"by": n}, ttl=60) for n in range(20))
    )
    winners = [n for n, existing in enumerate(claims) if existing is None]
    assert len(winners) == 1
    assert all(c == {"by": winners[0]} for c in claims if c is not None)
    for store in replicas:
        await store.close()


async def test_a_cooling_token_learnt_by_one_gate_is_skipped_by_another(redis_server):
    url = redis_server.unique_url()
    first, second = FakePlugin(), FakePlugin()
    first.failures = [QuotaExceeded("quota spent", retry_after=600)]
    tokens = {"fake": "spent-token-1,fresh-token-2"}
    async with imagegate.Gate(plugins=[first], tokens=tokens, state=url, retries=0) as a:
        await a.agenerate("a cat", model="fake/basic")
    async with imagegate.Gate(plugins=[second], tokens=tokens, state=url, retries=0) as b:
        await b.agenerate("a cat", model="fake/basic")
        statuses = await b.akey_status("fake")
    assert [c["token"] for c in first.calls] == ["spent-token-1", "fresh-token-2"]
    assert [c["token"] for c in second.calls] == ["fresh-token-2"]
    assert "cooling" in {s.state for s in statuses}


async def test_redis_away_is_a_clear_error_and_its_return_needs_no_restart(own_redis_server):
    store = RedisState(f"redis://:hunter2-secret@127.0.0.1:{own_redis_server.port}/0")
    own_redis_server.stop()
    with pytest.raises(StateError) as caught:
        await store.put("health", "k", {"v": 1})
    error = caught.value
    assert error.code == "STATE_UNAVAILABLE" and error.status == 503
    assert error.message == "the shared state store is unavailable; try again shortly"
    assert f"127.0.0.1:{own_redis_server.port}" in error.hint  # for the owner, not the caller
    assert "hunter2" not in str(error) and "hunter2" not in repr(store)
    with pytest.raises(StateError):
        await store.check()
    own_redis_server.start()
    await store.put("health", "k", {"v": 1})  # the same store, reconnected
    assert await store.get("health", "k") == {"v": 1}
    await store.check()
    await store.close()


async def test_a_gate_on_an_unreachable_redis_refuses_rather_than_forgetting(own_redis_server):
    plugin = FakePlugin()
    own_redis_server.stop()
    async with imagegate.Gate(plugins=[plugin], state=own_redis_server.url) as gate:
        with pytest.raises(StateError, match="shared state store is unavailable"):
            await gate.agenerate("a cat", model="fake/basic")
        assert gate.state.degraded is None  # no private fallback
    assert plugin.calls == []  # nothing was spent at the provider without key health


def test_one_store_serves_the_sync_api_and_several_event_loops(redis_server):
    store = RedisState(redis_server.unique_url())
    with imagegate.Gate(plugins=[FakePlugin()], state=store) as gate:
        gate.generate("a cat", model="fake/basic")  # on the gate's own loop (a thread)
        asyncio.run(store.put("misc", "k", {"v": 1}))  # on another loop, at the same time
        assert asyncio.run(store.get("misc", "k")) == {"v": 1}
        gate.generate("a dog", model="fake/basic")  # the gate's loop kept its own pool
        assert gate.key_status("fake")


async def test_history_is_shared_bounded_by_count_and_cleared_in_batches(redis_server):
    from imagegate.state import HistoryQuery

    url = redis_server.unique_url() + "&max_history=1200"
    a, b = RedisState(url), RedisState(url)
    for n in range(1300):
        await (a if n % 2 else b).history_append({"id": f"r{n:04d}", "prompt": f"p{n}"}, at=n)
    newest = await b.history_list(HistoryQuery(limit=3))
    assert [r["id"] for r in newest] == ["r1299", "r1298", "r1297"]
    assert await a.history_get("r0099") is None  # past the bound: the oldest went
    assert (await a.history_get("r0100"))["prompt"] == "p100"
    rare = await a.history_list(HistoryQuery(search="p12", before=1000, limit=None))
    assert [r["id"] for r in rare] == [f"r{n:04d}" for n in range(129, 119, -1)]  # p12 went
    gone = await b.history_delete(before=float("inf"))
    assert len(gone) == 1200  # three batches of one script each
    assert await a.history_list(HistoryQuery()) == []
    for store in (a, b):
        await store.close()
