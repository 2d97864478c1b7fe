"""`POST /v1/chat/completions`: OpenAI's chat endpoint, relayed to the chat model's plugin.

The same rules as images: the caller's `Authorization` decides whose tokens are used
(`auth.caller_tokens`), the body must be JSON (415) and is read with a cap (413; 16 times
the images' cap: a chat carries its history), the call runs within the server's timeout and
is cancelled when the caller goes away, rate limits count it, and every failure is OpenAI's
error envelope worded for the caller (`advice`). `stream: true` answers with server-sent
events in OpenAI's format, `data: {chunk}` then `data: [DONE]`; a failure after the first
chunk is sent as an `error` event, which the SDKs raise.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Header
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagegate import Gate
from imagegate.chat import build_chat_request
from imagegate.errors import ImagegateError, InvalidRequest

from .auth import caller_tokens
from .chat_schemas import ChatCompletion, ChatCompletionRequest
from .errors import error_response
from .limits import ClientGone, read_body, require_json, unless_disconnected
from .openapi import error_responses

__all__ = ["CHAT_BODY_FACTOR", "install_chat"]

CHAT_BODY_FACTOR = 16
"""A chat body may be this many times larger than an image request's."""


def install_chat(
    app: Any, gate: Gate, *, api_key: str | None, timeout: float, max_body: int
) -> None:
    """Serve `POST /v1/chat/completions` on `app` (a plain Starlette route, like images)."""
    limit = max_body * CHAT_BODY_FACTOR

    async def completions(request: Request) -> Response:
        """OpenAI's chat completion body; the model is a chat model of GET /v1/models."""
        tokens = caller_tokens(request, api_key)
        require_json(request)
        payload = _parse(await read_body(request, limit))
        model = payload.pop("model", None)
        if not isinstance(model, str) or not model.strip():
            raise InvalidRequest(
                'model is required: a chat model of GET /v1/models ("type": "chat")',
                param="model",
            )
        request.state.model = model
        messages = payload.pop("messages", None)
        if not isinstance(messages, list):
            raise InvalidRequest("messages is required: a list of messages", param="messages")
        chat_request = build_chat_request(messages, model=model, **payload)
        try:
            if chat_request.stream:
                stream = gate.astream_chat(chat_request, token=tokens, timeout=timeout)
                first = await unless_disconnected(request, stream.__anext__())
                request.state.model = first.get("model", model)
                return _event_stream(request, first, stream)
            result = await unless_disconnected(
                request, gate.achat(chat_request, token=tokens, timeout=timeout)
            )
        except ClientGone:
            return Response(status_code=499)
        request.state.model = result.model
        return Response(
            json.dumps(result.data, ensure_ascii=False, separators=(",", ":")).encode(),
            media_type="application/json",
        )

    app.router.routes.insert(0, Route("/v1/chat/completions", completions, methods=["POST"]))
    _describe(app, limit)


def _describe(app: Any, limit: int) -> None:
    """The route in /openapi.json (never routed: the Starlette route above answers)."""

    async def completions_doc(
        body: ChatCompletionRequest,
        x_imagegate_token: str | None = Header(
            default=None,
            description="Protected server: your own provider token(s), `a4f:<token>`, "
            "used instead of the server's.",
        ),
    ) -> Response:  # pragma: no cover
        raise NotImplementedError

    responses = error_responses(400, 401, 403, 404, 408, 413, 415, 429, 431, 502, 503, 504)
    responses[413] = {
        **responses[413],
        "description": f"The body is over {limit // 1024} KB (16 times the images' cap)",
    }
    responses[200] = {
        "description": "The answer; with `stream: true`, server-sent events of its chunks",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
    app.post(
        "/v1/chat/completions",
        response_model=ChatCompletion,
        responses=responses,
        summary="Chat with a chat model",
        description="OpenAI's chat completion body, relayed to the chat model's provider "
        "with the caller's or the server's token; its answer as the provider gave it.",
        operation_id="create_chat_completion",
    )(completions_doc)


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}", param=None) from None
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be a JSON object", param=None)
    return payload


def _event_stream(
    request: Request, first: dict[str, Any], rest: AsyncIterator[dict[str, Any]]
) -> Response:
    from sse_starlette import EventSourceResponse

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"data": _dumps(first)}
            async for chunk in rest:
                yield {"data": _dumps(chunk)}
        except ImagegateError as exc:  # the envelope and words of any other error
            yield {"data": error_response(exc, request).body.decode()}
            return
        finally:
            await rest.aclose()  # type: ignore[attr-defined]
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), sep="\n", headers={"Cache-Control": "no-cache"})


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
