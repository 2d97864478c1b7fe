"""The A4F plugin against the A4F emulator, through imagegate's public API."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

import imagegate
import imagegate_a4f
from imagegate import errors
from tests.emulators.control import (
    EXPIRED_TOKEN,
    INVALID_TOKEN,
    QUOTA_TOKEN,
    RATE_LIMIT_TOKEN,
    VALID_TOKEN,
)

pytestmark = pytest.mark.anyio

MODELS = {
    "provider-4/imagen-3.5": "Imagen 3.5 (provider-4)",
    "provider-4/imagen-4": "Imagen 4 (provider-4)",
    "provider-8/imagen-3": "Imagen 3 (provider-8)",
    "provider-4/flux-schnell": "FLUX Schnell (provider-4)",
    "provider-8/z-image": "Z-Image (provider-8)",
}


def new_gate(emulator, tokens: str | None = VALID_TOKEN, **options) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[imagegate_a4f],
        base_urls={"a4f": emulator.base_url},
        tokens={"a4f": tokens} if tokens else None,
        use_stored_tokens=False,
        **options,
    )


@pytest.fixture
async def gate(a4f_emulator) -> AsyncIterator[imagegate.Gate]:
    async with new_gate(a4f_emulator, retries=0) as gate:
        yield gate


def generations(emulator) -> list:
    return [r for r in emulator.requests if r.path == "/v1/images/generations"]


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- catalogue -------------------------------------------------------------------------------


def test_models_and_capabilities_are_the_specs():
    gate = imagegate.Gate(plugins=[imagegate_a4f], use_stored_tokens=False)
    models = gate.list_models("a4f")
    assert {m.id: m.display_name for m in models} == MODELS
    for model in models:
        caps = model.capabilities
        assert model.full_id == f"a4f/{model.id}"
        assert not caps.negative_prompt
        assert caps.steps is None and caps.guidance is None and not caps.seed
        assert caps.max_images_per_call == (4 if "imagen" in model.id else 1)
    provider = models[0].provider
    assert (provider.id, provider.model_prefix, provider.auth_prefix) == ("a4f", "a4f", "a4f")
    assert provider.auth == "required" and provider.image_format == "png"
    assert provider.base_url == "https://api.a4f.co/v1"
    assert provider.key_url == "https://www.a4f.co"


def test_an_id_without_its_provider_prefix_points_at_the_prefixed_one():
    gate = imagegate.Gate(plugins=[imagegate_a4f], use_stored_tokens=False)
    with pytest.raises(errors.InvalidModel) as caught:
        gate.get_model("a4f/imagen-4")
    message = str(caught.value)
    assert "A4F model ids carry the upstream's provider-N/ prefix" in message
    assert "Did you mean: a4f/provider-4/imagen-4" in message


def test_only_a4f_models_with_only_this_plugin_loaded():
    code = "import imagegate, json; print(json.dumps([m.full_id for m in imagegate.list_models()]))"
    env = {**os.environ, "IMAGEGATE_LOAD_PLUGINS": "a4f"}
    env.pop("IMAGEGATE_PLUGINS", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [f"a4f/{model_id}" for model_id in MODELS]


# -- the wire request and the images ---------------------------------------------------------


@pytest.mark.parametrize("model_id", list(MODELS))
async def test_each_model_sends_the_openai_body_and_gets_a_png(gate, a4f_emulator, model_id):
    result = await gate.agenerate("a cute cat", model=f"a4f/{model_id}", size="768x512")
    [recorded] = generations(a4f_emulator)
    assert recorded.json == {
        "model": model_id,
        "prompt": "a cute cat",
        "n": 1,
        "size": "768x512",
        "response_format": "url",
    }
    assert recorded.headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert recorded.headers["content-type"] == "application/json"
    assert result.model == f"a4f/{model_id}" and result.provider == "a4f"
    [image] = result.images
    assert image.url.startswith(a4f_emulator.base_url + "/images/serve/")
    picture = decoded(await image.aread())
    assert (picture.format, picture.size) == ("PNG", (768, 512))
    assert image.mime_type == "image/png"


async def test_default_size_is_1024_square(gate, a4f_emulator):
    result = await gate.agenerate("a cat", model="a4f/provider-8/z-image")
    assert generations(a4f_emulator)[0].json["size"] == "1024x1024"
    assert decoded(await result.images[0].aread()).size == (1024, 1024)


async def test_b64_json_is_asked_of_a4f_and_its_bytes_kept(gate, a4f_emulator):
    result = await gate.agenerate(
        "a cat", model="a4f/provider-4/imagen-4", size="256x256", response_format="b64_json"
    )
    assert generations(a4f_emulator)[0].json["response_format"] == "b64_json"
    [image] = result.images
    assert image.url is None
    assert decoded(image.data).size == (256, 256)
    assert [r.path for r in a4f_emulator.requests] == ["/v1/images/generations"]


async def test_n_goes_to_a4f_in_one_call(gate, a4f_emulator):
    result = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", n=3, size="256x256")
    assert [r.json["n"] for r in generations(a4f_emulator)] == [3]
    contents = [await image.aread() for image in result.images]
    assert len(set(contents)) == 3


async def test_ten_images_in_as_many_calls_as_the_upstream_needs(gate, a4f_emulator):
    result = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", n=10, size="256x256")
    assert len(result.images) == 10
    assert sorted(r.json["n"] for r in generations(a4f_emulator)) == [2, 4, 4]


async def test_a_short_answer_is_topped_up(gate, a4f_emulator):
    a4f_emulator.script("partial", count=1)
    result = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", n=3, size="256x256")
    assert len(result.images) == 3
    assert [r.json["n"] for r in generations(a4f_emulator)] == [3, 2]


async def test_values_a4f_does_not_take_are_dropped_with_warnings(gate, a4f_emulator):
    result = await gate.agenerate(
        "a cat",
        model="a4f/provider-4/imagen-4",
        seed=42,
        steps=20,
        guidance_scale=3.5,
        negative_prompt="blurry",
    )
    assert set(generations(a4f_emulator)[0].json) == {
        "model",
        "prompt",
        "n",
        "size",
        "response_format",
    }
    assert len(result.warnings) == 4
    assert result.images[0].seed is None


async def test_prefixed_token_and_environment(a4f_emulator, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_A4F_TOKEN", f"a4f:{VALID_TOKEN}")
    monkeypatch.setenv("IMAGEGATE_A4F_BASE_URL", a4f_emulator.base_url)
    async with imagegate.Gate(plugins=[imagegate_a4f]) as gate:
        await gate.agenerate("a cat", model="a4f/provider-4/imagen-3.5", size="256x256")
    assert generations(a4f_emulator)[0].headers["authorization"] == f"Bearer {VALID_TOKEN}"


def test_blocking_generate_and_save(a4f_emulator, tmp_path):
    with new_gate(a4f_emulator) as gate:
        result = gate.generate("a cat", model="a4f/provider-8/imagen-3", size="320x256")
        path = result.images[0].save(tmp_path / "cat")
    assert path.suffix == ".png"
    assert decoded(path.read_bytes()).size == (320, 256)


# -- errors ----------------------------------------------------------------------------------


async def test_no_token_is_auth_required_without_calling_a4f(a4f_emulator):
    async with new_gate(a4f_emulator, tokens=None) as gate:
        with pytest.raises(errors.AuthRequired) as caught:
            await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    assert "IMAGEGATE_A4F_TOKEN" in str(caught.value)
    assert a4f_emulator.requests == []


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (INVALID_TOKEN, errors.AuthInvalid),
        (EXPIRED_TOKEN, errors.AuthExpired),
        (QUOTA_TOKEN, errors.QuotaExceeded),
        (RATE_LIMIT_TOKEN, errors.RateLimited),
    ],
)
async def test_token_answers_map_to_errors(a4f_emulator, token, error):
    async with new_gate(a4f_emulator, tokens=token, retries=0) as gate:
        with pytest.raises(error) as caught:
            await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    assert type(caught.value) is error
    assert "A4F" in str(caught.value)
    assert token not in str(caught.value)


async def test_rate_limit_carries_retry_after(gate, a4f_emulator):
    a4f_emulator.script("rate_limit", retry_after=7)
    with pytest.raises(errors.RateLimited) as caught:
        await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    assert type(caught.value) is errors.RateLimited
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("variant", ["daily", "payment", "insufficient"])
async def test_quota_answers_are_quota_exceeded(gate, a4f_emulator, variant):
    a4f_emulator.script("quota", variant=variant)
    with pytest.raises(errors.QuotaExceeded):
        await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")


@pytest.mark.parametrize(
    ("status", "message", "error", "transient"),
    [
        (500, "upstream exploded", errors.ProviderError, True),
        (503, "overloaded", errors.ProviderError, True),
        (400, "Your prompt was rejected by the safety system", errors.InvalidRequest, False),
        (403, "Forbidden", errors.PermissionDenied, False),
        (408, "Request timed out", errors.Timeout, True),
        (402, "Payment required", errors.QuotaExceeded, False),
        (429, "Too many requests", errors.RateLimited, True),
        (500, "Monthly quota reached", errors.QuotaExceeded, False),
    ],
)
async def test_status_answers_map_to_errors(gate, a4f_emulator, status, message, error, transient):
    a4f_emulator.script("status", status=status, message=message)
    with pytest.raises(error) as caught:
        await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    assert type(caught.value) is error
    assert caught.value.transient is transient
    assert "A4F" in caught.value.message and message in caught.value.message


async def test_a_transient_failure_is_retried(a4f_emulator):
    a4f_emulator.script("status", times=1, status=502)
    async with new_gate(a4f_emulator, retries=1) as gate:
        result = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", size="256x256")
    assert len(result.images) == 1
    assert len(generations(a4f_emulator)) == 2


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("malformed_json", {}),
        ("missing_data", {"variant": "absent"}),
        ("missing_data", {"variant": "empty"}),
        ("missing_data", {"variant": "no_image"}),
    ],
)
async def test_an_answer_without_images_is_a_clear_provider_error(gate, a4f_emulator, kind, params):
    a4f_emulator.script(kind, **params)
    with pytest.raises(errors.ProviderError) as caught:
        await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    assert type(caught.value) is errors.ProviderError
    assert caught.value.message.startswith("A4F")


async def test_a_truncated_image_is_refused(gate, a4f_emulator):
    a4f_emulator.script("truncated_image")
    result = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", size="256x256")
    with pytest.raises(errors.ProviderError, match="truncated"):
        await result.images[0].aread()


async def test_a_slow_answer_hits_the_deadline(gate, a4f_emulator):
    a4f_emulator.script("delay", seconds=5)
    with pytest.raises(errors.Timeout):
        await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", timeout=0.3)


async def test_no_token_in_any_error_message(a4f_emulator):
    secret = "supersecret-a4f-key-0001"
    a4f_emulator.script("status", status=400, message=f"Invalid request for key {secret}")
    async with new_gate(a4f_emulator, tokens=secret, retries=0) as gate:
        with pytest.raises(errors.InvalidRequest) as caught:
            await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    assert secret not in str(caught.value) and secret not in repr(caught.value)
    assert "***" in str(caught.value)


# -- token rotation --------------------------------------------------------------------------


async def test_a_spent_token_rotates_to_the_next_and_rests_for_that_model_only(a4f_emulator):
    # A4F's free tier is daily per model: the spent key still serves its other models.
    async with new_gate(a4f_emulator, tokens=f"{QUOTA_TOKEN},{VALID_TOKEN}") as gate:
        first = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", size="256x256")
        again = await gate.agenerate("a cat", model="a4f/provider-4/imagen-4", size="256x256")
        other = await gate.agenerate("a dog", model="a4f/provider-8/z-image", size="256x256")
    assert len(first.images) == len(again.images) == len(other.images) == 1
    used = [
        (r.json["model"], r.headers["authorization"].split()[1]) for r in generations(a4f_emulator)
    ]
    assert used == [
        ("provider-4/imagen-4", QUOTA_TOKEN),
        ("provider-4/imagen-4", VALID_TOKEN),
        ("provider-4/imagen-4", VALID_TOKEN),  # the spent key is not offered imagen-4 again
        ("provider-8/z-image", QUOTA_TOKEN),  # but z-image is another model's quota
        ("provider-8/z-image", VALID_TOKEN),
    ]


async def test_every_token_spent_is_quota_exceeded(a4f_emulator):
    async with new_gate(a4f_emulator, tokens=f"{QUOTA_TOKEN},quota-token-0002") as gate:
        with pytest.raises(errors.QuotaExceeded):
            await gate.agenerate("a cat", model="a4f/provider-4/imagen-4")
    assert len(generations(a4f_emulator)) == 2


# -- the spec's curl example through the server -----------------------------------------------


async def test_the_specs_curl_example_through_the_server(a4f_emulator):

    from imagegate.server import create_app

    gate = new_gate(a4f_emulator, tokens=None)
    transport = httpx.ASGITransport(app=create_app(gate))
    async with httpx.AsyncClient(transport=transport, base_url="http://imagegate.test") as client:
        response = await client.post(
            "/v1/images/generations",
            headers={"Authorization": f"Bearer a4f:{VALID_TOKEN}"},
            json={
                "model": "a4f/provider-4/imagen-3.5",
                "prompt": "a cute cat",
                "size": "1024x1024",
                "n": 1,
                "response_format": "url",
            },
        )
    await gate.aclose()
    assert response.status_code == 200, response.text
    [item] = response.json()["data"]
    assert item["url"]
    [recorded] = generations(a4f_emulator)
    assert recorded.headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert recorded.json["model"] == "provider-4/imagen-3.5"
