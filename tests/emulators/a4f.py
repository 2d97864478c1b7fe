"""A4F's OpenAI-compatible image endpoint (protocols.md section 1), on loopback.

    POST /v1/images/generations    Bearer auth; {model, prompt, n, size, response_format}
    GET  /v1/images/serve/{id}     the generated PNG (A4F's "unified media serving")
    GET  /v1/usage                 a minimal account_information / rate_limits answer
    POST /v1/chat/completions      chat, plain or streamed (chat.py): provider-3/deepseek-v3

It checks what the real service checks: a key, a JSON body, a known model id carrying its
`provider-N/` prefix, a prompt, `n` 1-10, a `WxH` size, `response_format` url or b64_json.
Unknown fields are ignored, as an OpenAI-style gateway does; the request log shows them.
Errors use A4F's OpenAI-style shape `{"error": {"message", "type", "param", "code"}}`.

What A4F's docs (a4f.co/docs/errors) and its upstreams add, on by default:
    per-model `n`       `n` is 1-10 at A4F, but the upstream takes what it takes: the Imagen
                        models of provider-4 up to 4 images per call (Imagen's own limit),
                        the others one (`MODEL_MAX_N`); more is the upstream's 400
    plan restriction    a free-plan key (token containing "freeplan") asking for a model of
                        a paid plan (`PAID_MODELS`) gets 403 permission_error; it is not a
                        bad key, and other models still work with it
    408                 the `timeout` fault: A4F's "request timed out" answer (retryable)

Token conventions and fault kinds: see control.py. Honoured here: `status`, `quota`,
`rate_limit`, `delay`, `malformed_json`, `missing_data`, `truncated_image`, `timeout`. Variants:
    quota (variant="daily")         429 "daily free tier ... exceeded" (the default, and the
                                    answer to a "quota" token)
    quota (variant="payment")       402 insufficient credits
    quota (variant="insufficient")  403 "insufficient balance" (a proxied provider's wording)
    rate_limit (retry_after=2)      429 with a Retry-After header
    missing_data (variant="absent") 200 without `data` (the default); "empty": `data: []`;
                                    "no_image": an item with neither url nor b64_json
A4F-specific kind:
    partial (count=1)               a 200 with only `count` of the `n` images asked for
                                    (A4F's `n` holds "for most models", not all)
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import images
from .chat import ChatErrors, chat_endpoint
from .control import Control, bearer_token, token_kind

__all__ = [
    "BASE_PATH",
    "CHAT_MODELS",
    "FREE_PLAN_TOKEN",
    "MODELS",
    "MODEL_MAX_N",
    "PAID_MODELS",
    "create_app",
]

BASE_PATH = "/v1"

MODELS = (
    "provider-4/imagen-3.5",
    "provider-4/imagen-4",
    "provider-8/imagen-3",
    "provider-4/flux-schnell",
    "provider-8/z-image",
)

CHAT_MODELS = ("provider-3/deepseek-v3", "provider-1/gpt-4o-mini")

MAX_N = 10
MODEL_MAX_N = {
    "provider-4/imagen-3.5": 4,
    "provider-4/imagen-4": 4,
    "provider-8/imagen-3": 1,
    "provider-4/flux-schnell": 1,
    "provider-8/z-image": 1,
}
PAID_MODELS = frozenset({"provider-4/imagen-4"})
FREE_PLAN_TOKEN = "freeplan-token-0001"
MIN_SIDE, MAX_SIDE = 64, 4096
_PROVIDER_PREFIX = re.compile(r"^provider-\d+/[^/]+$")
_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


def error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """An answer in A4F's error shape."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def quota_answer(model: str, variant: str = "daily") -> JSONResponse:
    if variant == "payment":
        return error(
            402,
            "Insufficient credits: your balance cannot cover this request.",
            type_="insufficient_quota",
            code="insufficient_credits",
        )
    if variant == "insufficient":
        return error(
            403,
            "Upstream provider error: insufficient balance on the provider account.",
            type_="api_error",
            code="provider_error",
        )
    return error(
        429,
        f"Your daily free tier limit for model {model or 'this model'} has been exceeded. "
        "Upgrade your plan or try again tomorrow.",
        type_="rate_limit_error",
        code="daily_limit_exceeded",
    )


