"""Families (`any/<family>`) and fallbacks through the public API, with in-process plugins."""

from __future__ import annotations

import asyncio

import pytest

import imagegate
from imagegate import Capabilities, FloatRange, GeneratedImage, IntRange, Model, Provider
from imagegate.errors import (
    AuthRequired,
    GenerationFailed,
    InvalidModel,
    InvalidRequest,
    ProviderUnreachable,
    QuotaExceeded,
    Timeout,
)
from tests.fakes import png_bytes

FULL = Capabilities(
    negative_prompt=True,
    steps=IntRange(min=1, max=50, default=20),
    guidance=FloatRange(min=0, max=10, default=3),
    min_side=256,
    max_side=2048,
)


class Member:
    """A provider serving one model of the family `toy` (a third-party plugin would be
    exactly this: it joins the family by declaring it)."""

    def __init__(
        self,
        name: str,
        *,
        auth: str = "optional",
        caps: Capabilities = FULL,
        family: str = "toy",
        delay: float = 0.0,
    ) -> None:
        self.provider = Provider(
            id=name, display_name=name.title(), model_prefix=name, auth_prefix=name, auth=auth
        )
        self.caps, self.family, self.delay = caps, family, delay
        self.calls: list[dict] = []
        self.failures: list[Exception] = []

    @imagegate.hookimpl
    def list_models(self):
        return [
            Model(
                id="toy-model",
                display_name="Toy",
                provider=self.provider,
                capabilities=self.caps,
                family=self.family,
            )
        ]

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        self.calls.append({"request": request, "token": token})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        return [GeneratedImage(data=png_bytes(), seed=request.seed)]


def gate(*plugins, **options) -> imagegate.Gate:
    return imagegate.Gate(plugins=list(plugins), state="memory", retries=0, **options)


# -- the family index -----------------------------------------------------------------------


def test_a_plugin_joins_a_family_by_declaring_it():
    a, b, other = Member("alpha"), Member("beta"), Member("gamma", family="other")
    with gate(a, b, other) as g:
        families = {f.full_id: [m.full_id for m in f.members] for f in g.list_families()}
        assert families == {
            "any/toy": ["alpha/toy-model", "beta/toy-model"],
            "any/other": ["gamma/toy-model"],
        }
        assert g.get_family("ANY/Toy").id == "toy"
        assert g.get_family("alpha/toy-model") is None


def test_the_family_shares_what_every_member_takes():
    narrow = Capabilities(steps=IntRange(min=4, max=30, default=8), min_side=512, max_side=1024)
    with gate(Member("alpha"), Member("beta", caps=narrow)) as g:
        shared = g.get_family("any/toy").capabilities
    assert not shared.negative_prompt and shared.guidance is None
    assert (shared.steps.min, shared.steps.max, shared.steps.default) == (4, 30, 20)
    assert (shared.min_side, shared.max_side) == (512, 1024)


def test_an_unknown_family_is_a_404_listing_the_families():
    with gate(Member("alpha"), Member("gamma", family="other")) as g:
        with pytest.raises(InvalidModel, match="any/toy, any/other") as caught:
            g.generate("a cat", model="any/nope")
        with pytest.raises(InvalidModel, match="is a family of models"):
            g.get_model("any/toy")
    assert caught.value.status == 404 and caught.value.param == "model"


# -- the order --------------------------------------------------------------------------------


def test_free_before_paid_by_default_then_the_preference_decides():
    paid, free = Member("paid", auth="required"), Member("free")
    with gate(paid, free, tokens={"paid": "paid-token-1"}) as g:
        assert g.generate("a cat", model="any/toy").provider == "free"
    with gate(paid, free, tokens={"paid": "paid-token-1"}, prefer="paid") as g:
        assert g.generate("a cat", model="any/toy").provider == "paid"


def test_the_preference_from_the_environment(monkeypatch):
    monkeypatch.setenv("IMAGEGATE_PREFER", "beta,alpha")
    with gate(Member("alpha"), Member("beta")) as g:
        assert g.generate("a cat", model="any/toy").provider == "beta"


def test_the_fastest_recently_goes_first_and_every_gate_of_the_machine_knows():
    from imagegate.state.memory import MemoryState

    store = MemoryState()  # the state store every process shares (SQLite by default)
    slow, fast = Member("slow", delay=0.3), Member("fast")

    def one(**options) -> str:
        with imagegate.Gate(plugins=[slow, fast], state=store, **options) as g:
            return g.generate("a cat", model="any/toy").provider

    assert one() == "slow"  # nothing measured yet: the order the plugins came in
    assert one(prefer="fast") == "fast"
    assert one() == "fast"  # both measured now


