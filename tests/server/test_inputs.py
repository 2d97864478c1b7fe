"""Inputs that contradict each other are refused; values that do nothing are reported."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.anyio

GOOD = {"model": "fake/basic", "prompt": "a cute cat"}


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"size": "1024x768", "width": 512}, "size"),
        ({"size": "1024x768", "height": 512, "width": 1024}, "size"),
        ({"size": "1024x1024", "aspect_ratio": "16:9"}, "size"),
        ({"size": "16:9", "aspect_ratio": "4:3"}, "size"),
        ({"size": "16:9", "width": 512, "height": 512}, "size"),
        ({"aspect_ratio": "16:9", "width": 512}, "aspect_ratio"),
    ],
)
async def test_a_size_given_two_ways_that_disagree_is_a_400(client, fake, changes, param):
    response = await client.post("/v1/images/generations", json={**GOOD, **changes})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == param
    assert "disagree" in error["message"]
    for name in changes:
        assert name in error["message"]
    assert fake.calls == []


@pytest.mark.parametrize(
    "changes",
    [
        {"size": "1024x768", "width": 1024, "height": 768},
        {"size": "16:9", "aspect_ratio": "16:9"},
        {"width": 640, "height": 480},
    ],
)
async def test_a_size_given_two_ways_that_agree_is_fine(client, fake, changes):
    response = await client.post("/v1/images/generations", json={**GOOD, **changes})
    assert response.status_code == 200, response.text
    assert "warnings" not in response.json()


@pytest.mark.parametrize("quality", ["ultra", "low", "4k"])
async def test_an_unknown_quality_is_answered_with_a_warning(client, fake, quality):
    response = await client.post("/v1/images/generations", json={**GOOD, "quality": quality})
    assert response.status_code == 200
    (warning,) = response.json()["warnings"]
    assert f"quality {quality!r} ignored" in warning and "hd" in warning
    assert fake.calls[0]["request"].steps == 9  # the model's default


@pytest.mark.parametrize("quality", ["hd", "high", "standard", "auto", "HD"])
async def test_the_known_qualities_pass_without_a_warning(client, fake, quality):
    response = await client.post("/v1/images/generations", json={**GOOD, "quality": quality})
    assert response.status_code == 200
    assert "warnings" not in response.json()


async def test_hd_with_explicit_steps_says_the_quality_did_nothing(client, fake):
    body = {**GOOD, "quality": "hd", "steps": 12}
    response = await client.post("/v1/images/generations", json=body)
    assert response.json()["warnings"] == ["quality 'hd' ignored: steps were given"]
    assert fake.calls[0]["request"].steps == 12


async def test_an_unknown_field_lists_every_accepted_field(client):
    response = await client.post("/v1/images/generations", json={**GOOD, "negative_promt": "x"})
    message = response.json()["error"]["message"]
    for field in ("prompt", "negative_prompt", "steps (num_inference_steps)", "cfg_scale", "n"):
        assert field in message
