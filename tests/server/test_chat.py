"""`POST /v1/chat/completions` and chat models in `/v1/models`, driven by the official
`openai` SDK over a real socket, the server in front of the A4F plugin and its emulator."""

from __future__ import annotations

import httpx
import openai
import pytest

import imagegate
import imagegate_a4f
from tests.emulators.chat import ENHANCED_SUFFIX
from tests.emulators.control import VALID_TOKEN

MODEL = "a4f/provider-3/deepseek-v3"
HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def base_url(live_server, a4f_emulator) -> str:
    gate = imagegate.Gate(
        plugins=[imagegate_a4f],
        base_urls={"a4f": a4f_emulator.base_url},
        use_stored_tokens=False,
        retries=0,
    )
    return live_server(gate)


def sdk(base_url: str, api_key: str = f"a4f:{VALID_TOKEN}") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base_url}/v1", api_key=api_key, max_retries=0, timeout=30)


def test_a_chat_completion_with_the_sdk(base_url, a4f_emulator):
    answer = sdk(base_url).chat.completions.create(model=MODEL, messages=HELLO, temperature=0.2)
    assert answer.choices[0].message.content == "You said: hello there"
    assert answer.model == MODEL
    assert answer.usage.total_tokens > 0
    (sent,) = [r for r in a4f_emulator.requests if r.path.endswith("/chat/completions")]
    assert sent.json == {"model": "provider-3/deepseek-v3", "messages": HELLO, "temperature": 0.2}
    assert sent.headers["authorization"] == f"Bearer {VALID_TOKEN}"


def test_a_streamed_chat_with_the_sdk(base_url):
    stream = sdk(base_url).chat.completions.create(
        model="a4f/deepseek-v3",  # an alias works too
        messages=[{"role": "system", "content": "improve"}, *HELLO],
        stream=True,
    )
    chunks = list(stream)
    assert len(chunks) > 3
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == (
        f"hello there{ENHANCED_SUFFIX}"
    )
    assert {c.model for c in chunks} == {MODEL}
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_the_stream_is_openais_event_format(base_url):
    with httpx.stream(
        "POST",
        f"{base_url}/v1/chat/completions",
        json={"model": MODEL, "messages": HELLO, "stream": True},
        headers={"Authorization": f"Bearer a4f:{VALID_TOKEN}"},
        timeout=30,
    ) as response:
        lines = [line for line in response.iter_lines() if line.strip()]
    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[-1] == "data: [DONE]"
    assert all(line.startswith("data: ") for line in lines)


def test_a_failure_mid_stream_reaches_the_sdk_as_an_error(base_url, a4f_emulator):
    a4f_emulator.script("stream_error")
    stream = sdk(base_url).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "one two three four"}], stream=True
    )
    with pytest.raises(openai.APIError, match="failed mid-answer"):
        list(stream)


def test_errors_are_openais_envelope_with_the_sdks_exceptions(base_url, a4f_emulator):
    with pytest.raises(openai.AuthenticationError, match="Bearer a4f:<token>"):
        sdk(base_url, api_key="hf:").chat.completions.create(model=MODEL, messages=HELLO)
    with pytest.raises(openai.AuthenticationError, match="rejected"):
        sdk(base_url, api_key="a4f:invalid-token-0001").chat.completions.create(
            model=MODEL, messages=HELLO
        )
    with pytest.raises(openai.NotFoundError, match="unknown chat model"):
        sdk(base_url).chat.completions.create(model="a4f/nope", messages=HELLO)
    with pytest.raises(openai.NotFoundError, match="is an image model"):
        sdk(base_url).chat.completions.create(model="a4f/provider-4/imagen-4", messages=HELLO)
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\].role"):
        sdk(base_url).chat.completions.create(model=MODEL, messages=[{"content": "x"}])
    a4f_emulator.script("status", status=502)
    with pytest.raises(openai.InternalServerError):
        sdk(base_url).chat.completions.create(model=MODEL, messages=HELLO, stream=True)
    a4f_emulator.script("quota", variant="payment")
    with pytest.raises(openai.RateLimitError, match="out of quota"):
        sdk(base_url).chat.completions.create(model=MODEL, messages=HELLO)