def rate_limit_answer(retry_after: float = 2) -> JSONResponse:
    return error(
        429,
        "Rate limit exceeded: too many requests per minute for your plan.",
        type_="rate_limit_error",
        code="rate_limit_exceeded",
        headers={"Retry-After": f"{retry_after:g}"},
    )


def plan_answer(model: str) -> JSONResponse:
    return error(
        403,
        f"Your current plan (free) does not include access to model '{model}'. "
        "Upgrade to a paid plan on the dashboard to use it.",
        type_="permission_error",
        code="plan_restricted",
    )


def timeout_answer() -> JSONResponse:
    return error(
        408,
        "Request timed out: the upstream provider took too long to respond. Please retry.",
        type_="timeout_error",
        code="request_timeout",
    )


def auth_problem(kind: str) -> JSONResponse | None:
    """The answer for a missing or conventionally bad key, or None when the key is fine."""
    if kind == "missing":
        return error(
            401,
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
            code="missing_api_key",
        )
    if kind == "invalid":
        return error(401, "Invalid API key provided.", code="invalid_api_key")
    if kind == "expired":
        return error(401, "Your API key has expired or was revoked.", code="invalid_api_key")
    return None


def create_app(control: Control) -> Starlette:
    async def record(request: Request) -> tuple[bytes, Any]:
        return await control.record_request(request)

    def delay_for() -> float:
        seconds = control.delay
        fault = control.take("delay")
        if fault is not None:
            seconds += float(fault.params.get("seconds", 1.0))
        return seconds

    async def generations(request: Request) -> Response:
        _, payload = await record(request)
        # Faults are claimed on arrival, so a slow request a client gave up on cannot
        # take the fault scripted for the request after it.
        seconds = delay_for()
        kind = token_kind(bearer_token(request))
        fault = None
        if kind == "ok":
            fault = control.take(
                "status",
                "quota",
                "rate_limit",
                "timeout",
                "malformed_json",
                "missing_data",
                "partial",
            )
        if seconds > 0:
            await asyncio.sleep(seconds)
        if (answer := auth_problem(kind)) is not None:
            return answer
        model = payload.get("model", "") if isinstance(payload, dict) else ""
        if kind == "quota":
            return quota_answer(model)
        if kind == "ratelimit":
            return rate_limit_answer()
        if fault is not None and fault.kind in ("status", "quota", "rate_limit", "timeout"):
            return scripted(fault.kind, fault.params, model)
        if not isinstance(payload, dict):
            return error(400, "The request body must be a JSON object.", code="invalid_json")
        problem = check(payload)
        if problem is not None:
            return problem
        if "freeplan" in (bearer_token(request) or "") and model in PAID_MODELS:
            return plan_answer(model)
        if (n := payload.get("n", 1)) > MODEL_MAX_N[model]:
            return error(
                400,
                f"Upstream provider error: model '{model}' supports at most "
                f"{MODEL_MAX_N[model]} image(s) per request (n={n}).",
                param="n",
                code="invalid_n",
            )
        if fault is not None and fault.kind == "malformed_json":
            return Response(
                '{"created": 17, "data": [{"url": ', media_type="application/json", status_code=200
            )
        if fault is not None and fault.kind == "missing_data":
            return missing(fault.params.get("variant", "absent"))
        n = payload.get("n", 1)
        if fault is not None and fault.kind == "partial":
            n = min(n, int(fault.params.get("count", 1)))
        return await answer_images(request, payload, n)

    def scripted(kind: str, params: dict[str, Any], model: str) -> Response:
        if kind == "quota":
            return quota_answer(model, params.get("variant", "daily"))
        if kind == "rate_limit":
            return rate_limit_answer(float(params.get("retry_after", 2)))
        if kind == "timeout":
            return timeout_answer()
        status = int(params.get("status", 500))
        message = params.get("message") or f"Upstream provider returned HTTP {status}."
        type_ = "server_error" if status >= 500 else "invalid_request_error"
        return error(status, message, type_=type_, code=params.get("code"))

    def missing(variant: str) -> JSONResponse:
        if variant == "empty":
            return JSONResponse({"created": int(time.time()), "data": []})
        if variant == "no_image":
            return JSONResponse({"created": int(time.time()), "data": [{"revised_prompt": "x"}]})
        return JSONResponse({"created": int(time.time())})

    async def answer_images(request: Request, payload: dict[str, Any], n: int) -> JSONResponse:
        width, height = _size(payload.get("size"))
        prompt = payload["prompt"]
        root = str(request.base_url).rstrip("/")
        data = []
        for index in range(n):
            png = images.render(prompt, index, width, height, "png")
            if payload.get("response_format", "url") == "b64_json":
                data.append({"b64_json": base64.b64encode(png).decode("ascii")})
            else:
                image_id = control.store_image(png, "image/png")
                data.append({"url": f"{root}{BASE_PATH}/images/serve/{image_id}"})
        return JSONResponse({"created": int(time.time()), "data": data})

    async def serve(request: Request) -> Response:
        await record(request)
        stored = control.images.get(request.path_params["image_id"])
        if stored is None:
            return error(404, "Image not found or expired.", code="not_found")
        data, mime = stored
        if control.take("truncated_image") is not None:
            data = images.truncated(data)
        return Response(data, media_type=mime)

    async def usage(request: Request) -> Response:
        await record(request)
        if (answer := auth_problem(token_kind(bearer_token(request)))) is not None:
            return answer
        return JSONResponse(
            {
                "account_information": {"plan": "free", "current_plan": "free"},
                "rate_limits": {"rpm": 10, "rpd": 100},
            }
        )

    routes = [
        Route(f"{BASE_PATH}/images/generations", generations, methods=["POST"]),
        Route(f"{BASE_PATH}/images/serve/{{image_id}}", serve, methods=["GET"]),
        Route(f"{BASE_PATH}/usage", usage, methods=["GET"]),
        Route(
            f"{BASE_PATH}/chat/completions",
            chat_endpoint(
                control,
                CHAT_MODELS,
                ChatErrors(error, auth_problem, quota_answer, rate_limit_answer),
            ),
            methods=["POST"],
        ),
        *control.routes(),
    ]
    return Starlette(routes=routes)


