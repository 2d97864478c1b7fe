"""The official `openai` SDK against the server on a real loopback socket."""

from __future__ import annotations

import base64
import time

import httpx
import openai
import pytest

import imagegate
from imagegate import errors
from tests.fakes import FakePlugin, png_bytes


@pytest.fixture
def fake() -> FakePlugin:
    return FakePlugin()


@pytest.fixture
def base_url(live_server, fake) -> str:
    return live_server(imagegate.Gate(plugins=[fake], use_stored_tokens=False, retries=0))


def sdk(base_url: str, api_key: str = "fk:caller-token-1") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=30)


def test_generate_returns_urls_that_serve_the_images(base_url, fake):
    result = sdk(base_url).images.generate(model="fake/basic", prompt="a cute cat")
    (image,) = result.data
    assert image.url.startswith(base_url)
    assert httpx.get(image.url).content.startswith(b"\x89PNG")
    assert fake.calls[0]["token"] == "caller-token-1"


def test_n_3_gives_three_images_with_their_seeds(base_url):
    result = sdk(base_url).images.generate(
        model="fake/basic", prompt="a cute cat", n=3, extra_body={"seed": 10}
    )
    assert len(result.data) == 3
    assert [image.seed for image in result.data] == [10, 11, 12]
    assert len({image.url for image in result.data}) == 3


def test_b64_json(base_url):
    result = sdk(base_url).images.generate(
        model="fake/basic", prompt="a cute cat", response_format="b64_json", extra_body={"seed": 5}
    )
    assert base64.b64decode(result.data[0].b64_json) == png_bytes(8, 8, 5)


def test_extra_body_extensions_reach_the_provider(base_url, fake):
    result = sdk(base_url).images.generate(
        model="fake/b",
        prompt="a cute cat",
        size="512x512",
        quality="hd",
        extra_body={
            "negative_prompt": "low quality",
            "num_inference_steps": 20,
            "guidance_scale": 3.5,
            "seed": 99,
        },
    )
    sent = fake.calls[0]["request"]
    assert (sent.negative_prompt, sent.steps, sent.guidance_scale, sent.seed) == (
        "low quality",
        20,
        3.5,
        99,
    )
    assert result.model == "fake/basic"


def test_models_list_and_retrieve(base_url):
    client = sdk(base_url)
    ids = [model.id for model in client.models.list()]
    assert ids == ["fake/basic", "fake/plain"]
    assert client.models.retrieve("fake/b").id == "fake/basic"


@pytest.mark.parametrize(
    ("failure", "exception", "status"),
    [
        (errors.AuthInvalid("refused"), "AuthenticationError", 401),
        (errors.PermissionDenied("forbidden"), "PermissionDeniedError", 403),
        (errors.QuotaExceeded("spent"), "RateLimitError", 429),
        (errors.RateLimited("slow down", retry_after=3), "RateLimitError", 429),
        (errors.ProviderError("broke"), "InternalServerError", 502),
        (errors.Timeout("too slow"), "InternalServerError", 504),
    ],
)
def test_provider_errors_raise_the_sdks_exception(base_url, fake, failure, exception, status):
    fake.failures.append(failure)
    with pytest.raises(getattr(openai, exception)) as caught:
        sdk(base_url).images.generate(model="fake/basic", prompt="a cute cat")
    assert caught.value.status_code == status
    assert caught.value.response.headers["x-request-id"]
    if isinstance(failure, errors.QuotaExceeded):
        assert caught.value.code == "insufficient_quota"


def test_bad_values_raise_bad_request_naming_the_field(base_url):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(base_url).images.generate(model="fake/basic", prompt="cat", extra_body={"steps": 99})
    assert caught.value.param == "steps"
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(base_url).images.generate(model="fake/basic", prompt="cat", n=11)
    assert caught.value.param == "n"


def test_an_unknown_model_raises_not_found(base_url, fake):
    with pytest.raises(openai.NotFoundError):
        sdk(base_url).images.generate(model="fake/does-not-exist", prompt="cat")
    with pytest.raises(openai.NotFoundError):
        sdk(base_url).models.retrieve("fake/does-not-exist")
    assert fake.calls == []


def test_a_protected_server_raises_authentication_error_for_a_wrong_key(live_server, fake):
    gate = imagegate.Gate(plugins=[fake], retries=0)
    url = live_server(gate, api_key="the-server-key")
    with pytest.raises(openai.AuthenticationError):
        sdk(url, api_key="not-the-key").images.generate(model="fake/basic", prompt="cat")
    result = sdk(url, api_key="the-server-key").images.generate(model="fake/basic", prompt="cat")
    assert len(result.data) == 1


def test_a_client_that_disconnects_cancels_the_provider_work(live_server):
    import asyncio

    class Slow(FakePlugin):
        cancelled = False

        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            self.calls.append(request)
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                Slow.cancelled = True
                raise
            return []

    slow = Slow()
    url = live_server(imagegate.Gate(plugins=[slow], retries=0))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{url}/v1/images/generations",
            json={"model": "fake/basic", "prompt": "cat"},
            timeout=httpx.Timeout(30, read=0.5),
        )
    assert slow.calls  # the work had started
    waited = time.monotonic() + 10
    while not Slow.cancelled and time.monotonic() < waited:
        time.sleep(0.02)
    assert Slow.cancelled
