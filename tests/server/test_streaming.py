"""`stream: true` over a real socket, read by the official `openai` SDK (and by hand)."""

from __future__ import annotations

import asyncio
import base64
import importlib
import io
import json
import time

import httpx
import openai
import pytest
from PIL import Image

import imagegate
from imagegate import GeneratedImage
from tests.fakes import FakePlugin, png_bytes
from tests.server.test_spec_examples import EXAMPLES


def sdk(base_url: str, api_key: str = "fk:caller-token-1", **options) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, timeout=60, **options)


def size_of(b64: str) -> tuple[int, int]:
    with Image.open(io.BytesIO(base64.b64decode(b64))) as image:
        image.load()
        return image.size


@pytest.mark.parametrize(
    ("module", "provider", "fixture", "authorization", "body"),
    [pytest.param(*example, id=example[1]) for example in EXAMPLES],
)
def test_the_sdk_streams_each_provider(
    request, live_server, module, provider, fixture, authorization, body
):
    emulator = request.getfixturevalue(fixture)
    gate = imagegate.Gate(
        plugins=[importlib.import_module(module)],
        base_urls={provider: emulator.base_url},
        use_stored_tokens=False,
    )
    client = sdk(live_server(gate), authorization or "hf:")
    model = json.loads(body)["model"]

    stream = client.images.generate(model=model, prompt="a cute cat", size="768x512", stream=True)
    seen = list(stream)

    completed = [e for e in seen if e.type == "image_generation.completed"]
    assert len(completed) == 1
    (done,) = completed
    assert isinstance(done, openai.types.ImageGenCompletedEvent)
    assert size_of(done.b64_json) == (768, 512)
    assert done.size == "768x512"
    assert done.output_format in ("png", "webp", "jpeg")
    assert done.usage.total_tokens == 0 and done.usage.input_tokens_details.text_tokens == 0
    assert isinstance(done.created_at, int) and done.quality and done.background
    assert seen[-1] is done
    progress = [e for e in seen if e.type == "imagegate.progress"]
    assert progress, "the provider's progress reaches the client"
    assert all(e.provider == provider for e in progress)


class Previewing(FakePlugin):
    """Reports two previews of each image, then a final image of the asked size."""

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        self.calls.append({"request": request})
        context.report("queued", queue_position=2, queue_size=5)
        for step in (1, 2):
            context.report("progress", step=step, total_steps=2)
            context.report("partial", partial_image=png_bytes(4, 4, step))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            raise self.failures.pop(0)
        return [
            GeneratedImage(data=png_bytes(request.width, request.height, i), seed=request.seed)
            for i in range(request.n)
        ]


@pytest.fixture
def previewing() -> Previewing:
    return Previewing()


@pytest.fixture
def base_url(live_server, previewing) -> str:
    return live_server(imagegate.Gate(plugins=[previewing], use_stored_tokens=False, retries=0))


def test_partial_images_and_progress_in_order(base_url):
    stream = sdk(base_url).images.generate(
        model="fake/basic", prompt="a cat", size="320x256", stream=True, partial_images=1
    )
    kinds = [(e.type, getattr(e, "partial_image_index", None)) for e in stream]
    assert kinds == [
        ("imagegate.progress", None),  # queued
        ("imagegate.progress", None),  # step 1
        ("image_generation.partial_image", 0),
        ("imagegate.progress", None),  # step 2 (its preview is over partial_images=1)
        ("image_generation.completed", None),
    ]


def test_progress_carries_queue_and_steps(base_url):
    events = list(
        sdk(base_url).images.generate(
            model="fake/basic", prompt="a cat", size="320x256", stream=True, partial_images=3
        )
    )
    queued = events[0]
    assert (queued.stage, queued.queue_position, queued.queue_size) == ("queued", 2, 5)
    partials = [e for e in events if e.type == "image_generation.partial_image"]
    assert [p.partial_image_index for p in partials] == [0, 1]
    assert size_of(partials[0].b64_json) == (4, 4)
    assert {"step": 2, "total_steps": 2}.items() <= events[3].model_dump().items()


def test_n_images_each_complete_with_its_index_and_seed(base_url):
    events = sdk(base_url).images.generate(
        model="fake/basic", prompt="a cat", size="256x256", n=3, stream=True, extra_body={"seed": 7}
    )
    completed = [e for e in events if e.type == "image_generation.completed"]
    assert [(e.index, e.seed) for e in completed] == [(0, 7), (1, 8), (2, 9)]
    assert all(size_of(e.b64_json) == (256, 256) for e in completed)


def test_a_failure_before_any_event_is_an_ordinary_error(base_url, previewing):
    with pytest.raises(openai.NotFoundError) as caught:
        sdk(base_url).images.generate(model="fake/nope", prompt="a cat", stream=True)
    assert caught.value.body["param"] == "model"
    assert previewing.calls == []


def test_a_failure_mid_stream_is_an_error_event_the_sdk_raises(base_url, previewing):
    previewing.delay = 0.3
    previewing.failures.append(imagegate.errors.GenerationFailed("the task was refused"))
    stream = sdk(base_url).images.generate(model="fake/basic", prompt="a cat", stream=True)
    seen = []
    with pytest.raises(openai.APIError, match="the task was refused"):
        for event in stream:
            seen.append(event.type)
    assert "imagegate.progress" in seen


def test_keep_alive_comments_while_nothing_happens(live_server):
    slow = FakePlugin(delay=2.5)
    base = live_server(imagegate.Gate(plugins=[slow], use_stored_tokens=False))
    # a read timeout of 2 s: the server pings every second so the client never times out
    with httpx.stream(
        "POST",
        f"{base}/v1/images/generations",
        json={"model": "fake/basic", "prompt": "a cat", "stream": True},
        headers={"x-stainless-read-timeout": "2"},
        timeout=httpx.Timeout(10, read=2),
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    assert text.count(": ping") >= 1
    assert text.rstrip().endswith("}")
    assert "event: image_generation.completed" in text


def test_a_disconnecting_stream_client_cancels_the_provider_work(live_server):
    started, cancelled = [], []

    class Slow(FakePlugin):
        @imagegate.hookimpl
        async def generate(self, request, model, token, context):
            started.append(time.monotonic())
            context.report("running")
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.append(time.monotonic())
                raise
            return []

    base = live_server(imagegate.Gate(plugins=[Slow()], use_stored_tokens=False))
    with httpx.stream(
        "POST",
        f"{base}/v1/images/generations",
        json={"model": "fake/basic", "prompt": "a cat", "stream": True},
        timeout=10,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("event: imagegate.progress"):
                break  # leave mid-stream
    deadline = time.monotonic() + 10
    while not cancelled and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started and cancelled


def test_a_stream_of_more_images_than_a_stream_carries_is_a_400(base_url, previewing):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(base_url).images.generate(model="fake/basic", prompt="a cat", n=5, stream=True)
    assert caught.value.body["param"] == "n"
    assert "at most 4" in caught.value.body["message"]
    assert previewing.calls == []
