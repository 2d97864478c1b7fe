"""`POST /v1/chat/completions`: OpenAI's chat endpoint, relayed to the chat model's plugin.

The same rules as images: the caller's `Authorization` decides whose tokens are used
(`auth.caller_tokens`), the body is read with a cap (16 times the images' cap: a chat
carries its history), the call runs within the server's timeout and is cancelled when the
caller goes away, and every failure is OpenAI's error envelope. `stream: true` answers with
server-sent events in OpenAI's format, `data: {chunk}` then `data: [DONE]`; a failure after
the first chunk is sent as an `error` event, which the SDKs raise.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagegate import Gate
from imagegate.chat import build_chat_request
from imagegate.errors import AuthRequired, ImagegateError, InvalidRequest

from .auth import caller_tokens
from .limits import ClientGone, read_body, unless_disconnected

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
                return _event_stream(first, stream)
            result = await unless_disconnected(
                request, gate.achat(chat_request, token=tokens, timeout=timeout)
            )
        except ClientGone:
            return Response(status_code=499)
        except AuthRequired as exc:
            from .app import _how_to_send_a_token

            raise _how_to_send_a_token(exc, gate, protected=api_key is not None) from None
        request.state.model = result.model
        return Response(
            json.dumps(result.data, ensure_ascii=False, separators=(",", ":")).encode(),
            media_type="application/json",
        )

    app.router.routes.insert(0, Route("/v1/chat/completions", completions, methods=["POST"]))


def _parse(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not valid JSON: {exc}", param=None) from None
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be a JSON object", param=None)
    return payload


def _event_stream(first: dict[str, Any], rest: AsyncIterator[dict[str, Any]]) -> Response:
    from sse_starlette import EventSourceResponse

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"data": _dumps(first)}
            async for chunk in rest:
                yield {"data": _dumps(chunk)}
        except ImagegateError as exc:
            yield {"data": _dumps(exc.to_openai())}
            return
        finally:
            await rest.aclose()  # type: ignore[attr-defined]
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), sep="\n", headers={"Cache-Control": "no-cache"})


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
