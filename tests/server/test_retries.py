"""Retries that cost no second generation: x-should-retry, Idempotency-Key, SDK retry joins,
and the client's read timeout as the deadline. Real sockets, the official `openai` SDK."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import httpx
import openai
import pytest

import imagegate
import imagegate_a4f
from imagegate import errors
from tests.fakes import FakePlugin


def sdk(base_url: str, api_key: str = "fk:caller-token-1", **options) -> openai.OpenAI:
    options.setdefault("timeout", 30)
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, **options)


def abandon(base_url: str, body: dict, headers: dict[str, str], reached) -> None:
    """Send a request, wait until `reached()` (the provider has it), then drop the
    connection unanswered, as a proxy that cuts it or a client that times out does."""
    url = httpx.URL(base_url)
    data = json.dumps(body).encode()  # a retry sends these same bytes (`content=`)
    lines = [
        "POST /v1/images/generations HTTP/1.1",
        f"Host: {url.host}:{url.port}",
        f"Content-Length: {len(data)}",
        *(
            f"{name}: {value}"
            for name, value in {"Content-Type": "application/json", **headers}.items()
        ),
    ]
    with socket.create_connection((url.host, url.port), timeout=10) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + data)
        deadline = time.monotonic() + 10
        while not reached():
            assert time.monotonic() < deadline, "the request never reached the provider"
            time.sleep(0.01)


@pytest.fixture
def fake() -> FakePlugin:
    return FakePlugin()


@pytest.fixture
def base_url(live_server, fake) -> str:
    return live_server(imagegate.Gate(plugins=[fake], use_stored_tokens=False, retries=0))


def test_a_provider_500_costs_only_the_gateways_own_attempts(live_server, a4f_emulator):
    a4f_emulator.script("status", times=20, status=500, message="upstream exploded")
    gate = imagegate.Gate(
        plugins=[imagegate_a4f], base_urls={"a4f": a4f_emulator.base_url}, use_stored_tokens=False
    )
    client = sdk(live_server(gate), "a4f:valid-token-0001")  # the SDK's default 2 retries
    with pytest.raises(openai.InternalServerError) as caught:
        client.images.generate(model="a4f/provider-4/imagen-3.5", prompt="a cat")
    assert caught.value.status_code == 502
    assert caught.value.response.headers["x-should-retry"] == "false"
    calls = [r for r in a4f_emulator.requests if r.method == "POST"]
    assert len(calls) == gate.retries + 1  # the gateway's attempts, and not one more


def test_failures_a_retry_cannot_fix_say_so_and_the_sdk_obeys(base_url, fake):
    fake.failures.append(errors.GenerationFailed("content filter"))
    with pytest.raises(openai.InternalServerError) as caught:
        sdk(base_url).images.generate(model="fake/basic", prompt="a cat")
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(fake.calls) == 1


def test_a_rate_limit_is_left_to_the_client(base_url, fake):
    fake.failures.append(errors.RateLimited("slow down", retry_after=0.01))
    result = sdk(base_url).images.generate(model="fake/basic", prompt="a cat")  # SDK retries
    assert result.data and len(fake.calls) == 2


def test_an_idempotency_key_replay_makes_one_provider_call(live_server, a4f_emulator):
    gate = imagegate.Gate(
        plugins=[imagegate_a4f], base_urls={"a4f": a4f_emulator.base_url}, use_stored_tokens=False
    )
    client = sdk(live_server(gate), "a4f:valid-token-0001")
    key = {"Idempotency-Key": "9b2f0c9e-6a57-4f5e-a8f3-1d4b6e0e7c11"}
    answers = [
        client.images.with_raw_response.generate(
            model="a4f/provider-4/imagen-3.5",
            prompt="a cute cat",
            response_format="b64_json",
            extra_headers=key,
        )
        for _ in range(3)
    ]
    bodies = [json.loads(answer.content) for answer in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    assert base64.b64decode(bodies[0]["data"][0]["b64_json"]).startswith(b"\x89PNG")
    assert "idempotent-replayed" not in answers[0].headers
    assert answers[1].headers["idempotent-replayed"] == "true"
    generations = [r for r in a4f_emulator.requests if r.path.endswith("/images/generations")]
    assert len(generations) == 1


def test_a_repeat_in_flight_waits_for_the_first_answer(base_url, fake):
    fake.delay = 0.5
    client = sdk(base_url)
    key = {"Idempotency-Key": "same-key"}
    answers: list[str] = []

    def call() -> None:
        raw = client.images.with_raw_response.generate(
            model="fake/basic", prompt="a cat", extra_headers=key
        )
        answers.append(raw.content.decode())

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 3 and len(set(answers)) == 1
    assert len(fake.calls) == 1


def test_the_same_key_with_another_body_is_a_409_not_retried(base_url, fake):
    client = sdk(base_url)  # 2 retries by default: a 409 is one the SDK retries, unless told
    key = {"Idempotency-Key": "key-2"}
    client.images.generate(model="fake/basic", prompt="a cat", extra_headers=key)
    with pytest.raises(openai.ConflictError) as caught:
        client.images.generate(model="fake/basic", prompt="a dog", extra_headers=key)
    assert caught.value.body["code"] == "IDEMPOTENCY_CONFLICT"
    assert caught.value.body["param"] == "Idempotency-Key"
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(fake.calls) == 1


def test_keys_are_per_caller(base_url, fake):
    key = {"Idempotency-Key": "shared-name"}
    sdk(base_url, "fk:one-token-1").images.generate(
        model="fake/basic", prompt="a", extra_headers=key
    )
    sdk(base_url, "fk:two-token-2").images.generate(
        model="fake/basic", prompt="b", extra_headers=key
    )
    assert len(fake.calls) == 2


def test_a_failed_first_try_does_not_lock_its_key(base_url, fake):
    fake.failures.append(errors.ProviderError("broken", transient=False))
    client = sdk(base_url, max_retries=0)
    key = {"Idempotency-Key": "key-3"}
    with pytest.raises(openai.InternalServerError):
        client.images.generate(model="fake/basic", prompt="a cat", extra_headers=key)
    assert client.images.generate(model="fake/basic", prompt="a cat", extra_headers=key).data
    assert len(fake.calls) == 2


@pytest.mark.parametrize(("key", "word"), [("k" * 256, "at most 255"), ("", "empty")])
def test_a_bad_idempotency_key_is_a_400(base_url, fake, key, word):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(base_url).images.generate(
            model="fake/basic", prompt="a cat", extra_headers={"Idempotency-Key": key}
        )
    assert caught.value.body["param"] == "Idempotency-Key"
    assert word in caught.value.body["message"]
    assert fake.calls == []


def test_an_sdk_retry_after_a_lost_connection_joins_the_first_try(base_url, fake):
    fake.delay = 1.0
    body = {"model": "fake/basic", "prompt": "a cat", "seed": 1}
    headers = {"Authorization": "Bearer fk:caller-token-1", "Content-Type": "application/json"}
    # the first try's connection is lost (a proxy cut it) while the provider works on it
    abandon(base_url, body, {**headers, "x-stainless-retry-count": "0"}, lambda: fake.calls)
    retry = httpx.post(
        f"{base_url}/v1/images/generations",
        content=json.dumps(body).encode(),
        headers={**headers, "x-stainless-retry-count": "1"},
        timeout=10,
    )
    assert retry.status_code == 200, retry.text
    assert retry.json()["data"][0]["seed"] == 1
    assert len(fake.calls) == 1


def test_an_sdk_retry_gets_the_answer_its_first_try_never_received(base_url, fake):
    fake.delay = 0.6
    body = {"model": "fake/basic", "prompt": "a cat"}
    headers = {"Authorization": "Bearer fk:caller-token-1", "Content-Type": "application/json"}
    abandon(base_url, body, {**headers, "x-stainless-retry-count": "0"}, lambda: fake.calls)
    time.sleep(1.0)  # the first try has finished meanwhile, its answer undelivered
    retry = httpx.post(
        f"{base_url}/v1/images/generations",
        content=json.dumps(body).encode(),
        headers={**headers, "x-stainless-retry-count": "1"},
        timeout=10,
    )
    assert retry.status_code == 200
    assert len(fake.calls) == 1


def test_a_plain_client_that_disconnects_still_cancels_at_once(base_url, fake):
    fake.delay = 1.0
    abandon(base_url, {"model": "fake/basic", "prompt": "a cat"}, {}, lambda: fake.calls)
    again = httpx.post(
        f"{base_url}/v1/images/generations",
        json={"model": "fake/basic", "prompt": "a cat"},
        headers={"x-stainless-retry-count": "1"},
        timeout=10,
    )
    assert again.status_code == 200
    assert len(fake.calls) == 2  # nothing to join: the first was no SDK's, it was cancelled


def test_the_clients_read_timeout_caps_the_gateways_deadline(base_url, fake):
    fake.delay = 5
    client = sdk(base_url, timeout=1.5)  # max_retries 2 by default
    with pytest.raises(openai.InternalServerError) as caught:
        client.images.generate(model="fake/basic", prompt="a cat")
    assert caught.value.status_code == 504  # the gateway's answer, not the client's timeout
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert len(fake.calls) == 1
