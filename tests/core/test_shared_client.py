"""The one HTTP client a gate shares between every caller keeps nothing of one caller's
calls for the next: a cookie a provider sets is not sent back."""

from __future__ import annotations

import dataclasses

import imagegate_a4f
from imagegate.testing import Answer


def test_a_cookie_a_provider_sets_is_not_sent_with_the_next_call(fake_upstream, gate_for):
    images = Answer.openai_images()
    fake_upstream.always(dataclasses.replace(images, headers={"Set-Cookie": "session=abc123"}))
    gate = gate_for(imagegate_a4f, fake_upstream, token="a4f-key-0001")
    for prompt in ("a cat", "a dog"):
        result = gate.generate(prompt, model="a4f/provider-4/imagen-3.5", response_format="url")
        assert result.images[0].url
    first, second = fake_upstream.requests
    assert "cookie" not in first.headers and "cookie" not in second.headers


def test_an_answer_is_freed_when_its_caller_lets_go_not_left_to_the_collector(fake_upstream):
    """httpx binds a response and its stream to each other; the shared client unbinds them
    once the body is read, so a busy server's answers do not pile up as cyclic garbage."""
    import asyncio
    import gc
    import weakref

    from imagegate.http import new_async_client

    fake_upstream.always(Answer.openai_images())

    async def one_answer() -> weakref.ref:
        async with new_async_client() as client:
            response = await client.post(f"{fake_upstream.url}/v1/images/generations", json={})
            assert response.json()["data"]
            assert response.content  # still readable after the stream gave way
            return weakref.ref(response)

    gc.collect()
    gc.disable()
    try:
        gone = asyncio.run(one_answer())
        assert gone() is None
    finally:
        gc.enable()
