"""OpenAI's wire, for every plugin that speaks it (A4F, the OpenAI-compatible channels).

Images: `POST {base}/images/generations` with `model`, `prompt`, `n`, `size`, then only
what the model declares it takes: `response_format` where the endpoint accepts it (OpenAI's
GPT Image models refuse it and always answer with base64), the GPT Image fields and DALL-E's
style (`Capabilities.options`: quality, background, output_format, output_compression,
moderation, style), and the spec's extensions for servers that take them (`negative_prompt`,
`steps`, `seed`, `guidance_scale`, per the model's capabilities). Answers carry `url` or
`b64_json` items (and `revised_prompt`); fewer images than asked means another call.

Chat: `POST {base}/chat/completions`, plain or streamed as server-sent events
(`data: {chunk}` lines, then `data: [DONE]`). Models: `GET {base}/models`.

Requests go through `imagegate.kit` (the shared client, the base URL, the bearer token, the
deadline) and answers are read by `kit.json_images`. A plugin passes `error_for(response)`,
its mapping of a non-200 answer to an `imagegate.errors` exception
(`imagegate.upstream.error_for_response`, refined as the service needs).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from . import kit
from .errors import ImagegateError, ProviderError

if TYPE_CHECKING:
    import httpx

    from .context import GenerateContext
    from .models import ChatModel, Model
    from .request import ImageRequest
    from .results import GeneratedImage

__all__ = [
    "EXTENSIONS",
    "GPT_IMAGE_FIELDS",
    "chat_completion",
    "chat_stream",
    "generate_images",
    "image_body",
    "model_list",
    "parse_images",
]

ErrorFor = Callable[["httpx.Response"], ImagegateError]

GPT_IMAGE_FIELDS = ("quality", "background", "output_format", "output_compression", "moderation")
EXTENSIONS = ("negative_prompt", "steps", "seed", "guidance_scale")


def image_body(
    request: ImageRequest, model: Model, n: int, *, response_format: bool = True
) -> dict[str, Any]:
    """The JSON body for `n` images: the fields every endpoint takes, then only those the
    model declares (its options, its extensions)."""
    caps = model.capabilities
    body: dict[str, Any] = {
        "model": model.id,
        "prompt": request.prompt,
        "n": n,
        "size": f"{request.width}x{request.height}",
    }
    if response_format:
        body["response_format"] = request.response_format
    for name in caps.options:
        value = getattr(request, name)
        if value is not None:
            body[name] = value
    if caps.negative_prompt and request.negative_prompt:
        body["negative_prompt"] = request.negative_prompt
    if caps.steps is not None and request.steps is not None:
        body["steps"] = request.steps
    if caps.guidance is not None and request.guidance_scale is not None:
        body["guidance_scale"] = request.guidance_scale
    if caps.seed and request.seed is not None:
        body["seed"] = request.seed
    return body


async def generate_images(
    context: GenerateContext,
    body: dict[str, Any],
    model: Model,
    token: str | None,
    *,
    error_for: ErrorFor,
) -> list[GeneratedImage]:
    """`body["n"]` images: one call, and more while the endpoint returns fewer."""
    wanted = int(body.get("n", 1))
    name = model.provider.display_name
    images: list[GeneratedImage] = []
    while len(images) < wanted:  # each round adds at least one image or raises
        ask = wanted - len(images)
        context.report("submitted", message=f"{name} {model.id}, {ask} image(s)")
        response = await kit.post(
            context, "images/generations", json={**body, "n": ask}, token=token
        )
        images += parse_images(response, model, token, error_for=error_for)
    context.report("done")
    return images[:wanted]


def parse_images(
    response: httpx.Response, model: Model, token: str | None, *, error_for: ErrorFor
) -> list[GeneratedImage]:
    """The images of an answer (`imagegate.kit.json_images`); an error answer, or an error
    passed on inside a 200, goes to `error_for`."""
    if response.status_code != 200:
        raise error_for(response)
    try:
        payload = response.json()
    except ValueError:
        raise ProviderError(
            f"{model.provider.display_name} answered HTTP 200 with a body that is not JSON "
            f"({len(response.content)} bytes); try again later",
            provider=model.provider.id,
            transient=True,  # a cut-off answer: the next one is usually whole
        ) from None
    if isinstance(payload, dict) and payload.get("error") and not payload.get("data"):
        raise error_for(response)
    return kit.json_images(response, model, token=token)


async def chat_completion(
    context: GenerateContext,
    body: dict[str, Any],
    model: ChatModel,
    token: str | None,
    *,
    error_for: ErrorFor,
) -> dict[str, Any]:
    """OpenAI's `chat.completion` object for a body without `stream`."""
    name, provider = model.provider.display_name, model.provider.id
    response = await kit.post(context, "chat/completions", json=body, token=token)
    if response.status_code != 200:
        raise error_for(response)
    try:
        payload = response.json()
    except ValueError:
        raise ProviderError(
            f"{name} answered HTTP 200 with a chat body that is not JSON; try again later",
            provider=provider,
            transient=True,
        ) from None
    if isinstance(payload, dict) and payload.get("error") and not payload.get("choices"):
        raise error_for(response)
    if not isinstance(payload, dict) or not isinstance(payload.get("choices"), list):
        raise ProviderError(f"{name} answered without `choices`", provider=provider)
    return payload


async def chat_stream(
    context: GenerateContext,
    body: dict[str, Any],
    model: ChatModel,
    token: str | None,
    *,
    error_for: ErrorFor,
) -> AsyncIterator[dict[str, Any]]:
    """The `chat.completion.chunk`s of a streamed answer, as they arrive."""
    name, provider = model.provider.display_name, model.provider.id
    headers = {"Accept": "text/event-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with context.client.stream(
        "POST",
        kit.url(context, "chat/completions"),
        json={**body, "stream": True},
        headers=headers,
        timeout=max(0.01, context.remaining()),
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise error_for(response)
        finished = False
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue  # blank lines, `event:`, `: ping` comments
            data = line[5:].strip()
            if data == "[DONE]":
                finished = True
                break
            try:
                chunk = json.loads(data)
            except ValueError:
                raise ProviderError(
                    f"{name} sent a stream event that is not JSON", provider=provider
                ) from None
            if isinstance(chunk, dict) and chunk.get("error"):
                message = chunk["error"]
                if isinstance(message, dict):
                    message = message.get("message")
                raise ProviderError(f"{name} failed mid-answer: {message}", provider=provider)
            if isinstance(chunk, dict):
                yield chunk
        if not finished:
            raise ProviderError(
                f"{name} ended the stream before `[DONE]` (the answer may be cut short)",
                provider=provider,
                transient=True,
            )


def model_list(payload: Any) -> list[tuple[str, str | None]]:
    """`(id, type)` of each model of a `GET /models` answer: OpenAI's `{"data": [...]}`,
    or a bare list (Together's), with a `type` (`image`, `chat`, ...) where given."""
    items = payload.get("data") if isinstance(payload, dict) else payload
    found: list[tuple[str, str | None]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].strip():
            kind = item.get("type") or item.get("sub_type")
            found.append((item["id"].strip(), kind if isinstance(kind, str) else None))
    return found
