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
