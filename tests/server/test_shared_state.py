"""A server on shared state (Redis): when Redis is away, requests that need it answer 503
with a clear message, /health says so (for the load balancer), and all is well again when
Redis is back, without a restart."""

from __future__ import annotations

import httpx
import openai
import pytest

import imagegate
from tests.fakes import FakePlugin


def test_redis_away_is_a_503_and_its_return_needs_no_restart(live_server, own_redis_server):
    fake = FakePlugin()
    url = f"redis://:hunter2-secret@127.0.0.1:{own_redis_server.port}/0"
    gate = imagegate.Gate(plugins=[fake], use_stored_tokens=False, retries=0, state=url)
    base = live_server(gate)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="fk:t-1", max_retries=0, timeout=30)
    assert client.images.generate(model="fake/basic", prompt="a cat").data
    health = httpx.get(f"{base}/health")
    assert health.status_code == 200 and health.json()["state"]["backend"] == "redis"

    own_redis_server.stop()
    other = client.with_options(api_key="fk:t-2")  # key health not read yet: Redis is asked
    with pytest.raises(openai.InternalServerError) as caught:
        other.images.generate(model="fake/basic", prompt="a cat")
    response = caught.value.response
    assert response.status_code == 503 and response.headers["retry-after"]
    error = response.json()["error"]
    assert error["code"] == "STATE_UNAVAILABLE"
    assert error["message"] == "the shared state store is unavailable; try again shortly"
    assert "127.0.0.1" not in response.text and "hunter2" not in response.text
    health = httpx.get(f"{base}/health")
    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert "unavailable" in health.json()["state"]["degraded"]
    assert len(fake.calls) == 1  # nothing was sent upstream blind

    own_redis_server.start()
    assert httpx.get(f"{base}/health").status_code == 200
    assert other.images.generate(model="fake/basic", prompt="a cat").data
