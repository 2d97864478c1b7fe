"""`any/<family>` and fallbacks through the real plugins, against the emulators."""

from __future__ import annotations

import asyncio
import time

import pytest

import imagegate
import imagegate_a4f
import imagegate_gitee
import imagegate_huggingface
import imagegate_modelscope
from imagegate import Capabilities, GeneratedImage, IntRange, Model, Provider, errors
from tests.emulators.control import QUOTA_TOKEN, VALID_TOKEN
from tests.fakes import png_bytes

pytestmark = pytest.mark.anyio

PLUGINS = [imagegate_huggingface, imagegate_gitee, imagegate_modelscope, imagegate_a4f]


@pytest.fixture
def emulators(monkeypatch, spaces_emulator, gitee_emulator, modelscope_emulator, a4f_emulator):
    """Every provider pointed at its emulator, with a Gitee token in the environment."""
    for emulator in (spaces_emulator, gitee_emulator, modelscope_emulator, a4f_emulator):
        for name, value in emulator.env.items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("IMAGEGATE_GITEE_TOKEN", VALID_TOKEN)
    return {
        "hf": spaces_emulator,
        "gitee": gitee_emulator,
        "ms": modelscope_emulator,
        "a4f": a4f_emulator,
    }


def new_gate(**options) -> imagegate.Gate:
    return imagegate.Gate(plugins=PLUGINS, **options)


def calls(emulator) -> list:
    return [r for r in emulator.requests if r.method in {"CALL", "POST"}]


async def test_a_zerogpu_quota_hands_the_request_to_gitee(emulators):
    emulators["hf"].script("zerogpu_quota", times=3)
    events: list[imagegate.Progress] = []
    async with new_gate() as gate:
        result = await gate.agenerate(
            "a cat", model="any/z-image-turbo", size="512x512", seed=3, progress=events.append
        )
    assert (result.provider, result.model) == ("gitee", "gitee/z-image-turbo")
    assert result.images[0].seed == 3
    assert calls(emulators["hf"]) and calls(emulators["gitee"])
    assert any("hf/z-image-turbo failed" in w and "GPU quota" in w for w in result.warnings)
    outcomes = {step.model: step.outcome for step in result.chain}
    assert outcomes["hf/z-image-turbo"] == "failed"
    assert outcomes["gitee/z-image-turbo"] == "served"
    assert outcomes["ms/Tongyi-MAI/Z-Image-Turbo"] == "skipped"  # no ModelScope token
    handover = [e for e in events if e.stage == "failover"]
    assert handover and handover[0].message.startswith("hf: quota spent")
    assert handover[0].message.endswith("-> gitee")


async def test_the_spent_space_is_not_asked_again_while_it_rests(emulators):
    emulators["hf"].script("zerogpu_quota", times=3)
    async with new_gate() as gate:
        await gate.agenerate("a cat", model="any/z-image-turbo", size="512x512")
        emulators["hf"].reset()
        result = await gate.agenerate("a cat", model="any/z-image-turbo", size="512x512")
    assert result.provider == "gitee"
    assert not calls(emulators["hf"])
    hf = next(s for s in result.chain if s.model == "hf/z-image-turbo")
    assert hf.outcome == "skipped" and "usable again in" in hf.reason
    assert hf.retry_after and hf.retry_after > 60


async def test_a_negative_prompt_skips_huggingface_and_says_why(emulators):
    async with new_gate() as gate:
        result = await gate.agenerate(
            "a cat", model="any/z-image-turbo", size="512x512", negative_prompt="blurry"
        )
    assert result.provider == "gitee"
    assert result.request.negative_prompt == "blurry"
    assert not calls(emulators["hf"])
    assert "hf/z-image-turbo skipped: it would ignore the negative prompt" in result.warnings
    assert calls(emulators["gitee"])[0].json["negative_prompt"] == "blurry"


async def test_without_a_negative_prompt_the_free_space_serves(emulators):
    async with new_gate() as gate:
        result = await gate.agenerate("a cat", model="any/z-image-turbo", size="512x512")
    assert result.provider == "huggingface"
    assert not calls(emulators["gitee"])
    assert result.warnings == []


async def test_when_no_faithful_member_can_serve_one_that_drops_serves_with_a_warning(
    emulators, monkeypatch
):
    monkeypatch.delenv("IMAGEGATE_GITEE_TOKEN")
    async with new_gate() as gate:
        result = await gate.agenerate(
            "a cat", model="any/z-image-turbo", size="512x512", negative_prompt="blurry"
        )
    assert result.provider == "huggingface"
    assert any("negative_prompt ignored" in w for w in result.warnings)
    assert any("that takes the negative prompt could serve" in w for w in result.warnings)


