"""Key health through the public API: what one answer teaches about a token, for how long,
and that nothing is sent with a token known to be unusable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import imagegate
from imagegate import Provider
from imagegate.errors import AuthInvalid, PermissionDenied, QuotaExceeded, RateLimited
from imagegate.state import fingerprint
from tests.fakes import FakePlugin

ROOT = Path(__file__).resolve().parents[2]

CONTINUOUS = Provider(  # like ZeroGPU: no daily reset, the answer says how long to wait
    id="zero",
    display_name="Zero",
    model_prefix="zero",
    auth_prefix="zr",
    auth="optional",
    quota_reset=None,
)
SHANGHAI = Provider(
    id="cn",
    display_name="CN",
    model_prefix="cn",
    auth_prefix="cn",
    auth="required",
    quota_reset="00:00+08:00",
    quota_scope="model",
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:  # 2027-01-15 08:00 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now


def tokens_sent(plugin: FakePlugin) -> list[str | None]:
    return [call["token"] for call in plugin.calls]


def test_three_tokens_invalid_cooling_and_fine_send_exactly_one_request():
    plugin = FakePlugin()
    tokens = {"fake": "invalid-token,spent-token,fine-token"}
    with imagegate.Gate(plugins=[plugin], tokens=tokens, state="memory") as gate:
        plugin.failures = [AuthInvalid("bad key"), QuotaExceeded("spent")]
        gate.generate("a cat", model="fake/basic")  # learns: invalid, cooling, fine
        assert tokens_sent(plugin) == ["invalid-token", "spent-token", "fine-token"]
        plugin.calls.clear()
        gate.generate("a cat", model="fake/basic")
        states = {row.fingerprint: row.state for row in gate.key_status("fake")}
    assert tokens_sent(plugin) == ["fine-token"]
    assert states == {
        "anonymous": "ok",  # an optional-auth provider: use without a token has its own row
        fingerprint("invalid-token"): "invalid",
        fingerprint("spent-token"): "cooling",
        fingerprint("fine-token"): "ok",
    }


def test_a_zerogpu_like_wait_cools_anonymous_use_for_that_long_and_no_longer():
    plugin = FakePlugin(provider=CONTINUOUS)
    plugin.failures = [QuotaExceeded("GPU quota exceeded. Try again in 0:12:34", retry_after=754)]
    clock = Clock()
    with imagegate.Gate(plugins=[plugin], clock=clock, state="memory") as gate:
        with pytest.raises(QuotaExceeded) as first:
            gate.generate("a cat", model="zero/basic")
        assert first.value.retry_after == 754
        clock.now += 753
        with pytest.raises(QuotaExceeded, match="anonymous") as second:
            gate.generate("a cat", model="zero/basic")
        assert second.value.retry_after == pytest.approx(1, abs=0.01)
        assert len(plugin.calls) == 1  # nothing was sent while it cooled
        [row] = gate.key_status("zero")
        assert (row.source, row.state, row.until) == ("anonymous", "cooling", clock.now + 1)
        clock.now += 2
        gate.generate("a cat", model="zero/basic")
    assert len(plugin.calls) == 2


def test_a_quota_without_a_wait_rests_until_the_providers_own_midnight():
    plugin = FakePlugin(provider=SHANGHAI)
    plugin.failures = [QuotaExceeded("daily limit", scope="token")]
    clock = Clock(1_800_000_000.0)  # 16:00 in Asia/Shanghai
    tokens = {"cn": "one-token-1,two-token-2"}
    with imagegate.Gate(plugins=[plugin], tokens=tokens, clock=clock, state="memory") as gate:
        gate.generate("a cat", model="cn/basic")
        rows = {r.fingerprint: r for r in gate.key_status("cn")}
    spent = rows[fingerprint("one-token-1")]
    assert spent.state == "cooling" and spent.model is None  # the error said: whole token
    assert spent.until == 1_800_000_000.0 + 8 * 3600  # 00:00 Asia/Shanghai, not UTC


def test_a_per_model_quota_leaves_the_tokens_other_models_usable():
    plugin = FakePlugin(provider=SHANGHAI)  # quota_scope="model"
    plugin.failures = [QuotaExceeded("this model's daily limit")]
    with imagegate.Gate(plugins=[plugin], tokens={"cn": "one-token-1"}, state="memory") as gate:
        with pytest.raises(QuotaExceeded):
            gate.generate("a cat", model="cn/basic")
        gate.generate("a cat", model="cn/plain")  # same token, another model: sent
        with pytest.raises(QuotaExceeded, match="cn/basic"):
            gate.generate("a cat", model="cn/basic")  # known spent: not sent
    assert [c["request"].model for c in plugin.calls] == ["cn/basic", "cn/plain"]


def test_a_plan_refusal_moves_to_the_next_token_for_that_model_only():
    plugin = FakePlugin()
    plugin.failures = [PermissionDenied("this model needs a paid plan")]
    with imagegate.Gate(plugins=[plugin], tokens={"fake": "free-key,paid-key"}) as gate:
        gate.generate("a cat", model="fake/basic")
        gate.generate("a cat", model="fake/plain")
    assert tokens_sent(plugin) == ["free-key", "paid-key", "free-key"]


def test_every_key_refused_for_a_model_is_a_permission_error_not_a_rate_limit():
    plugin = FakePlugin()
    plugin.failures = [PermissionDenied("needs a paid plan"), PermissionDenied("needs a paid plan")]
    with imagegate.Gate(plugins=[plugin], tokens={"fake": "free-1-key,free-2-key"}) as gate:
        with pytest.raises(PermissionDenied):
            gate.generate("a cat", model="fake/basic")
        with pytest.raises(PermissionDenied, match="not allowed for fake/basic"):
            gate.generate("a cat", model="fake/basic")  # known: nothing sent
    assert len(plugin.calls) == 2


def test_a_wait_of_days_is_clamped_to_a_day_and_the_message_says_so():
    plugin = FakePlugin()
    plugin.failures = [RateLimited("slow down", retry_after=5 * 86400)]
    clock = Clock()
    with imagegate.Gate(plugins=[plugin], clock=clock, state="memory", retries=0) as gate:
        with pytest.raises(RateLimited) as caught:
            gate.generate("a cat", model="fake/basic")
        [row] = gate.key_status("fake")
    assert "asked to wait 5 days; imagegate waits 24 h instead" in caught.value.message
    assert row.until == clock.now + 86400


def test_a_retry_after_in_the_past_becomes_one_second():
    plugin = FakePlugin()
    plugin.failures = [RateLimited("slow down", retry_after=0)]
    with imagegate.Gate(plugins=[plugin], state="memory", retries=0) as gate:
        with pytest.raises(RateLimited, match="a time in the past; imagegate waits 1 s"):
            gate.generate("a cat", model="fake/basic")


def test_keys_reset_forgets_what_was_learnt():
    plugin = FakePlugin()
    plugin.failures = [QuotaExceeded("spent")]
    with imagegate.Gate(plugins=[plugin], tokens={"fake": "a-token-1,b-token-2"}) as gate:
        gate.generate("a cat", model="fake/basic")
        assert gate.reset_keys("fake") == 1
        gate.generate("a cat", model="fake/basic")
    assert tokens_sent(plugin) == ["a-token-1", "b-token-2", "a-token-1"]


LEARN = """
import imagegate
from imagegate.errors import QuotaExceeded
from tests.fakes import FakePlugin
plugin = FakePlugin()
plugin.failures = [QuotaExceeded("spent")]
with imagegate.Gate(plugins=[plugin], tokens={"fake": "shared-token,other-token"}) as gate:
    gate.generate("a cat", model="fake/basic")