def test_a_member_without_a_token_is_skipped_and_named_in_the_chain():
    paid, free = Member("paid", auth="required"), Member("free")
    with gate(paid, free, prefer="paid") as g:
        result = g.generate("a cat", model="any/toy")
    assert result.provider == "free"
    assert [(s.model, s.outcome, s.code) for s in result.chain] == [
        ("free/toy-model", "served", None),
        ("paid/toy-model", "skipped", "AUTH_REQUIRED"),
    ]
    assert result.warnings == []  # a standing configuration, not news on every request
    assert not paid.calls


# -- what moves on and what stops --------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        QuotaExceeded("quota spent", retry_after=754),
        ProviderUnreachable("connection refused"),
        Timeout("did not answer in time", transient=True),
        GenerationFailed("CUDA out of memory"),
    ],
)
def test_a_failure_another_provider_can_fix_moves_on(failure):
    a, b = Member("alpha"), Member("beta")
    a.failures = [failure]
    events: list[imagegate.Progress] = []
    with gate(a, b) as g:
        result = g.generate("a cat", model="any/toy", progress=events.append)
    assert result.provider == "beta"
    assert result.warnings[0].startswith(f"alpha/toy-model failed: {failure.message}")
    [handover] = [e for e in events if e.stage == "failover"]
    assert handover.message.startswith("alpha: ") and handover.message.endswith("-> beta")
    if isinstance(failure, QuotaExceeded):
        assert handover.message == "alpha: quota spent, retry in 12 min 34 s -> beta"


@pytest.mark.parametrize(
    "failure",
    [
        GenerationFailed("Output data may contain inappropriate content."),
        InvalidRequest("the prompt was refused", param="prompt"),
    ],
)
def test_a_failure_no_provider_can_fix_stops(failure):
    a, b = Member("alpha"), Member("beta")
    a.failures = [failure]
    with gate(a, b) as g:
        with pytest.raises(type(failure), match=failure.message):
            g.generate("a cat", model="any/toy")
    assert not b.calls


def test_a_member_that_was_down_is_tried_last_for_a_while():
    a, b = Member("alpha"), Member("beta")
    a.failures = [ProviderUnreachable("connection refused")]
    with gate(a, b) as g:
        g.generate("a cat", model="any/toy")
        result = g.generate("a cat", model="any/toy")
    assert result.provider == "beta" and len(a.calls) == 1


def test_the_deadline_covers_the_whole_chain():
    a, b = Member("alpha", delay=5), Member("beta")
    with gate(a, b) as g:
        with pytest.raises(Timeout, match=r"any/toy did not finish within 0\.3s"):
            g.generate("a cat", model="any/toy", timeout=0.3)
    assert not b.calls


def test_all_failing_is_one_error_naming_each_and_the_first_back():
    a, b = Member("alpha"), Member("beta", auth="required")
    a.failures = [QuotaExceeded("quota spent", retry_after=90)]
    with gate(a, b) as g:
        with pytest.raises(QuotaExceeded) as caught:
            g.generate("a cat", model="any/toy")
    error = caught.value
    assert error.message.startswith("no model of any/toy can serve this now (")
    assert "alpha/toy-model: quota spent" in error.message
    assert "beta/toy-model: no token configured" in error.message
    assert "the first usable again is alpha/toy-model, in 1 min 30 s" in error.message
    assert error.retry_after == 90
    assert "IMAGEGATE_BETA_TOKEN" in error.hint and "IMAGEGATE_BETA_TOKEN" not in error.message


def test_nothing_usable_at_all_calls_nobody():
    a, b = Member("alpha", auth="required"), Member("beta", auth="required")
    with gate(a, b) as g:
        with pytest.raises(AuthRequired, match="alpha/toy-model: no token configured"):
            g.generate("a cat", model="any/toy")
    assert not a.calls and not b.calls


# -- the meaning of the request -----------------------------------------------------------------


def test_a_member_that_would_drop_a_parameter_waits_for_the_others():
    bare = Capabilities(negative_prompt=False, steps=IntRange(min=1, max=50, default=9))
    lossy, faithful = Member("lossy", caps=bare), Member("faithful", auth="required")
    with gate(lossy, faithful, tokens={"faithful": "token-0001"}) as g:
        result = g.generate("a cat", model="any/toy", negative_prompt="blurry")
        assert result.provider == "faithful"
        assert "lossy/toy-model skipped: it would ignore the negative prompt" in result.warnings
        plain = g.generate("a cat", model="any/toy")  # nothing to lose: free first again
    assert plain.provider == "lossy"


def test_sizes_steps_and_guidance_are_fitted_to_each_member_with_a_warning():
    small = Capabilities(
        negative_prompt=True,
        steps=IntRange(min=1, max=8, default=4),
        guidance=FloatRange(min=1, max=5, default=2),
        min_side=256,
        max_side=1024,
        size_step=16,
    )
    member = Member("small", caps=small)
    with gate(member) as g:
        result = g.generate("a cat", model="any/toy", size="2000x1000", steps=30, guidance_scale=9)
    sent = member.calls[0]["request"]
    assert (sent.width, sent.height, sent.steps, sent.guidance_scale) == (1024, 512, 8, 5)
    assert result.warnings == [
        "size 2000x1000 made as 1024x512 for small/toy-model: it takes 256-1024 px per side, "
        "multiples of 16",
        "steps 30 made as 8 for small/toy-model: it takes 1-8",
        "guidance_scale 9 made as 5 for small/toy-model: it takes 1-5",
    ]


