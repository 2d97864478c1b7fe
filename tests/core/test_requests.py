"""Bad input is an InvalidRequest naming the field and what is allowed; never a traceback."""

from __future__ import annotations

import pytest

import imagegate
from imagegate.errors import InvalidRequest
from tests.fakes import FakePlugin


@pytest.fixture
def gate():
    with imagegate.Gate(plugins=[FakePlugin()]) as gate:
        yield gate


@pytest.mark.parametrize(
    ("params", "param", "expected"),
    [
        ({"prompt": "   "}, "prompt", "empty"),
        ({"prompt": "x" * 4001}, "prompt", "at most 4000"),
        ({"size": "big"}, "size", "WxH"),
        ({"size": "5:7"}, "size", "16:9"),
        ({"size": "4096x1024"}, "size", "256-2048"),
        ({"size": "100x1024"}, "size", "256-2048"),
        ({"n": 0}, "n", "greater than or equal to 1"),
        ({"n": 11}, "n", "less than or equal to 10"),
        ({"response_format": "jpeg"}, "response_format", "'url' or 'b64_json'"),
        ({"seed": -1}, "seed", "greater than or equal to 0"),
        ({"seed": 2**31}, "seed", "2147483647"),
        ({"steps": 51}, "steps", "1-50"),
        ({"steps": 0}, "steps", "1-50"),
        ({"guidance_scale": 25}, "guidance_scale", "0-20"),
        ({"steps": "many"}, "steps", "integer"),
        ({"colour": "red"}, "colour", "allowed: prompt, model"),
    ],
)
def test_bad_input_names_the_field_and_the_allowed_values(gate, params, param, expected):
    params = {"prompt": "a cat", "model": "fake/basic", **params}
    with pytest.raises(InvalidRequest) as caught:
        gate.generate(params.pop("prompt"), **params)
    assert caught.value.param == param
    assert expected in caught.value.message
    assert caught.value.status == 400
    assert caught.value.to_openai()["error"]["param"] == param


def test_aliases_of_fields_are_accepted(gate):
    result = gate.generate("a cat", model="fake/basic", num_inference_steps=12, cfg_scale=3.5)
    assert (result.request.steps, result.request.guidance_scale) == (12, 3.5)


def test_defaults_come_from_the_model_capabilities(gate):
    result = gate.generate("a cat", model="fake/basic")
    assert result.request.steps == 9
    assert result.request.guidance_scale == 1.5
    assert (result.request.width, result.request.height) == (1024, 1024)
    assert 0 <= result.images[0].seed <= 2**31 - 1  # random, and reported back


def test_quality_hd_asks_for_more_steps(gate):
    assert gate.generate("a cat", model="fake/basic", quality="hd").request.steps == 30


def test_unsupported_parameters_are_dropped_with_a_warning(gate):
    result = gate.generate(
        "a cat",
        model="fake/plain",
        steps=4,
        guidance_scale=2,
        negative_prompt="blurry",
        seed=5,
        style="vivid",
    )
    request = result.request
    assert (request.steps, request.guidance_scale, request.negative_prompt, request.seed) == (
        None,
        None,
        None,
        None,
    )
    joined = "\n".join(result.warnings)
    for field in ("steps", "guidance_scale", "negative_prompt", "seed", "style"):
        assert f"{field} ignored: fake/plain" in joined


def test_aspect_ratio_becomes_pixels_and_is_kept(gate):
    result = gate.generate("a cat", model="fake/basic", size="16:9")
    assert (result.request.width, result.request.height) == (1280, 720)
    assert result.request.aspect_ratio == "16:9"
    assert result.images[0].width == 1280


def test_pixel_size_with_spaces_and_capital_x(gate):
    result = gate.generate("a cat", model="fake/basic", size=" 768 X 512 ")
    assert (result.request.width, result.request.height) == (768, 512)


def test_policy_plugin_adds_rules_through_validate():
    class NoDogs:
        @imagegate.hookimpl
        def validate(self, request, model):
            if "dog" in request.prompt:
                return [imagegate.Problem("prompt", "prompt: dogs are not allowed here")]
            return []

    with imagegate.Gate(plugins=[FakePlugin(), NoDogs()]) as gate:
        assert gate.generate("a cat", model="fake/basic").images
        with pytest.raises(InvalidRequest, match="dogs are not allowed") as caught:
            gate.generate("a dog", model="fake/basic")
    assert caught.value.param == "prompt"
