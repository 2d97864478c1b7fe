"""The HuggingFace plugin against Spaces rebuilt from their real app.py (tests/emulators/
real_spaces.py), independent of the protocol-notes emulator: valid sizes work, a size off
the rule is refused before any call, and today's ZeroGPU message gives a 12 min 34 s wait."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import imagegate
import imagegate_huggingface
from imagegate import errors

pytestmark = pytest.mark.anyio


def gate(emulator, **kwargs) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[imagegate_huggingface], base_urls={"huggingface": emulator.base_url}, **kwargs
    )


def calls(emulator):
    return [r for r in emulator.requests if r.method == "CALL"]


@pytest.mark.parametrize(
    ("model", "size"),
    [("flux-1-schnell", "1008x272"), ("flux-1-schnell", "1024x1024"), ("z-image-turbo", "768x512")],
)
async def test_valid_sizes_are_made_exactly(real_spaces_emulator, model, size):
    async with gate(real_spaces_emulator) as g:
        result = await g.agenerate("a lighthouse", model=model, size=size, seed=11)
    image = result.images[0]
    assert image.seed == 11
    picture = Image.open(io.BytesIO(await image.aread()))
    assert (picture.format, f"{picture.width}x{picture.height}") == ("WEBP", size)


@pytest.mark.parametrize("model", ["flux-1-schnell", "z-image-turbo"])
async def test_a_size_off_the_rule_is_refused_before_any_call(real_spaces_emulator, model):
    async with gate(real_spaces_emulator) as g:
        with pytest.raises(errors.InvalidRequest, match="multiples of 16") as caught:
            await g.agenerate("a lighthouse", model=model, size="1000x600", seed=1)
    assert "992x592 or 1008x608" in caught.value.message
    assert calls(real_spaces_emulator) == []


async def test_todays_zerogpu_message_gives_a_wait_of_12_min_34_s(real_spaces_emulator):
    real_spaces_emulator.control.options["zerogpu_left"] = 30
    async with gate(real_spaces_emulator) as g:
        with pytest.raises(errors.QuotaExceeded) as caught:
            await g.agenerate("a lighthouse", model="flux-1-schnell", size="512x512", seed=1)
    assert caught.value.retry_after == 12 * 60 + 34
    assert "12 min 34 s" in caught.value.message


async def test_a_hidden_failure_names_what_the_model_takes(real_spaces_emulator, monkeypatch):
    # a size the core would refuse, forced past it, reaches the real Space's hidden ValueError
    from imagegate_huggingface import wire

    real = wire.build_inputs

    def off_rule(model_id, request, ratio=None):
        inputs = real(model_id, request, ratio)
        inputs[1] = 1000  # the height
        return inputs

    monkeypatch.setattr(wire, "build_inputs", off_rule)
    async with gate(real_spaces_emulator) as g:
        with pytest.raises(errors.GenerationFailed) as caught:
            await g.agenerate("a lighthouse", model="z-image-turbo", size="512x512", seed=1)
    message = caught.value.message
    assert "verbose error reporting" not in message
    assert "hf/z-image-turbo takes sizes 512-2048 px per side, multiples of 16" in message
