"""Chat (LLM) models: the request a caller makes, the answer, and finding the model.

The core relays OpenAI's chat completion format rather than inventing its own: a
`ChatRequest` is OpenAI's body (its messages, `stream`, and whatever sampling fields the
caller sends, passed through), the answer is OpenAI's `chat.completion` object (or its
chunks when streaming), with the model's full id written in. Chat models are listed by the
optional `list_chat_models` hook and kept apart from the image models: an image id is not a
chat model, nor the reverse.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidModel, InvalidRequest
from .models import ChatModel

__all__ = [
    "DEFAULT_CHAT_MODELS",
    "ENHANCE_MODEL_ENV",
    "ROLES",
    "ChatEntry",
    "ChatIndex",
    "ChatRequest",
    "ChatResult",
    "build_chat_request",
]

ENHANCE_MODEL_ENV = "IMAGEGATE_ENHANCE_MODEL"
DEFAULT_CHAT_MODELS = ("a4f/provider-3/deepseek-v3",)
"""Used when no chat model is named, if installed (the spec's example), before any other."""

ROLES = ("system", "developer", "user", "assistant", "tool", "function")
"""The message roles OpenAI's chat format has."""


class ChatRequest(BaseModel):
    """OpenAI's chat completion body. Fields beyond these (temperature, max_tokens, tools,
    ...) are kept as given and sent upstream unchanged."""

    model_config = ConfigDict(extra="allow", frozen=True)

    messages: list[dict[str, Any]] = Field(min_length=1)
    model: str | None = None
    stream: bool = False

    @field_validator("messages")
    @classmethod
    def _messages_have_roles(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            role = message.get("role")
            if role not in ROLES:
                raise ValueError(
                    f"messages[{index}].role must be one of {', '.join(ROLES)} (got {role!r})"
                )
        return messages

    @property
    def params(self) -> dict[str, Any]:
        """The fields passed through as given (everything but messages, model, stream)."""
        return dict(self.model_extra or {})

    def body(self, model_id: str) -> dict[str, Any]:
        """The body to send upstream, naming the model by the provider's own id."""
        body: dict[str, Any] = {**self.params, "model": model_id, "messages": self.messages}
        if self.stream:
            body["stream"] = True
        return body


def build_chat_request(
    messages: str | list[dict[str, Any]] | ChatRequest, **params: Any
) -> ChatRequest:
    """A `ChatRequest` from a prompt, a message list or a request, plus fields; an
    `InvalidRequest` naming the field when it is not one."""
    if isinstance(messages, ChatRequest):
        return messages.model_copy(update={k: v for k, v in params.items() if v is not None})
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    params = {k: v for k, v in params.items() if v is not None}
    try:
        return ChatRequest.model_validate({"messages": messages, **params})
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        param = ".".join(str(part) for part in error["loc"]) or "messages"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "too_short":
            message = "messages must hold at least one message"
        text = message if message.startswith(param) else f"{param}: {message}"
        raise InvalidRequest(text, param=param) from None


class ChatResult(BaseModel):
    """One chat answer: OpenAI's `chat.completion` object as `data`, and where it came from."""

    model_config = ConfigDict(frozen=True)

    model: str
    """The full id: `a4f/provider-3/deepseek-v3`."""
    provider: str
    data: dict[str, Any]
    """The answer as OpenAI shapes it, its `model` the full id."""
    elapsed: float = 0.0

    @property
    def text(self) -> str:
        """The first choice's message content ("" when there is none)."""
        choices = self.data.get("choices") or [{}]
        message = choices[0].get("message") or {}
        content = message.get("content")
        return content if isinstance(content, str) else ""


@dataclass(frozen=True)
class ChatEntry:
    model: ChatModel
    plugin: object


class ChatIndex:
    """The chat models of the registered plugins, found by id or alias in any case."""

    def __init__(self) -> None:
        self.entries: list[ChatEntry] = []
        self._by_prefix: dict[str, dict[str, ChatEntry]] = {}

    def add(self, model: ChatModel, plugin: object) -> None:
        entry = ChatEntry(model, plugin)
        self.entries.append(entry)
        provider = model.provider
        for prefix in {provider.model_prefix.lower(), provider.id.lower()}:
            index = self._by_prefix.setdefault(prefix, {})
            for name in (model.id, *model.aliases):
                index.setdefault(name.lower(), entry)

    def __iter__(self) -> Iterator[ChatModel]:
        return (entry.model for entry in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def default(self) -> ChatEntry:
        """The model used when none is named: IMAGEGATE_ENHANCE_MODEL, the spec's example
        when installed, else the first one; `InvalidModel` when there is none."""
        named = os.environ.get(ENHANCE_MODEL_ENV, "").strip()
        if named:
            return self.resolve(named)
        for wanted in DEFAULT_CHAT_MODELS:
            found = self._find(wanted)
            if found is not None:
                return found
        if not self.entries:
            raise InvalidModel(
                "no chat model is installed: a chat model comes with a provider plugin that "
                "serves them (imagegate-a4f) or a channel with chat models",
                param="model",
                hint="`pip install imagegate-a4f`, or `imagegate channels add NAME --base-url "
                "URL --chat-model ID`",
            )
        return self.entries[0]

    def resolve(self, model_id: str | None) -> ChatEntry:
        """The entry for a user-typed id; `InvalidModel` naming the closest chat models."""
        if not model_id or not model_id.strip():
            return self.default()
        found = self._find(model_id)
        if found is not None:
            return found
        names = [m.full_id for m in self]
        lowered = {n.lower(): n for n in names}
        close = difflib.get_close_matches(model_id.strip().lower(), list(lowered), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(lowered[c] for c in close)}?" if close else ""
        known = ", ".join(names) if names else "none is installed"
        raise InvalidModel(
            f"unknown chat model {model_id!r}.{hint} The chat models are: {known}",
            param="model",
        )

    def _find(self, model_id: str) -> ChatEntry | None:
        prefix, _, rest = model_id.strip().partition("/")
        return self._by_prefix.get(prefix.lower(), {}).get(rest.lower()) if rest else None