def test_one_model_keeps_its_strict_ranges():
    with gate(Member("alpha")) as g:
        with pytest.raises(InvalidRequest, match="steps: 99 is outside 1-50"):
            g.generate("a cat", model="alpha/toy-model", steps=99)


# -- tokens -------------------------------------------------------------------------------------


def test_a_prefixed_token_goes_to_its_provider_only():
    a, b = Member("alpha", auth="required"), Member("beta", auth="required")
    with gate(a, b, prefer="beta") as g:
        g.generate("a cat", model="any/toy", token="alpha:alpha-secret-1")
    assert a.calls[0]["token"] == "alpha-secret-1" and not b.calls


def test_an_unprefixed_token_for_a_family_of_several_providers_is_refused():
    with gate(Member("alpha"), Member("beta")) as g:
        with pytest.raises(InvalidRequest, match="alpha:<token>, beta:<token>") as caught:
            g.generate("a cat", model="any/toy", token="some-secret-1")
    assert caught.value.param == "token" and "some-secret-1" not in str(caught.value)


# -- explicit fallbacks -------------------------------------------------------------------------


def test_fallbacks_of_a_gate_a_call_and_the_environment(monkeypatch):
    a, b = Member("alpha", family="x"), Member("beta", family="y")
    with gate(a, b, fallbacks={"alpha/toy-model": ["beta/toy-model"]}) as g:
        a.failures = [ProviderUnreachable("down")]
        assert g.generate("a cat", model="alpha/toy-model").provider == "beta"
    with gate(a, b) as g:
        a.failures = [ProviderUnreachable("down")]
        result = g.generate("a cat", model="alpha/toy-model", fallbacks=["beta/toy-model"])
        assert result.provider == "beta"
        a.failures = [ProviderUnreachable("down")]
        with pytest.raises(ProviderUnreachable):
            g.generate("a cat", model="alpha/toy-model")  # no fallbacks: the error itself
    monkeypatch.setenv("IMAGEGATE_FALLBACKS", "alpha/toy-model=beta/toy-model")
    with gate(a, b) as g:
        a.failures = [ProviderUnreachable("down")]
        assert g.generate("a cat", model="alpha/toy-model").provider == "beta"


def test_an_explicit_chain_keeps_its_order_and_its_unprefixed_token_for_the_first():
    a = Member("alpha", auth="required", family="x")
    b = Member("beta", family="y")
    with gate(a, b, fallbacks={"alpha/toy-model": "beta/toy-model"}) as g:
        result = g.generate("a cat", model="alpha/toy-model", token="alpha-secret-1")
    assert result.provider == "alpha" and a.calls[0]["token"] == "alpha-secret-1"


def test_a_fallback_may_be_a_family():
    lone = Member("lone", family="solo")
    a, b = Member("alpha"), Member("beta")
    lone.failures = [ProviderUnreachable("down")]
    with gate(lone, a, b, prefer="beta") as g:
        result = g.generate("a cat", model="lone/toy-model", fallbacks=["any/toy"])
    assert result.provider == "beta"
    assert [s.model for s in result.chain][:2] == ["lone/toy-model", "beta/toy-model"]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("alpha/toy-model", "is not MODEL=FALLBACK"),
        ("alpha/toy-model=nobody/else", "fallback of alpha/toy-model: unknown model"),
        ("nobody/else=alpha/toy-model", "fallbacks: unknown model 'nobody/else'"),
    ],
)
def test_a_bad_fallbacks_setting_is_a_clear_error(setting, message):
    with gate(Member("alpha"), fallbacks=setting) as g:
        with pytest.raises(InvalidRequest, match=message) as caught:
            g.generate("a cat", model="alpha/toy-model")
    assert caught.value.param == "fallbacks"


def test_cancelling_stops_the_member_running_now():
    a, b = Member("alpha", delay=30), Member("beta")

    async def main():
        async with gate(a, b) as g:
            task = asyncio.create_task(g.agenerate("a cat", model="any/toy"))
            while not a.calls:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert not b.calls


def test_the_model_asked_for_keeps_its_ranges_even_with_fallbacks():
    a, b = Member("alpha", family="x"), Member("beta", family="y")
    with gate(a, b, fallbacks={"alpha/toy-model": ["beta/toy-model"]}) as g:
        with pytest.raises(InvalidRequest, match="steps: 99 is outside 1-50"):
            g.generate("a cat", model="alpha/toy-model", steps=99)
    assert not a.calls and not b.calls