def check(payload: dict[str, Any]) -> JSONResponse | None:
    """The 400/404 A4F gives for a request it cannot serve, or None."""
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        return error(400, "'model' is a required property.", param="model", code="missing_model")
    if not _PROVIDER_PREFIX.match(model):
        return error(
            400,
            f"Invalid model '{model}': model ids must include a provider prefix, "
            "e.g. 'provider-4/imagen-4'.",
            param="model",
            code="invalid_model",
        )
    if model not in MODELS:
        return error(
            404,
            f"The model '{model}' does not exist or you do not have access to it.",
            param="model",
            code="model_not_found",
        )
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return error(400, "'prompt' is a required property.", param="prompt", code="missing_prompt")
    n = payload.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_N:
        return error(400, f"'n' must be an integer from 1 to {MAX_N}.", param="n", code="invalid_n")
    size = payload.get("size", "1024x1024")
    match = _SIZE.match(size) if isinstance(size, str) else None
    if match is None or not all(MIN_SIDE <= int(side) <= MAX_SIDE for side in match.groups()):
        return error(
            400,
            f"'size' must look like '1024x1024', each side {MIN_SIDE}-{MAX_SIDE}.",
            param="size",
            code="invalid_size",
        )
    if payload.get("response_format", "url") not in ("url", "b64_json"):
        return error(
            400,
            "'response_format' must be 'url' or 'b64_json'.",
            param="response_format",
            code="invalid_response_format",
        )
    return None


def _size(size: str | None) -> tuple[int, int]:
    match = _SIZE.match(size or "1024x1024")
    assert match is not None
    return int(match[1]), int(match[2])
