"""Token rotation, retries of transient failures, the deadline, and the fan-out of n."""

from __future__ import annotations

import asyncio
import re

import pytest

import imagegate
from imagegate.errors import (
    AuthInvalid,
    ProviderError,
    ProviderUnreachable,
    QuotaExceeded,
    RateLimited,
    Timeout,
)
from imagegate.state import fingerprint
from tests.fakes import FakePlugin


class Clock:
    """A settable unix clock for waits measured in hours."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:  # 2027-01-15 08:00 UTC
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_quota_moves_to_the_next_token_and_rests_the_spent_one_until_the_daily_reset():
    plugin = FakePlugin()  # its provider resets quotas at 00:00 UTC (the default)
    plugin.failures = [QuotaExceeded("daily quota used up")]
    clock = Clock()
    tokens = {"fake": "first-token,second-token"}
    with imagegate.Gate(plugins=[plugin], tokens=tokens, clock=clock, state="memory") as gate:
        gate.generate("a cat", model="fake/basic")
        gate.generate("a cat", model="fake/basic")
        assert [c["token"] for c in plugin.calls] == ["first-token", "second-token", "second-token"]
        clock.now += 15 * 3600  # 23:00 UTC: still resting
        gate.generate("a cat", model="fake/basic")
        assert plugin.calls[-1]["token"] == "second-token"
        clock.now += 3600 + 1  # just past 00:00 UTC
        gate.generate("a cat", model="fake/basic")
    assert plugin.calls[-1]["token"] == "first-token"


def test_every_token_spent_says_when_the_first_is_back():
    plugin = FakePlugin()
    plugin.failures = [QuotaExceeded("quota spent"), QuotaExceeded("quota spent", retry_after=90)]
    tokens = {"fake": "one-token-1,two-token-2"}
    with imagegate.Gate(plugins=[plugin], tokens=tokens, state="memory") as gate:
        with pytest.raises(QuotaExceeded) as first:
            gate.generate("a cat", model="fake/basic")
        with pytest.raises(QuotaExceeded, match="Fake: no token is usable now") as second:
            gate.generate("a cat", model="fake/basic")
    assert len(plugin.calls) == 2  # the second request sent nothing
    assert 85 <= first.value.retry_after <= 90  # the sooner of midnight and 90 s
    assert re.search(r"usable again in 1 min (29|30) s", str(second.value))


def test_rate_limit_moves_to_the_next_token_and_rests_the_first_only_briefly():
    plugin = FakePlugin()
    plugin.failures = [RateLimited("slow down", retry_after=30)]
    clock = Clock()
    tokens = {"fake": "first-token,second-token"}
    with imagegate.Gate(plugins=[plugin], tokens=tokens, clock=clock, state="memory") as gate:
        gate.generate("a cat", model="fake/basic")
        gate.generate("a cat", model="fake/basic")
        clock.now += 31
        gate.generate("a cat", model="fake/basic")
    tried = [c["token"] for c in plugin.calls]
    assert tried == ["first-token", "second-token", "second-token", "first-token"]


def test_transient_failures_are_retried_honouring_retry_after():
    plugin = FakePlugin()
    plugin.failures = [
        ProviderError("502 from upstream", transient=True, retry_after=0.01),
        RateLimited("busy", retry_after=0.01),
    ]
    seen = []
    with imagegate.Gate(plugins=[plugin]) as gate:
        result = gate.generate("a cat", model="fake/basic", progress=seen.append)
    assert len(plugin.calls) == 3 and result.images
    assert [event.stage for event in seen] == ["retrying", "retrying"]


def test_retries_stop_after_the_configured_count():
    plugin = FakePlugin()
    plugin.failures = [ProviderUnreachable("down", retry_after=0.01)] * 5
    with imagegate.Gate(plugins=[plugin], retries=1) as gate:
        with pytest.raises(ProviderUnreachable):
            gate.generate("a cat", model="fake/basic")
    assert len(plugin.calls) == 2


def test_permanent_failures_are_not_retried():
    plugin = FakePlugin()
    plugin.failures = [AuthInvalid("bad key")]
    with imagegate.Gate(plugins=[plugin]) as gate, pytest.raises(AuthInvalid):
        gate.generate("a cat", model="fake/basic")
    assert len(plugin.calls) == 1


def test_the_deadline_is_a_timeout_error_naming_the_provider():
    plugin = FakePlugin(delay=5)
    with imagegate.Gate(plugins=[plugin], timeout=0.2) as gate:
        with pytest.raises(Timeout, match=r"Fake did not finish fake/basic within 0\.2s"):
            gate.generate("a cat", model="fake/basic")


def test_n_is_fanned_out_concurrently_with_consecutive_seeds():
    active = peak = 0

    class Counting(FakePlugin):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.05)
            active -= 1
            return await FakePlugin.generate(self, request, model, token, context)

    plugin = Counting()
    with imagegate.Gate(plugins=[plugin], max_concurrency=3) as gate:
        result = gate.generate("a cat", model="fake/basic", n=7, seed=100)
    assert [image.seed for image in result.images] == list(range(100, 107))
    assert peak == 3  # bounded by max_concurrency, and concurrent
    assert len({image.data for image in result.images}) == 7


def test_models_returning_several_images_per_call_are_split_by_their_limit():
    plugin = FakePlugin()
    with imagegate.Gate(plugins=[plugin]) as gate:
        result = gate.generate("a cat", model="fake/plain", n=10)
    assert [call["request"].n for call in plugin.calls] == [4, 4, 2]
    assert len(result.images) == 10


def test_one_failing_call_fails_the_request_and_cancels_the_rest():
    plugin = FakePlugin(delay=0.05)
    plugin.failures = [AuthInvalid("bad key")]
    with imagegate.Gate(plugins=[plugin]) as gate, pytest.raises(AuthInvalid):
        gate.generate("a cat", model="fake/basic", n=3)


def test_concurrent_calls_all_move_off_a_spent_token():
    class SpentFirst(FakePlugin):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            await asyncio.sleep(0.01)
            if token == "spent-token":
                self.calls.append({"token": token})
                raise QuotaExceeded("daily quota used up")
            return await FakePlugin.generate(self, request, model, token, context)

    plugin = SpentFirst()
    with imagegate.Gate(plugins=[plugin], tokens={"fake": "spent-token,fresh-token"}) as gate:
        result = gate.generate("a cat", model="fake/basic", n=6, seed=1)
        assert len(result.images) == 6
        tried = [call["token"] for call in plugin.calls]
        assert tried.count("fresh-token") == 6 and tried.count("spent-token") == 6
        plugin.calls.clear()
        gate.generate("a cat", model="fake/basic", n=3)
        assert [call["token"] for call in plugin.calls] == ["fresh-token"] * 3
        states = {row.fingerprint: row.state for row in gate.key_status("fake")}
    assert states[fingerprint("spent-token")] == "cooling"
    assert states[fingerprint("fresh-token")] == "ok"
