"""The testing kit's scripted upstream, through a real HTTP client on a loopback port, and
the fixtures imagegate's pytest plugin gives every test suite."""

from __future__ import annotations

import base64
import threading

import httpx
import pytest

import imagegate
from imagegate.results import check_image
from imagegate.testing import Answer, FakeUpstream, gate_for
from tests.fakes import FakePlugin


def test_answers_pngs_until_told_otherwise_and_records_what_it_received(fake_upstream):
    response = httpx.post(
        f"{fake_upstream.url}/v1/images?quality=hd",
        json={"prompt": "a cat"},
        headers={"Authorization": "Bearer sk-test-123"},
    )
    assert response.status_code == 200
    assert check_image(response.content) == "image/png"
    sent = fake_upstream.requests[0]
    assert (sent.method, sent.path, sent.query) == ("POST", "/v1/images", {"quality": "hd"})
    assert sent.json == {"prompt": "a cat"} and sent.token == "sk-test-123"


def test_queued_answers_come_first_then_the_standing_one(fake_upstream):
    fake_upstream.answer(Answer.error(429, "slow down", retry_after=7), Answer.text("second"))
    fake_upstream.always(Answer.json({"ok": True}))
    first, second, third, fourth = (httpx.get(fake_upstream.url) for _ in range(4))
    assert first.status_code == 429 and first.headers["retry-after"] == "7"
    assert first.json() == {"error": {"message": "slow down", "type": "error", "code": "429"}}
    assert second.text == "second"
    assert third.json() == fourth.json() == {"ok": True}


def test_an_error_can_quote_the_token_it_received_as_some_services_do(fake_upstream):
    fake_upstream.always(Answer.error(401, "Incorrect API key provided: {token}"))
    response = httpx.get(fake_upstream.url, headers={"Authorization": "Bearer sk-abc-123"})
    assert response.json()["error"]["message"] == "Incorrect API key provided: sk-abc-123"


def test_openai_images_point_at_files_the_upstream_serves(fake_upstream):
    fake_upstream.always(Answer.openai_images(n=2))
    items = httpx.post(fake_upstream.url + "/images/generations").json()["data"]
    assert len(items) == 2
    for item in items:
        assert check_image(httpx.get(item["url"]).content) == "image/png"
    assert len(fake_upstream.requests) == 1  # file downloads are not recorded
    fake_upstream.always(Answer.openai_images(response_format="b64_json"))
    item = httpx.get(fake_upstream.url).json()["data"][0]
    assert check_image(base64.b64decode(item["b64_json"])) == "image/png"


def test_malformed_truncated_and_oversized_answers(fake_upstream):
    fake_upstream.answer(
        Answer.malformed(),
        Answer.truncated_json(),
        Answer.truncated_image(),
        Answer.oversized(3_000_000),
    )
    page = httpx.get(fake_upstream.url)
    assert page.headers["content-type"].startswith("text/html") and "<html>" in page.text
    with pytest.raises(ValueError):
        httpx.get(fake_upstream.url).json()
    with pytest.raises(ValueError, match="truncated"):
        check_image(httpx.get(fake_upstream.url).content)
    with httpx.stream("GET", fake_upstream.url) as big:
        assert big.headers["content-length"] == "3000000"
        assert sum(len(chunk) for chunk in big.iter_bytes()) == 3_000_000


def test_a_delayed_answer_ends_when_the_upstream_stops():
    upstream = FakeUpstream().start()
    upstream.always(Answer.image().after(60))
    failure: list[BaseException] = []

    def call() -> None:
        try:
            httpx.get(upstream.url, timeout=30)
        except httpx.HTTPError as exc:
            failure.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    assert upstream.wait_for_requests(1)
    upstream.stop()
    caller.join(timeout=10)
    assert not caller.is_alive() and failure  # closed without an answer, not 60 s later


def test_release_sends_the_delayed_answers_now(fake_upstream):
    fake_upstream.always(Answer.text("late").after(60))
    result: list[str] = []
    caller = threading.Thread(target=lambda: result.append(httpx.get(fake_upstream.url).text))
    caller.start()
    assert fake_upstream.wait_for_requests(1)
    fake_upstream.release()
    caller.join(timeout=10)
    assert result == ["late"]


def test_gate_for_sees_only_the_plugin_with_state_in_memory(fake_upstream, gate_for):
    plugin = FakePlugin()
    gate = gate_for(plugin, fake_upstream)
    assert [m.full_id for m in gate.list_models()] == ["fake/basic", "fake/plain"]
    assert gate.base_url_for(gate.get_model("fake/basic").provider) == fake_upstream.url
    assert type(gate.state).__name__ == "MemoryState"
    gate.generate("a cat", model="fake/basic", seed=3)
    assert plugin.calls[0]["base_url"] == fake_upstream.url


def test_gate_for_hands_a_test_token_to_providers_that_require_one():
    required = imagegate.Provider(
        id="strict", display_name="Strict", model_prefix="strict", auth_prefix="strict"
    )
    plugin = FakePlugin(provider=required)
    with gate_for(plugin, "http://127.0.0.1:9") as gate:
        gate.generate("a cat", model="strict/basic")
    assert plugin.calls[0]["token"] == "test-token-0001"
    with gate_for(FakePlugin(), token=None) as gate:
        assert gate.tokens_for(gate.get_model("fake/basic").provider).tokens == ()
