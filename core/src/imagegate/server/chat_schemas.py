"""The chat route's JSON as /openapi.json describes it (documentation only: the route reads
the body itself and relays the provider's answer).

OpenAI's chat format is open-ended (sampling fields, tools, a provider's own extras), so
these models name what the server checks or promises and allow the rest.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from imagegate.chat import ROLES

__all__ = ["ChatCompletion", "ChatCompletionRequest", "ChatMessage"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Open):
    role: Literal[ROLES] = Field(description="Who speaks.")  # type: ignore[valid-type]
    content: str | list[dict[str, Any]] | None = Field(
        default=None, description="The text, or OpenAI's list of content parts."
    )


class ChatCompletionRequest(_Open):
    """OpenAI's chat completion body; fields beyond these (temperature, max_tokens, tools,
    ...) go to the provider unchanged."""

    model: str = Field(
        pattern=r"\S",
        description='A chat model of GET /v1/models (`"type": "chat"`), e.g. '
        "`a4f/provider-3/deepseek-v3`.",
    )
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = Field(
        default=None,
        description="true: server-sent events, `data: {chat.completion.chunk}` then "
        "`data: [DONE]`; a failure after the first chunk is sent as an `error` event.",
    )


class ChatChoice(_Open):
    index: int | None = None
    message: dict[str, Any] | None = None
    finish_reason: str | None = None


class ChatCompletion(_Open):
    """OpenAI's `chat.completion` object as the provider answered it, its `model` the full
    id."""

    id: str | None = None
    object: str | None = Field(default=None, description="`chat.completion`.")
    created: int | None = None
    model: str = Field(description="The full id of the chat model that answered.")
    choices: list[ChatChoice]
    usage: dict[str, Any] | None = None
