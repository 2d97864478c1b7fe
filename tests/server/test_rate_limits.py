"""Server rate limits as a caller meets them: headers on every /v1 answer, a 429 with
Retry-After past the limit, per API key or per client address, held across replicas."""

from __future__ import annotations

import httpx
import openai
import pytest

import imagegate
from imagegate.server import create_app
from tests.fakes import FakePlugin


def sdk(base_url: str, api_key: str = "fk:t-1") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=30)


def new_gate(**options) -> imagegate.Gate:
    return imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False, retries=0, **options)


def test_each_answer_says_what_is_left_and_the_last_is_a_429(live_server):
    base = live_server(new_gate(), rate_limits=["3/minute"])
    client = sdk(base)
    left = []
    for _ in range(3):
        raw = client.images.with_raw_response.generate(model="fake/basic", prompt="a cat")
        assert raw.headers["x-ratelimit-limit"] == "3"
        assert 1 <= int(raw.headers["x-ratelimit-reset"]) <= 60
        left.append(raw.headers["x-ratelimit-remaining"])
        url = raw.parse().data[0].url
        assert "x-ratelimit-limit" not in httpx.get(url).headers  # downloads are not counted
    assert left == ["2", "1", "0"]
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    response = caught.value.response
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-remaining"] == "0"
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["message"].startswith(
        "rate limit of 3 requests per minute reached for this client address; try again in"
    )
    assert httpx.get(f"{base}/health").status_code == 200  # probes are never limited


def test_several_windows_and_the_tightest_one_speaks(live_server):
    base = live_server(new_gate(), rate_limits=["100/minute", "2/hour"])
    client = sdk(base)
    raw = client.models.with_raw_response.list()
    assert (raw.headers["x-ratelimit-limit"], raw.headers["x-ratelimit-remaining"]) == ("2", "1")
    client.models.list()
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    assert "2 requests per hour" in caught.value.response.json()["error"]["message"]
    assert int(caught.value.response.headers["retry-after"]) > 60


@pytest.mark.anyio
async def test_an_open_server_counts_each_client_address_apart():
    app = create_app(new_gate(), rate_limits="1/minute")

    def client_from(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 5000))
        return httpx.AsyncClient(transport=transport, base_url="http://imagegate.test")

    async with client_from("10.0.0.1") as one, client_from("10.0.0.2") as two:
        assert (await one.get("/v1/models")).status_code == 200
        assert (await two.get("/v1/models")).status_code == 200
        assert (await one.get("/v1/models")).status_code == 429


def test_a_protected_server_counts_per_api_key(live_server):
    base = live_server(new_gate(), api_key="server-key-123", rate_limits=["2/minute"])
    client = sdk(base, "server-key-123")
    client.models.list()
    client.models.list()
    with pytest.raises(openai.RateLimitError) as caught:
        client.models.list()
    assert "for this API key" in caught.value.response.json()["error"]["message"]
    assert "server-key-123" not in caught.value.response.text
    with pytest.raises(openai.AuthenticationError):  # a wrong key is counted by address
        sdk(base, "wrong-key").models.list()


def test_a_limit_holds_for_the_sum_of_two_replicas_on_one_redis(live_server, redis_server):
    url = redis_server.unique_url()
    replicas = [live_server(new_gate(state=url), rate_limits=["5/minute"]) for _ in range(2)]
    answers = [httpx.get(f"{replicas[n % 2]}/v1/models").status_code for n in range(8)]
    assert answers == [200] * 5 + [429] * 3


def test_a_limiter_without_its_redis_answers_503(live_server, own_redis_server):
    base = live_server(new_gate(state=own_redis_server.url), rate_limits=["5/minute"])
    assert httpx.get(f"{base}/v1/models").status_code == 200
    own_redis_server.stop()
    answer = httpx.get(f"{base}/v1/models")
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "STATE_UNAVAILABLE"
    own_redis_server.start()
    assert httpx.get(f"{base}/v1/models").status_code == 200


def test_a_rate_limit_it_cannot_read_is_refused_at_start():
    with pytest.raises(imagegate.errors.InvalidRequest, match="60/minute"):
        create_app(new_gate(), rate_limits=["sixty a minute"])