print([c["token"] for c in plugin.calls])
"""


def test_a_second_process_knows_what_the_first_learnt():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(
        [sys.executable, "-c", LEARN], env=env, capture_output=True, text=True, check=True
    )
    assert first.stdout.strip() == "['shared-token', 'other-token']"
    plugin = FakePlugin()  # this process, the same state file (IMAGEGATE_HOME)
    with imagegate.Gate(plugins=[plugin], tokens={"fake": "shared-token,other-token"}) as gate:
        gate.generate("a cat", model="fake/basic")
    assert tokens_sent(plugin) == ["other-token"]


def test_requests_that_find_key_health_stale_at_once_share_one_store_read():
    """Fifty concurrent calls with nothing read yet ask the store once, not fifty times
    (with Redis or SQLite behind it, a read per caller each second adds up)."""
    import asyncio

    from imagegate.state.memory import MemoryState

    class CountingState(MemoryState):
        reads = 0

        async def get_many(self, namespace, keys):
            if namespace == "health":
                CountingState.reads += 1
                await asyncio.sleep(0.01)  # a round trip, as to SQLite's thread or Redis
            return await super().get_many(namespace, keys)

    plugin = FakePlugin()
    store = CountingState()

    async def fifty() -> None:
        async with imagegate.Gate(
            plugins=[plugin], tokens={"fake": "one-token-1"}, state=store
        ) as gate:
            results = await asyncio.gather(
                *(gate.agenerate(f"cat {i}", model="fake/basic") for i in range(50))
            )
            assert all(len(r.images) == 1 for r in results)

    asyncio.run(fifty())
    assert len(plugin.calls) == 50
    assert CountingState.reads == 1
