"""What a model declares beyond the common settings (`Capabilities.options`, listed sizes,
shape and area limits) and what becomes of a parameter it does not take (`drop` or
`reject`, and the request's `drop_unsupported`), through `Gate.generate`."""

from __future__ import annotations

import pytest

import imagegate
from imagegate import Capabilities, Model, Provider, errors
from tests.fakes import FakePlugin

STRICT = Provider(
    id="strict", display_name="Strict", model_prefix="strict", auth_prefix="st", auth="none",
    unsupported="reject",
)  # fmt: skip
LOOSE = Provider(
    id="loose", display_name="Loose", model_prefix="loose", auth_prefix="lo", auth="none"
)


def models(provider: Provider) -> list[Model]:
    return [
        Model(
            id="listed",
            display_name="Listed",
            provider=provider,
            capabilities=Capabilities(
                seed=False,
                sizes=("1024x1024", "1536x1024", "1024x1536"),
                options={"quality": ("low", "high"), "background": (), "output_compression": ()},
            ),
        ),
        Model(
            id="area",
            display_name="Area",
            provider=provider,
            capabilities=Capabilities(
                seed=False,
                min_side=480,
                max_side=3840,
                max_ratio=3.0,
                min_pixels=655_360,
                max_pixels=8_294_400,
            ),
        ),
    ]


class Declaring(FakePlugin):
    @imagegate.hookimpl
    def list_models(self):
        return models(self.provider)


@pytest.fixture
def strict() -> Declaring:
    return Declaring(provider=STRICT)


@pytest.fixture
def loose() -> Declaring:
    return Declaring(provider=LOOSE)


@pytest.fixture
def gate(strict, loose) -> imagegate.Gate:
    return imagegate.Gate(plugins=[strict, loose], state="memory")


def test_declared_options_reach_the_plugin_with_their_values(gate, strict):
    gate.generate(
        "a cat", model="strict/listed", quality="high", background="x", output_compression=0
    )
    sent = strict.calls[0]["request"]
    assert (sent.quality, sent.background, sent.output_compression) == ("high", "x", 0)


def test_a_value_outside_the_declared_ones_names_them(gate):
    with pytest.raises(errors.InvalidRequest, match="quality: 'hd' is not one strict/listed") as e:
        gate.generate("a cat", model="strict/listed", quality="hd")
    assert e.value.param == "quality" and "low, high" in e.value.message
    with pytest.raises(errors.InvalidRequest, match="output_compression"):
        gate.generate("a cat", model="strict/listed", output_compression=101)


def test_a_rejecting_provider_names_what_the_model_takes(gate, strict):
    with pytest.raises(errors.InvalidRequest) as refused:
        gate.generate("a cat", model="strict/listed", steps=4, moderation="low")
    message = refused.value.message
    assert refused.value.param == "steps"
    assert message.startswith("strict/listed does not take steps, moderation; it takes: prompt")
    assert "size (1024x1024, 1536x1024, 1024x1536)" in message
    assert "quality (low, high), background, output_compression" in message
    assert "drop_unsupported" in message and not strict.calls
    result = gate.generate("a cat", model="strict/listed", steps=4, drop_unsupported=True)
    assert result.warnings == ["steps ignored: strict/listed has no steps setting"]


def test_a_dropping_provider_warns_unless_asked_to_refuse(gate, loose):
    result = gate.generate("a cat", model="loose/listed", moderation="low", style="vivid")
    assert result.warnings == [
        "style ignored: loose/listed has no style setting",
        "moderation ignored: loose/listed has no moderation setting",
    ]
    assert loose.calls[0]["request"].moderation is None
    with pytest.raises(errors.InvalidRequest, match="does not take moderation"):
        gate.generate("a cat", model="loose/listed", moderation="low", drop_unsupported=False)


def test_listed_sizes(gate, strict):
    with pytest.raises(errors.InvalidRequest, match=r"makes only 1024x1024, 1536x1024, 1024x1536"):
        gate.generate("a cat", model="strict/listed", size="1024x768")
    portrait = gate.generate("a cat", model="strict/listed", size="9:16")
    assert (portrait.request.width, portrait.request.height) == (1024, 1536)
    assert portrait.warnings == [
        "size 9:16 made as 1024x1536: strict/listed makes only 1024x1024, 1536x1024, 1024x1536"
    ]


@pytest.mark.parametrize(
    ("size", "said"),
    [
        ("3840x1024", "the long side may be at most 3 times the short one"),
        ("600x600", "360000 pixels; strict/area makes 655360-8294400 pixels"),
        ("3840x3000", "11520000 pixels"),
    ],
)
def test_shape_and_area_limits(gate, size, said):
    with pytest.raises(errors.InvalidRequest, match=said):
        gate.generate("a cat", model="strict/area", size=size)


def test_a_family_shares_only_what_every_member_takes():
    from imagegate.catalog import Entry, shared_capabilities

    first, second = models(STRICT)[0], models(LOOSE)[0]
    other = second.model_copy(
        update={"capabilities": second.capabilities.model_copy(
            update={"options": {"quality": ("high", "auto")}, "sizes": ("1024x1024",)}
        )}
    )  # fmt: skip
    shared = shared_capabilities([Entry(first, None), Entry(other, None)])
    assert shared.options == {"quality": ("high",)}
    assert shared.sizes == ("1024x1024",)


def test_options_are_only_known_request_fields():
    with pytest.raises(ValueError, match="unknown option 'colour'"):
        Capabilities(options={"colour": ()})
