"""One chat request through the core: find the model, its tokens, call the owning plugin's
`chat` hook with the same token rotation, retries, error mapping and deadline as images
(`imagegate.attempts`), and write the model's full id into the answer.

Streaming: the first chunk is awaited inside the attempts (so a refused token still moves
to the next one); after it the stream is the caller's, each chunk within the deadline.
`Gate.achat` and `Gate.astream_chat` are the public faces.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from .attempts import call_provider, mapped_failures
from .chat import ChatEntry, ChatRequest, ChatResult, build_chat_request
from .context import GenerateContext
from .credentials import split_tokens
from .errors import ImagegateError, InvalidModel, ProviderError, Timeout

if TYPE_CHECKING:
    from .gate import Gate
    from .models import ChatModel

__all__ = ["achat", "astream_chat", "resolve_chat"]


def resolve_chat(gate: Gate, model_id: str | None) -> ChatEntry:
    """The chat model a user-typed id names; an image model's id says where it belongs."""
    catalog = gate.catalog
    try:
        return catalog.chat.resolve(model_id)
    except InvalidModel as exc:
        try:
            image = catalog.resolve(model_id) if model_id else None
        except InvalidModel:
            image = None
        if image is None:
            raise
        raise InvalidModel(
            f"{image.model.full_id} is an image model: ask for images at "
            f"/v1/images/generations (or `imagegate generate`). {exc.message}",
            param="model",
        ) from None


async def achat(
    gate: Gate,
    messages: str | list[dict[str, Any]] | ChatRequest,
    *,
    model: str | None = None,
    token: str | Sequence[str] | None = None,
    timeout: float | None = None,
    **params: Any,
) -> ChatResult:
    started = time.monotonic()
    request = build_chat_request(messages, model=model, **params)
    data, model, _, _ = await _first_answer(gate, request, token, timeout, started)
    if not isinstance(data, dict):
        raise ProviderError(
            f"{model.provider.display_name} answered {model.full_id} with a stream; the "
            "request did not ask for one",
            provider=model.provider.id,
        )
    return ChatResult(
        model=model.full_id,
        provider=model.provider.id,
        data={**data, "model": model.full_id},
        elapsed=time.monotonic() - started,
    )


async def astream_chat(
    gate: Gate,
    messages: str | list[dict[str, Any]] | ChatRequest,
    *,
    model: str | None = None,
    token: str | Sequence[str] | None = None,
    timeout: float | None = None,
    **params: Any,
) -> AsyncIterator[dict[str, Any]]:
    """The chunks of a streamed answer. Errors before the first chunk are raised by the
    first `__anext__`, like any other error; later ones end the stream."""
    started = time.monotonic()
    request = build_chat_request(messages, model=model, **params)
    request = request.model_copy(update={"stream": True})
    first, model, context, secrets = await _first_answer(gate, request, token, timeout, started)
    if isinstance(first, dict):  # a plugin that cannot stream: its answer as chunks
        for chunk in as_chunks(first):
            yield {**chunk, "model": model.full_id}
        return
    chunk, rest = first
    try:
        yield {**chunk, "model": model.full_id}
        while True:
            with mapped_failures(model, context):
                try:
                    chunk = await asyncio.wait_for(rest.__anext__(), timeout=context.remaining())
                except StopAsyncIteration:
                    return
                except asyncio.TimeoutError:
                    raise _timeout(model, context, started) from None
            yield {**chunk, "model": model.full_id}
    except ImagegateError as exc:
        raise exc.redacted(secrets) from None
    finally:
        closer = getattr(rest, "aclose", None)
        if closer is not None:
            await closer()


async def _first_answer(
    gate: Gate,
    request: ChatRequest,
    token: str | Sequence[str] | None,
    timeout: float | None,
    started: float,
) -> tuple[Any, ChatModel, GenerateContext, list[str]]:
    """The provider's answer (or a stream's first chunk and the rest), within the deadline,
    its errors redacted; with the model, the call's context and the secrets to redact."""
    entry, context, tokens, secrets = _prepare(gate, request, token, timeout, started)
    model = entry.model
    try:
        answer = await asyncio.wait_for(
            _attempts(gate, entry, request, tokens, context), timeout=context.remaining()
        )
    except asyncio.TimeoutError:
        raise _timeout(model, context, started) from None
    except ImagegateError as exc:
        raise exc.redacted(secrets) from None
    return answer, model, context, secrets


def as_chunks(completion: dict[str, Any]) -> list[dict[str, Any]]:
    """A `chat.completion` as the `chat.completion.chunk`s a stream would have carried."""
    chunks = []
    for choice in completion.get("choices") or []:
        message = choice.get("message") or {}
        delta = {k: v for k, v in message.items() if v is not None}
        chunks.append(
            {
                "id": completion.get("id", "chatcmpl-imagegate"),
                "object": "chat.completion.chunk",
                "created": completion.get("created", int(time.time())),
                "choices": [
                    {
                        "index": choice.get("index", 0),
                        "delta": delta,
                        "finish_reason": choice.get("finish_reason") or "stop",
                    }
                ],
            }
        )
    return chunks


def _prepare(
    gate: Gate,
    request: ChatRequest,
    token: str | Sequence[str] | None,
    timeout: float | None,
    started: float,
) -> tuple[ChatEntry, GenerateContext, Any, list[str]]:
    entry = resolve_chat(gate, request.model)
    provider = entry.model.provider
    tokens = gate.tokens_for(provider, token)
    secrets = [*tokens.tokens, *(split_tokens(token) if token else [])]
    context = GenerateContext(
        client=gate._get_client(),
        base_url=gate.base_url_for(provider),
        deadline=started + (timeout or gate.timeout),
        provider=provider.id,
        model=entry.model.full_id,
        started=started,
    )
    return entry, context, tokens, secrets


async def _attempts(
    gate: Gate, entry: ChatEntry, request: ChatRequest, tokens: Any, context: GenerateContext
) -> Any:
    pm = gate.plugin_manager
    caller = pm.subset_hook_caller(
        "chat", remove_plugins=[p for p in pm.get_plugins() if p is not entry.plugin]
    )
    return await call_provider(
        caller,
        request,
        entry.model,
        tokens.tokens,
        context,
        health=gate.health,
        retries=gate.retries,
        invoke=_invoke,
    )


async def _invoke(
    caller: Any, request: ChatRequest, model: ChatModel, token: str | None, context: Any
) -> Any:
    """One `chat` hook call: the completion dict, or (first chunk, the rest) when streaming."""
    provider = model.provider
    with mapped_failures(model, context):
        answers = caller(request=request, model=model, token=token, context=context)
        if not answers:
            raise ProviderError(f"the {provider.id} plugin has no chat hook", provider=provider.id)
        answer = answers[0]
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, dict):
            return answer
        if not hasattr(answer, "__aiter__"):
            raise ProviderError(
                f"the {provider.id} plugin's chat hook returned {type(answer).__name__}",
                provider=provider.id,
            )
        rest = answer.__aiter__()
        try:
            first = await rest.__anext__()
        except StopAsyncIteration:
            raise ProviderError(
                f"{provider.display_name} ended the stream of {model.full_id} before any answer",
                provider=provider.id,
                transient=True,
            ) from None
        return first, rest


def _timeout(model: ChatModel, context: GenerateContext, started: float) -> Timeout:
    return Timeout(
        f"{model.provider.display_name} did not finish {model.full_id} within "
        f"{context.deadline - started:g}s; try again later or allow a longer timeout",
        provider=model.provider.id,
    )
