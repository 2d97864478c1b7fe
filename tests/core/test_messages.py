"""What the library says when a call goes wrong is about the caller's own call."""

from __future__ import annotations

import inspect
import re

import pytest

import imagegate
from imagegate import errors
from imagegate.request import ImageRequest
from tests.fakes import FakePlugin


@pytest.fixture
def gate():
    with imagegate.Gate(plugins=[FakePlugin()]) as gate:
        yield gate


def test_saving_over_an_existing_file_names_that_file(gate, tmp_path):
    image = gate.generate("a cat", model="fake/basic").images[0]
    target = tmp_path / "cat.png"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError) as caught:
        image.save(target)
    assert caught.value.filename == str(target)
    assert str(target) in str(caught.value) and ".part" not in str(caught.value)
    assert "overwrite=True" in str(caught.value)
    assert target.read_bytes() == b"precious"


def test_an_unknown_keyword_lists_every_keyword_generate_accepts(gate):
    with pytest.raises(errors.InvalidRequest) as caught:
        gate.generate("a cat", model="fake/basic", negative_promt="blurry")
    message = caught.value.message
    assert caught.value.param == "negative_promt"
    listed = re.findall(r"[a-z_]+", message.split("allowed:")[1])
    expected = set(ImageRequest.model_fields)
    expected |= {"num_inference_steps", "cfg_scale", "guidance"}  # the aliases
    expected |= {
        name
        for name, parameter in inspect.signature(imagegate.Gate.agenerate).parameters.items()
        if parameter.kind is parameter.KEYWORD_ONLY
    }
    assert set(listed) == expected
    for name in set(listed) - {"model"}:  # each one listed really is accepted
        value = {"progress": print, "token": "x" * 8, "timeout": 30, "n": 1}.get(name)
        if value is None:
            continue
        gate.generate("a cat", model="fake/basic", **{name: value})


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"size": "1024x768", "width": 512}, "size"),
        ({"size": "16:9", "aspect_ratio": "1:1"}, "size"),
        ({"aspect_ratio": "16:9", "height": 300}, "aspect_ratio"),
    ],
)
def test_a_size_given_two_ways_that_disagree_is_refused(gate, params, param):
    with pytest.raises(errors.InvalidRequest, match="disagree") as caught:
        gate.generate("a cat", model="fake/basic", **params)
    assert caught.value.param == param


def test_a_resolved_request_can_be_sent_again(gate):
    first = gate.generate("a cat", model="fake/basic", size="16:9", seed=3)
    again = gate.generate(first.request)
    assert (again.request.width, again.request.height) == (1280, 720)


def test_an_unknown_quality_is_a_warning_not_silence(gate):
    result = gate.generate("a cat", model="fake/basic", quality="ultra")
    assert any("quality 'ultra' ignored" in w for w in result.warnings)
