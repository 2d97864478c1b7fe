"""OpenAI's chat completions endpoint, for the emulators whose service has one (OpenAI,
A4F): `POST .../chat/completions`, plain or streamed.

It checks what OpenAI checks: a key, a JSON body, `model` (known, else 404
`model_not_found`), `messages` (a non-empty list of objects with a role), no unknown field
("Unrecognized request argument supplied: x", OpenAI's wording for chat). The answer is
deterministic: a request with a system message (prompt enhancement) gets the user's text
followed by `ENHANCED_SUFFIX`; any other gets `You said: <text>`. A stream is OpenAI's:
`data: {chunk}` events (the role first, the content a word at a time, then an empty delta
with `finish_reason`, then the usage chunk when `stream_options.include_usage`), then
`data: [DONE]`.

Faults (control.py): `status`, `quota`, `rate_limit`, `delay`, `malformed_json`,
`missing_data` (a 200 without `choices`), and two of streaming: `stream_cut` (the stream
ends without `[DONE]`) and `stream_error` (an error event after the first words).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .control import Control, bearer_token, token_kind

__all__ = ["ENHANCED_SUFFIX", "ChatErrors", "chat_endpoint", "reply_for"]

ENHANCED_SUFFIX = ", in rich detail, soft golden light, shallow depth of field, 35mm photograph"

CHAT_FIELDS = {
    "messages",
    "model",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "n",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
    "user",
    "safety_identifier",
    "seed",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "metadata",
    "store",
    "service_tier",
    "modalities",
    "prediction",
    "audio",
    "verbosity",
    "prompt_cache_key",
    "web_search_options",
}
_ids = itertools.count(1)


@dataclass
class ChatErrors:
    """How one service words its errors: its `error(status, message, ...)` builder and its
    answers for a bad key, a spent quota and a rate limit."""

    error: Callable[..., JSONResponse]
    auth_problem: Callable[[str], JSONResponse | None]
    quota: Callable[[str], JSONResponse]
    rate_limit: Callable[[float], JSONResponse]


def reply_for(messages: list[dict[str, Any]]) -> str:
    """The emulator's answer to a conversation (deterministic, see the module's doc)."""
    users = [m for m in messages if m.get("role") == "user"]
    text = _text(users[-1].get("content")) if users else ""
    if any(m.get("role") in ("system", "developer") for m in messages):
        return f"{text}{ENHANCED_SUFFIX}"
    return f"You said: {text}"


def chat_endpoint(
    control: Control, models: tuple[str, ...], errors: ChatErrors, *, keyed: bool = True
) -> Callable[[Request], Any]:
    """The route's handler; `keyed=False` for a server that takes any key, or none."""

    async def chat(request: Request) -> Response:
        body, payload = await control.record_request(request)
        seconds = control.delay
        kind = token_kind(bearer_token(request)) if keyed else "ok"
        fault = None
        if kind == "ok":
            fault = control.take(
                "status",
                "quota",
                "rate_limit",
                "malformed_json",
                "missing_data",
                "delay",
                "stream_cut",
                "stream_error",
            )
        if fault is not None and fault.kind == "delay":
            seconds += float(fault.params.get("seconds", 1.0))
        if seconds > 0:
            await asyncio.sleep(seconds)
        if (answer := errors.auth_problem(kind)) is not None:
            return answer
        model = payload.get("model", "") if isinstance(payload, dict) else ""
        if kind == "quota":
            return errors.quota(model)
        if kind == "ratelimit":
            return errors.rate_limit(2)
        if fault is not None and fault.kind == "quota":
            return errors.quota(model)
        if fault is not None and fault.kind == "rate_limit":
            return errors.rate_limit(float(fault.params.get("retry_after", 2)))
        if fault is not None and fault.kind == "status":
            status = int(fault.params.get("status", 500))
            message = fault.params.get("message") or "The server had an error while processing"
            kind_of = {"type_": "server_error"} if status >= 500 else {}
            return errors.error(status, message, **kind_of)
        if payload is None and body:
            return errors.error(
                400,
                "We could not parse the JSON body of your request. (HINT: This likely means "
                "you aren't using your HTTP library correctly. The OpenAI API expects a JSON "
                "payload, but what was sent was not valid JSON.)",
            )
        problem = _check(payload, models, errors)
        if problem is not None:
            return problem
        if fault is not None and fault.kind == "malformed_json":
            return Response('{"id": "chatcmpl-1", "choices": [', media_type="application/json")
        if fault is not None and fault.kind == "missing_data":
            return JSONResponse({"id": "chatcmpl-1", "object": "chat.completion"})
        reply = reply_for(payload["messages"])
        max_tokens = payload.get("max_completion_tokens") or payload.get("max_tokens")
        if isinstance(max_tokens, int) and max_tokens > 0:
            reply = " ".join(reply.split()[:max_tokens])
        if payload.get("stream"):
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
            cut = fault.kind if fault is not None else None
            return StreamingResponse(
                _events(model, reply, include_usage, cut), media_type="text/event-stream"
            )
        return JSONResponse(_completion(model, payload["messages"], reply))

    return chat


def _check(payload: Any, models: tuple[str, ...], errors: ChatErrors) -> JSONResponse | None:
    if not isinstance(payload, dict):
        return errors.error(400, "The request body must be a JSON object.")
    unknown = sorted(set(payload) - CHAT_FIELDS)
    if unknown:
        return errors.error(400, f"Unrecognized request argument supplied: {unknown[0]}")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        return errors.error(400, "you must provide a model parameter", param="model")
    if model not in models:
        return errors.error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages:
        return errors.error(
            400,
            "Missing required parameter: 'messages'.",
            param="messages",
            code="missing_required_parameter",
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return errors.error(
                400,
                f"Missing required parameter: 'messages[{index}].role'.",
                param=f"messages[{index}].role",
                code="missing_required_parameter",
            )
    return None


def _completion(model: str, messages: list[dict[str, Any]], reply: str) -> dict[str, Any]:
    prompt_tokens = sum(len(_text(m.get("content")).split()) for m in messages)
    completion_tokens = len(reply.split())
    return {
        "id": f"chatcmpl-emu{next(_ids):06d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


async def _events(
    model: str, reply: str, include_usage: bool, fault: str | None
) -> AsyncIterator[bytes]:
    chat_id = f"chatcmpl-emu{next(_ids):06d}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        body = {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n".encode()

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    words = reply.split(" ")
    for index, word in enumerate(words):
        if fault in ("stream_cut", "stream_error") and index == max(1, len(words) // 2):
            if fault == "stream_error":
                error = {
                    "message": "The server had an error while streaming",
                    "type": "server_error",
                }
                yield f"data: {json.dumps({'error': error})}\n\n".encode()
            return
        yield chunk({"content": word if index == 0 else f" {word}"})
        await asyncio.sleep(0)
    yield chunk({}, "stop")
    if include_usage:
        count = len(reply.split())
        usage = {"prompt_tokens": 1, "completion_tokens": count, "total_tokens": count + 1}
        body = {
            "id": chat_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [],
            "usage": usage,
        }
        yield f"data: {json.dumps(body)}\n\n".encode()
    yield b"data: [DONE]\n\n"


def _text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict)).strip()
    return ""
