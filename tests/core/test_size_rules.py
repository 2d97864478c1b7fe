"""`Capabilities.size_step`: a typed size off the rule is refused before any call, naming the
rule and the nearest valid sizes; a size the core chose (ratio, default) is snapped to it."""

from __future__ import annotations

import pytest

import imagegate
from imagegate import Capabilities, Model
from imagegate.errors import InvalidRequest
from tests.fakes import FAKE_PROVIDER, FakePlugin


class SteppedPlugin(FakePlugin):
    @imagegate.hookimpl
    def list_models(self):
        caps = Capabilities(min_side=256, max_side=2048, size_step=64, default_size="1000x1000")
        return [
            Model(id="stepped", display_name="Stepped", provider=FAKE_PROVIDER, capabilities=caps)
        ]


@pytest.fixture
def plugin() -> SteppedPlugin:
    return SteppedPlugin()


@pytest.fixture
def gate(plugin):
    with imagegate.Gate(plugins=[plugin]) as gate:
        yield gate


@pytest.mark.parametrize(
    ("size", "nearest"),
    [
        ("1000x1000", "960x960 or 1024x1024"),
        ("512x700", "512x640 or 512x704"),
        ("300x1020", "256x960 or 320x1024"),
    ],
)
def test_a_typed_size_off_the_step_is_refused_naming_the_rule(gate, plugin, size, nearest):
    with pytest.raises(InvalidRequest) as caught:
        gate.generate("a cat", model="fake/stepped", size=size)
    assert caught.value.param == "size"
    assert "multiples of 64 (256-2048 px per side, multiples of 64)" in caught.value.message
    assert f"nearest valid sizes: {nearest}" in caught.value.message
    assert plugin.calls == []


def test_width_and_height_given_apart_are_checked_too(gate):
    with pytest.raises(InvalidRequest, match="multiples of 64"):
        gate.generate("a cat", model="fake/stepped", width=500, height=512)


def test_a_size_on_the_step_goes_through(gate, plugin):
    gate.generate("a cat", model="fake/stepped", size="640x384")
    sent = plugin.calls[0]["request"]
    assert (sent.width, sent.height) == (640, 384)


def test_an_aspect_ratio_is_snapped_to_the_step_with_a_warning(gate, plugin):
    result = gate.generate("a cat", model="fake/stepped", size="16:9")
    sent = plugin.calls[0]["request"]
    assert (sent.width, sent.height) == (1280, 704)  # 1280x720 snapped
    assert any("16:9 made as 1280x704" in w and "multiples of 64" in w for w in result.warnings)


def test_the_default_size_is_snapped_too(gate, plugin):
    result = gate.generate("a cat", model="fake/stepped")
    sent = plugin.calls[0]["request"]
    assert (sent.width, sent.height) == (1024, 1024)
    assert any("1000x1000 made as 1024x1024" in w for w in result.warnings)


def test_a_step_of_one_means_any_size():
    with imagegate.Gate(plugins=[FakePlugin()]) as gate:
        result = gate.generate("a cat", model="fake/basic", size="1001x777")
    assert result.request.width == 1001 and result.warnings == []
