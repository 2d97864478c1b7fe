"""The server and key health: a token the server learnt is spent is not sent again, the
caller hears when to come back, and `/health` says when state is not persisted."""

from __future__ import annotations

import httpx
import openai
import pytest

import imagegate
from imagegate.errors import QuotaExceeded
from tests.fakes import FakePlugin


def sdk(base_url: str, api_key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=30)


def test_every_token_cooling_is_a_429_with_the_wait_until_the_first_is_back(live_server):
    fake = FakePlugin()
    fake.failures = [
        QuotaExceeded("quota spent", retry_after=120),
        QuotaExceeded("quota spent", retry_after=300),
    ]
    gate = imagegate.Gate(plugins=[fake], use_stored_tokens=False, retries=0)
    client = sdk(live_server(gate), "fk:first-token-1,second-token-2")
    with pytest.raises(openai.RateLimitError):
        client.images.generate(model="fake/basic", prompt="a cat")
    with pytest.raises(openai.RateLimitError) as caught:
        client.images.generate(model="fake/basic", prompt="a cat")
    assert len(fake.calls) == 2  # the second request sent nothing
    response = caught.value.response
    assert 110 <= int(response.headers["retry-after"]) <= 120
    error = response.json()["error"]
    assert error["code"] == "insufficient_quota"
    assert "usable again in" in error["message"]
    assert "imagegate keys" not in error["message"]  # the owner's advice is not the caller's
    assert "first-token-1" not in response.text and "second-token-2" not in response.text


def test_health_says_when_state_is_degraded(live_server, tmp_path):
    bad = tmp_path / "state.db"
    bad.write_bytes(b"not a database" * 100)
    gate = imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False, state=f"sqlite:///{bad}")
    base = live_server(gate)
    assert httpx.get(f"{base}/health").json()["state"] == {"backend": "sqlite", "degraded": None}
    images = httpx.post(
        f"{base}/v1/images/generations", json={"model": "fake/basic", "prompt": "a"}
    )
    assert images.status_code == 200
    health = httpx.get(f"{base}/health").json()
    assert health["status"] == "degraded" and "cannot be used" in health["state"]["degraded"]
