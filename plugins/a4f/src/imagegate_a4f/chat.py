"""A4F's chat models (its OpenAI-compatible `POST /v1/chat/completions`), for the server's
chat route and prompt enhancement. The spec names one: `a4f/provider-3/deepseek-v3`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

from imagegate import ChatModel, ChatRequest, GenerateContext, hookimpl, openai_wire

from . import wire
from .models import PROVIDER

__all__ = ["CHAT_MODELS", "chat", "list_chat_models"]

CHAT_MODELS: tuple[ChatModel, ...] = (
    ChatModel(
        id="provider-3/deepseek-v3",
        display_name="DeepSeek V3 (provider-3)",
        provider=PROVIDER,
        aliases=("deepseek-v3",),
    ),
)


@hookimpl
def list_chat_models() -> list[ChatModel]:
    return list(CHAT_MODELS)


@hookimpl
def chat(
    request: ChatRequest, model: ChatModel, token: str | None, context: GenerateContext
) -> Awaitable[dict[str, Any]] | AsyncIterator[dict[str, Any]]:
    body = request.body(model.id)
    send = openai_wire.chat_stream if request.stream else openai_wire.chat_completion
    return send(context, body, model, token, error_for=lambda r: wire.error_for(r, token))
