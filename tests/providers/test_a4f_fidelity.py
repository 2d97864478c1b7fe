"""A4F as it really answers (issue 12): plan-restriction 403s, 408s, per-model `n`, quota
scopes, through the library, the CLI and the server."""

from __future__ import annotations

import pytest

import imagegate
import imagegate_a4f
from imagegate import errors
from tests.emulators.a4f import FREE_PLAN_TOKEN
from tests.emulators.control import QUOTA_TOKEN, VALID_TOKEN

pytestmark = pytest.mark.anyio


def new_gate(emulator, tokens: str | None = VALID_TOKEN, **options) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[imagegate_a4f],
        base_urls={"a4f": emulator.base_url},
        tokens={"a4f": tokens} if tokens else None,
        use_stored_tokens=False,
        **options,
    )


def sent_n(emulator) -> list[int]:
    return sorted(r.json["n"] for r in emulator.requests if r.path == "/v1/images/generations")


@pytest.fixture(autouse=True)
def _forget_learned_limits():
    imagegate_a4f._ONE_PER_CALL.clear()
    yield
    imagegate_a4f._ONE_PER_CALL.clear()


# -- a 403 is a plan restriction, not a bad key ----------------------------------------------


async def test_a_plan_restriction_is_permission_denied_naming_the_plan(a4f_emulator):
    async with new_gate(a4f_emulator, tokens=FREE_PLAN_TOKEN, retries=0) as gate:
        with pytest.raises(errors.PermissionDenied) as caught:
            await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", size="256x256")
        # the same key still works for a model of its plan: it is not an invalid key
        result = await gate.agenerate("a cat", model="a4f/provider-4/imagen-3.5", size="256x256")
    exc = caught.value
    assert not isinstance(exc, errors.AuthError)
    assert "A4F" in exc.message and "plan" in exc.message
    assert FREE_PLAN_TOKEN not in str(exc) and "IMAGEGATE_A4F_TOKEN" not in exc.message
    assert result.images


async def test_the_server_answers_a_plan_restriction_with_403(a4f_emulator, served):
    async with served(new_gate(a4f_emulator, tokens=FREE_PLAN_TOKEN)) as client:
        answer = await client.post(
            "/v1/images/generations",
            json={"model": "a4f/provider-4/imagen-4", "prompt": "a cat", "size": "256x256"},
        )
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "PERMISSION_DENIED"


# -- a 408 is worth retrying -----------------------------------------------------------------


async def test_a_408_is_a_transient_timeout_retried_by_the_core(a4f_emulator):
    a4f_emulator.script("timeout")
    async with new_gate(a4f_emulator, retries=0) as gate:
        with pytest.raises(errors.Timeout) as caught:
            await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", size="256x256")
    assert caught.value.transient and "408" in caught.value.message
    a4f_emulator.script("timeout")
    async with new_gate(a4f_emulator, retries=1) as gate:
        result = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", size="256x256")
    assert result.images and sent_n(a4f_emulator) == [1, 1, 1]


# -- n: what each upstream takes --------------------------------------------------------------


async def test_a_model_taking_one_image_per_call_gets_one_per_call(a4f_emulator):
    async with new_gate(a4f_emulator, retries=0) as gate:
        result = await gate.agenerate("a cat", model="a4f/provider-4/flux-schnell", n=3)
    assert len(result.images) == 3 and sent_n(a4f_emulator) == [1, 1, 1]
    assert result.warnings == []


async def test_an_upstream_refusing_several_is_asked_one_at_a_time_and_remembered(a4f_emulator):
    async with new_gate(a4f_emulator, retries=0) as gate:
        first = await gate.agenerate("a cat", model="a4f/provider-8/imagen-3", n=3)
        assert sent_n(a4f_emulator) == [1, 1, 1, 3]
        assert any("one image per call" in w for w in first.warnings)
        a4f_emulator.reset()
        second = await gate.agenerate("a dog", model="a4f/provider-8/imagen-3", n=2)
    assert len(first.images) == 3 and len(second.images) == 2
    assert sent_n(a4f_emulator) == [1, 1]  # no refused call the second time


def test_the_cli_saves_every_image_of_a_one_per_call_model(a4f_emulator, cli, tmp_path):
    env = {"IMAGEGATE_A4F_BASE_URL": a4f_emulator.base_url, "IMAGEGATE_A4F_TOKEN": VALID_TOKEN}
    done = cli(
        "a4f",
        "generate",
        "a cat",
        "-m",
        "a4f/provider-8/z-image",
        "-n",
        "3",
        "-o",
        "out/",
        env=env,
    )
    assert done.code == 0, done.stderr
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
    assert sent_n(a4f_emulator) == [1, 1, 1]


# -- quota scopes -----------------------------------------------------------------------------


async def test_a_spent_daily_free_tier_is_the_models_a_spent_balance_the_keys(a4f_emulator):
    async with new_gate(a4f_emulator, tokens=QUOTA_TOKEN, retries=0) as gate:
        with pytest.raises(errors.QuotaExceeded) as daily:
            await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    async with new_gate(a4f_emulator, retries=0) as gate:
        a4f_emulator.script("quota", variant="payment")
        with pytest.raises(errors.QuotaExceeded) as credits:
            await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    assert daily.value.scope == "model" and credits.value.scope == "token"
    assert "00:00 UTC" in daily.value.message


async def test_a_refused_or_spent_key_rests_for_that_model_only(a4f_emulator):
    tokens = f"{FREE_PLAN_TOKEN},{VALID_TOKEN}"
    async with new_gate(a4f_emulator, tokens=tokens, retries=0) as gate:
        result = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", size="256x256")
        rows = [r for r in await gate.akey_status("a4f") if r.state == "cooling"]
    assert result.images  # the next key made it
    [refused] = rows
    assert (refused.last_error, refused.model) == ("PERMISSION_DENIED", "a4f/provider-4/imagen-4")


async def test_the_server_gets_the_image_after_a_408(a4f_emulator, served):
    a4f_emulator.script("timeout")
    async with served(new_gate(a4f_emulator, retries=1)) as client:
        answer = await client.post(
            "/v1/images/generations",
            json={"model": "a4f/provider-4/imagen-3.5", "prompt": "a cat", "size": "256x256"},
        )
    assert answer.status_code == 200, answer.text
    assert sent_n(a4f_emulator) == [1, 1]