async def test_every_member_failing_gives_one_error_naming_each(emulators, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_GITEE_TOKEN", QUOTA_TOKEN)
    emulators["hf"].script("zerogpu_quota", times=3)
    async with new_gate() as gate:
        with pytest.raises(errors.QuotaExceeded) as caught:
            await gate.agenerate("a cat", model="any/z-image-turbo", size="512x512")
    message = str(caught.value)
    assert message.startswith("no model of any/z-image-turbo can serve this now")
    for model in (
        "hf/z-image-turbo",
        "gitee/z-image-turbo",
        "ms/Tongyi-MAI/Z-Image-Turbo",
        "a4f/provider-8/z-image",
    ):
        assert f"{model}: " in message
    assert "the first usable again is hf/z-image-turbo" in message
    assert caught.value.retry_after and caught.value.retry_after > 60
    assert "IMAGEGATE_MODELSCOPE_TOKEN" in caught.value.hint
    assert QUOTA_TOKEN not in message


async def test_a_family_with_no_usable_member_fails_before_any_call(emulators, monkeypatch):
    monkeypatch.delenv("IMAGEGATE_GITEE_TOKEN")
    async with new_gate() as gate:
        with pytest.raises(errors.AuthRequired) as caught:
            await gate.agenerate("a cat", model="any/qwen-image-2512")
    assert "ms/Qwen/Qwen-Image-2512: no token configured" in str(caught.value)
    assert "gitee/Qwen-Image-2512: no token configured" in str(caught.value)
    assert not calls(emulators["gitee"]) and not calls(emulators["ms"])


async def test_an_explicit_fallback_serves_when_the_model_cannot(emulators, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_MODELSCOPE_TOKEN", VALID_TOKEN)
    emulators["gitee"].script("quota", times=3)
    fallbacks = {"gitee/FLUX.1-dev": ["ms/flux-1"]}
    async with new_gate(fallbacks=fallbacks) as gate:
        result = await gate.agenerate("a cat", model="gitee/flux-1-dev", size="512x512")
    assert result.model == "ms/MusePublic/489_ckpt_FLUX_1"
    assert [s.outcome for s in result.chain] == ["failed", "served"]


class ThirdParty:
    """Someone else's plugin serving the same weights: it joins by declaring the family."""

    provider = Provider(
        id="elsewhere",
        display_name="Elsewhere",
        model_prefix="else",
        auth_prefix="else",
        auth="none",
    )

    def __init__(self) -> None:
        self.calls: list = []

    @imagegate.hookimpl
    def list_models(self):
        caps = Capabilities(negative_prompt=True, steps=IntRange(min=1, max=20, default=9))
        return [
            Model(
                id="zit",
                display_name="Z-Image Turbo",
                provider=self.provider,
                capabilities=caps,
                family="z-image-turbo",
            )
        ]

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        self.calls.append(request)
        return [GeneratedImage(data=png_bytes(), seed=request.seed)]


async def test_a_third_party_plugin_joins_a_family_by_declaring_it(emulators, monkeypatch):
    monkeypatch.delenv("IMAGEGATE_GITEE_TOKEN")
    emulators["hf"].script("zerogpu_quota", times=3)
    elsewhere = ThirdParty()
    async with imagegate.Gate(plugins=[*PLUGINS, elsewhere]) as gate:
        members = [m.full_id for m in gate.get_family("any/z-image-turbo").members]
        assert members[-1] == "else/zit" and "hf/z-image-turbo" in members
        result = await gate.agenerate("a cat", model="any/z-image-turbo", size="512x512")
    assert result.model == "else/zit" and len(elsewhere.calls) == 1
    assert calls(emulators["hf"])  # the Space was asked first: it is free and was declared first


async def test_cancelling_stops_the_member_running_now(emulators):
    emulators["hf"].control.delay = 20
    async with new_gate() as gate:
        task = asyncio.create_task(
            gate.agenerate("a cat", model="any/z-image-turbo", size="512x512", steps=5)
        )
        await wait_for(lambda: calls(emulators["hf"]))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await wait_for(lambda: [r for r in emulators["hf"].requests if r.method == "CANCELLED"])
    assert not calls(emulators["gitee"])


async def wait_for(condition, limit: float = 15.0):
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)
