"""imagegate provider plugin for any OpenAI-compatible endpoint ("channels").

pip install imagegate-openai
imagegate channels add openai --preset openai         # OpenAI's own API
imagegate channels add local --base-url http://127.0.0.1:8000/v1 --model z-image-turbo
imagegate generate "a cute cat" -m openai/gpt-image-2

Each channel in the channels file (`imagegate.channels`) is a provider of its own, named
after it: model ids `NAME/<model>`, tokens from `IMAGEGATE_<NAME>_TOKEN`, `imagegate keys
set NAME` or `Bearer NAME:<token>` on the server. Images and chat go through OpenAI's wire
(`imagegate.openai_wire`), errors through the core's table (`imagegate.upstream`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

from imagegate import (
    ChatModel,
    ChatRequest,
    GenerateContext,
    GeneratedImage,
    ImageRequest,
    Model,
    hookimpl,
    openai_wire,
)
from imagegate.errors import ImagegateError
from imagegate.upstream import error_for_response

from .providers import declared

__all__ = ["chat", "generate", "list_chat_models", "list_models"]


@hookimpl
def list_models() -> list[Model]:
    return list(declared().models)


@hookimpl
def list_chat_models() -> list[ChatModel]:
    return list(declared().chat_models)


@hookimpl
async def generate(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    """`request.n` images from the channel's endpoint (the core already split `n` by the
    model's `max_images_per_call`)."""
    entry = declared().wire.get(model.full_id)
    body = openai_wire.image_body(
        request, model, request.n, response_format=entry.response_format if entry else True
    )
    return await openai_wire.generate_images(
        context, body, model, token, error_for=_error_for(model, token)
    )


@hookimpl
def chat(
    request: ChatRequest, model: ChatModel, token: str | None, context: GenerateContext
) -> Awaitable[dict[str, Any]] | AsyncIterator[dict[str, Any]]:
    body = request.body(model.id)
    wire = openai_wire.chat_stream if request.stream else openai_wire.chat_completion
    return wire(context, body, model, token, error_for=_error_for(model, token))


def _error_for(model: Model | ChatModel, token: str | None):
    def error_for(response: Any) -> ImagegateError:
        return error_for_response(response, provider=model.provider, secrets=[token])

    return error_for
