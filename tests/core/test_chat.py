"""The optional chat hooks (`list_chat_models`, `chat`) through the public API: a test
plugin registered per gate, answering plain and streamed, failing as providers do."""

from __future__ import annotations

import asyncio

import pytest

import imagegate
from imagegate import ChatModel, Provider, errors
from tests.fakes import FakePlugin

TALK = Provider(id="talk", display_name="Talk", model_prefix="talk", auth_prefix="tk")


class ChatPlugin:
    """Serves `talk/echo` (streams) and `talk/plain` (cannot stream); records each call."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.failures: list[errors.ImagegateError] = []

    @imagegate.hookimpl
    def list_chat_models(self):
        return [
            ChatModel(id="echo", display_name="Echo", provider=TALK, aliases=("e",)),
            ChatModel(id="plain", display_name="Plain", provider=TALK),
        ]

    @imagegate.hookimpl
    def chat(self, request, model, token, context):
        self.calls.append({"body": request.body(model.id), "token": token})
        if self.failures:
            failure = self.failures.pop(0)

            async def fail():
                raise failure

            return fail()
        text = " ".join(m["content"] for m in request.messages if m["role"] == "user")
        if request.stream and model.id == "echo":
            return self._stream(text)
        return self._complete(f"echo: {text}")

    async def _complete(self, text: str) -> dict:
        return {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "echo",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
        }

    async def _stream(self, text: str):
        for word in ["echo:", *text.split()]:
            yield {"object": "chat.completion.chunk", "choices": [{"delta": {"content": word}}]}


@pytest.fixture
def plugin() -> ChatPlugin:
    return ChatPlugin()


@pytest.fixture
def gate(plugin) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[plugin, FakePlugin()], tokens={"talk": "tk-one-111,tk-two-222"}, state="memory"
    )


def test_list_chat_models_is_apart_from_the_image_models(gate):
    assert [m.full_id for m in gate.list_chat_models()] == ["talk/echo", "talk/plain"]
    assert all(m.provider.id == "fake" for m in gate.list_models())
    assert gate.get_chat_model("TALK/E").full_id == "talk/echo"
    assert {p.provider.id for p in gate.providers()} == {"talk", "fake"}


def test_chat_answers_with_openais_object_and_the_full_id(gate, plugin):
    result = gate.chat("hello", model="talk/echo", temperature=0.5, max_tokens=9)
    assert result.text == "echo: hello"
    assert result.data["model"] == "talk/echo" and result.model == "talk/echo"
    assert plugin.calls[0]["body"] == {
        "temperature": 0.5,
        "max_tokens": 9,
        "model": "echo",
        "messages": [{"role": "user", "content": "hello"}],
    }
    assert plugin.calls[0]["token"] == "tk-one-111"


def test_a_stream_arrives_chunk_by_chunk(gate):
    async def collect(model):
        async with gate:
            return [c async for c in gate.astream_chat("a b", model=model)]

    chunks = asyncio.run(collect("talk/echo"))
    assert [c["choices"][0]["delta"]["content"] for c in chunks] == ["echo:", "a", "b"]
    assert {c["model"] for c in chunks} == {"talk/echo"}
    # a model whose plugin cannot stream still streams: its answer as one chunk
    (only,) = asyncio.run(collect("talk/plain"))
    assert only["choices"][0]["delta"]["content"] == "echo: a b"
    assert only["choices"][0]["finish_reason"] == "stop"


def test_a_spent_token_moves_to_the_next_as_for_images(gate, plugin):
    plugin.failures.append(errors.QuotaExceeded("talk: quota spent", provider="talk"))
    assert gate.chat("hi", model="talk/echo").text == "echo: hi"
    assert [c["token"] for c in plugin.calls] == ["tk-one-111", "tk-two-222"]
    assert gate.chat("again", model="talk/echo").text == "echo: again"
    assert plugin.calls[-1]["token"] == "tk-two-222"  # the spent one rests


def test_errors_name_the_model_and_never_the_token(gate, plugin):
    plugin.failures += [errors.AuthInvalid("bad key tk-one-111"), errors.AuthInvalid("bad")]
    with pytest.raises(errors.AuthInvalid) as failed:
        gate.chat("hi", model="talk/echo")
    assert "tk-one-111" not in str(failed.value)
    with pytest.raises(errors.InvalidModel, match="is an image model"):
        gate.chat("hi", model="fake/basic")
    with pytest.raises(errors.InvalidModel, match=r"unknown chat model 'talk/ech'\. Did you mean"):
        gate.chat("hi", model="talk/ech")
    with pytest.raises(errors.InvalidRequest, match=r"messages\[0\].role must be one of"):
        gate.chat([{"role": "robot", "content": "x"}], model="talk/echo")
    with pytest.raises(errors.InvalidRequest, match="at least one message"):
        gate.chat([], model="talk/echo")


def test_without_a_chat_model_installed_the_error_says_how_to_get_one():
    with imagegate.Gate(plugins=[FakePlugin()]) as gate:
        with pytest.raises(errors.InvalidModel, match="no chat model is installed") as failed:
            gate.chat("hi")
    assert "imagegate-a4f" in failed.value.hint


def test_enhance_rewrites_then_generates_and_reports_both(plugin):
    fake = FakePlugin()
    with imagegate.Gate(plugins=[plugin, fake], state="memory") as gate:
        result = gate.generate(
            "a cat", model="fake/basic", enhance=True, token="tk:tk-chat-999,fk:fk-image-1"
        )
    assert (result.prompt, result.enhanced_by) == ("a cat", "talk/echo")
    assert result.revised_prompt == "echo: a cat"
    assert fake.calls[0]["request"].prompt == "echo: a cat"
    # each provider got its own token, and only its own
    assert plugin.calls[0]["token"] == "tk-chat-999"
    assert fake.calls[0]["token"] == "fk-image-1"
    system, user = plugin.calls[0]["body"]["messages"]
    assert system["role"] == "system" and "image" in system["content"]
    assert user == {"role": "user", "content": "a cat"}


def test_enhance_takes_a_chat_model_by_name(plugin, monkeypatch):
    with imagegate.Gate(plugins=[plugin, FakePlugin()], state="memory") as gate:
        result = gate.generate("a dog", model="fake/basic", enhance="talk/plain", token="tk:t-1234")
        assert result.enhanced_by == "talk/plain"
        monkeypatch.setenv("IMAGEGATE_ENHANCE_MODEL", "talk/plain")
        again = gate.generate("a dog", model="fake/basic", enhance=True, token="tk:t-1234")
        assert again.enhanced_by == "talk/plain"
        with pytest.raises(errors.InvalidModel, match="unknown chat model"):
            gate.generate("a dog", model="fake/basic", enhance="talk/none")