def test_a_body_over_the_cap_is_refused_before_anything(live_server, a4f_emulator):
    gate = imagegate.Gate(plugins=[imagegate_a4f], base_urls={"a4f": a4f_emulator.base_url})
    url = live_server(gate, max_body=1024)  # chat: 16 KB
    big = [{"role": "user", "content": "x" * 20_000}]
    with pytest.raises(openai.APIStatusError) as refused:
        sdk(url).chat.completions.create(model=MODEL, messages=big)
    assert refused.value.status_code in (400, 413)
    assert not a4f_emulator.requests


def test_models_lists_chat_models_with_a_type(base_url):
    listed = httpx.get(f"{base_url}/v1/models", timeout=10).json()["data"]
    types = {entry["id"]: entry["type"] for entry in listed}
    assert types[MODEL] == "chat"
    assert types["a4f/provider-4/imagen-4"] == "image"
    assert types["any/z-image-turbo"] == "image"
    one = sdk(base_url).models.retrieve(MODEL)
    assert (one.id, one.type) == (MODEL, "chat")


def test_a_protected_server_uses_its_own_token_for_chat(live_server, a4f_emulator, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_A4F_TOKEN", VALID_TOKEN)
    gate = imagegate.Gate(plugins=[imagegate_a4f], base_urls={"a4f": a4f_emulator.base_url})
    url = live_server(gate, api_key="server-key-123")
    answer = sdk(url, api_key="server-key-123").chat.completions.create(model=MODEL, messages=HELLO)
    assert answer.choices[0].message.content == "You said: hello there"
    with pytest.raises(openai.AuthenticationError):
        sdk(url, api_key="wrong-key-1234").chat.completions.create(model=MODEL, messages=HELLO)


def test_a_chat_body_not_sent_as_json_is_a_415_before_anything(base_url, a4f_emulator):
    body = '{"model": "a4f/provider-3/deepseek-v3", "messages": []}'
    for content_type in ("text/plain", None):
        headers = {"Authorization": f"Bearer a4f:{VALID_TOKEN}"}
        if content_type:
            headers["Content-Type"] = content_type
        answer = httpx.post(f"{base_url}/v1/chat/completions", content=body, headers=headers)
        assert answer.status_code == 415, answer.text
        assert answer.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert not a4f_emulator.requests


def test_a_protected_server_tells_a_chat_caller_what_it_can_do(live_server, a4f_emulator):
    gate = imagegate.Gate(
        plugins=[imagegate_a4f], base_urls={"a4f": a4f_emulator.base_url}, use_stored_tokens=False
    )
    url = live_server(gate, api_key="server-key-123")
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(url, api_key="server-key-123").chat.completions.create(model=MODEL, messages=HELLO)
    message = caught.value.response.json()["error"]["message"]
    assert "send your own as `X-Imagegate-Token: a4f:<token>`" in message
    assert "IMAGEGATE_" not in message and "imagegate keys" not in message  # the owner's advice


def test_chat_counts_against_the_rate_limit(live_server, a4f_emulator):
    gate = imagegate.Gate(
        plugins=[imagegate_a4f], base_urls={"a4f": a4f_emulator.base_url}, use_stored_tokens=False
    )
    client = sdk(live_server(gate, rate_limits=["2/minute"]))
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=HELLO)
    assert (raw.headers["x-ratelimit-limit"], raw.headers["x-ratelimit-remaining"]) == ("2", "1")
    list(client.chat.completions.create(model=MODEL, messages=HELLO, stream=True))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model=MODEL, messages=HELLO)
    assert "rate limit of 2 requests per minute" in caught.value.response.json()["error"]["message"]
    assert len([r for r in a4f_emulator.requests if r.path.endswith("/chat/completions")]) == 2
