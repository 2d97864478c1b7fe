"""An OpenAI-compatible service on loopback, in two personalities on one port:

    /v1/...        OpenAI's own API: the GPT Image models with their real rules
    /local/v1/...  a self-hosted OpenAI-compatible server (vLLM-Omni, SGLang, LocalAI
                   style) serving open models, which also takes the spec's extensions

    POST {base}/images/generations   Bearer auth; OpenAI's body
    POST {base}/chat/completions     chat, plain or streamed (chat.py)
    GET  {base}/models               OpenAI's model list
    GET  /local/v1/images/serve/{id} the self-hosted server's image files

OpenAI (`/v1`), as its Images reference and the openai SDK 3.57 describe it: `model` is
required and known (else 404 `model_not_found`; gpt-image-1 and the DALL-E models are
retired); a field OpenAI does not have, or `response_format`/`style` (legacy, refused by
GPT Image models), is 400 "Unknown parameter: 'x'." (`unknown_parameter`); `quality`,
`background`, `output_format`, `moderation` take only their listed values (400 "Invalid
value: 'hd'. Supported values are: ..." `invalid_value`), `output_compression` 0-100 and
only with jpeg or webp; `n` 1-10; `size` one of the listed sizes (gpt-image-1.5,
gpt-image-1-mini, chatgpt-image-latest) or, for gpt-image-2 and the 2.5 models, any WxH
with sides divisible by 16, at most 3:1, 655,360-8,294,400 pixels and no side over 3840.
The answer is always base64, in the asked `output_format`, with `usage`.

The self-hosted server (`/local/v1`) takes `model`, `prompt`, `n` (1-4), `size` (64-2048
per side), `response_format` (url or b64_json), `negative_prompt`, `steps` (or
`num_inference_steps`), `seed`, `guidance_scale`; like most pydantic servers it ignores
other fields (the request log shows them). It answers with URLs by default.

Errors use OpenAI's shape and wording: 401 "Incorrect API key provided", 429
`insufficient_quota` ("You exceeded your current quota...") and `rate_limit_exceeded` (with
Retry-After). Faults (control.py): `status`, `quota`, `rate_limit`, `delay`,
`malformed_json`, `missing_data`, `truncated_image`, and chat.py's stream faults.
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
from .openai_rules import CHAT_MODELS, IMAGE_MODELS, check_openai, error

__all__ = ["BASE_PATH", "CHAT_MODELS", "IMAGE_MODELS", "LOCAL_PATH", "create_app"]

BASE_PATH = "/v1"
LOCAL_PATH = "/local/v1"

LOCAL_IMAGE_MODELS = ("z-image-turbo", "qwen-image")
LOCAL_CHAT_MODELS = ("qwen3-8b",)

_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


def auth_problem(kind: str, token: str | None = None) -> JSONResponse | None:
    if kind == "missing":
        return error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
            "or as the password field (with blank username) if you're accessing the API "
            "from your browser and are prompted for a username and password. You can obtain "
            "an API key from https://platform.openai.com/account/api-keys.",
        )
    if kind in ("invalid", "expired"):
        shown = f"{token[:3]}*****{token[-4:]}" if token and len(token) > 8 else "***"
        return error(
            401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    return None


def quota_answer(model: str = "") -> JSONResponse:
    return error(
        429,
        "You exceeded your current quota, please check your plan and billing details. For "
        "more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        type_="insufficient_quota",
        code="insufficient_quota",
    )


def rate_limit_answer(retry_after: float = 2) -> JSONResponse:
    return error(
        429,
        "Rate limit reached for images per minute (IPM): Limit 5, Used 5, Requested 1. "
        f"Please try again in {retry_after:g}s. Visit https://platform.openai.com/account/"
        "rate-limits to learn more.",
        type_="requests",
        code="rate_limit_exceeded",
        headers={"Retry-After": f"{retry_after:g}"},
    )


def create_app(control: Control) -> Starlette:
    chat_errors = ChatErrors(error, auth_problem, quota_answer, rate_limit_answer)

    async def admitted(request: Request) -> tuple[Any, Response | None, Any]:
        """The parsed body, an early answer (auth, scripted faults), and a fault to apply."""
        body, payload = await control.record_request(request)
        seconds = control.delay
        token = bearer_token(request)
        kind = token_kind(token)
        if request.url.path.startswith(LOCAL_PATH):
            kind = "ok"  # a self-hosted server started without a key takes any, or none
        fault = None
        if kind == "ok":
            fault = control.take(
                "status", "quota", "rate_limit", "malformed_json", "missing_data", "delay"
            )
        if fault is not None and fault.kind == "delay":
            seconds += float(fault.params.get("seconds", 1.0))
        if seconds > 0:
            await asyncio.sleep(seconds)
        if (answer := auth_problem(kind, token)) is not None:
            return payload, answer, None
        if kind == "quota":
            return payload, quota_answer(), None
        if kind == "ratelimit":
            return payload, rate_limit_answer(), None
        if fault is not None and fault.kind == "quota":
            return payload, quota_answer(), None
        if fault is not None and fault.kind == "rate_limit":
            return payload, rate_limit_answer(float(fault.params.get("retry_after", 2))), None
        if fault is not None and fault.kind == "status":
            status = int(fault.params.get("status", 500))
            message = fault.params.get("message") or "The server had an error while processing"
            kind_of = {"type_": "server_error"} if status >= 500 else {}
            return payload, error(status, message, **kind_of), None
        if payload is None and body:
            return (
                payload,
                error(400, "We could not parse the JSON body of your request."),
                None,
            )
        if not isinstance(payload, dict):
            return payload, error(400, "The request body must be a JSON object."), None
        return payload, None, fault

    async def generations(request: Request) -> Response:
        payload, early, fault = await admitted(request)
        if early is not None:
            return early
        problem = check_openai(payload)
        if problem is not None:
            return problem
        if (shaped := _faulty(fault)) is not None:
            return shaped
        fmt = payload.get("output_format", "png")
        width, height = _dimensions(payload.get("size"), payload["model"])
        data = [
            {
                "b64_json": base64.b64encode(
                    images.render(payload["prompt"], i, width, height, fmt)
                ).decode()
            }
            for i in range(payload.get("n", 1))
        ]
        quality = payload.get("quality", "auto")
        return JSONResponse(
            {
                "created": int(time.time()),
                "background": "opaque"
                if payload.get("background", "auto") == "auto"
                else payload["background"],
                "data": data,
                "output_format": fmt,
                "quality": "medium" if quality == "auto" else quality,
                "size": f"{width}x{height}",
                "usage": {
                    "input_tokens": len(payload["prompt"].split()),
                    "input_tokens_details": {"image_tokens": 0, "text_tokens": 1},
                    "output_tokens": 272 * len(data),
                    "total_tokens": 272 * len(data) + 1,
                },
            }
        )

    async def local_generations(request: Request) -> Response:
        payload, early, fault = await admitted(request)
        if early is not None:
            return early
        problem = check_local(payload)
        if problem is not None:
            return problem
        if (shaped := _faulty(fault)) is not None:
            return shaped
        match = _SIZE.match(payload.get("size", "1024x1024"))
        assert match is not None
        width, height = int(match[1]), int(match[2])
        seed = payload.get("seed", 0)
        root = str(request.base_url).rstrip("/")
        data = []
        for index in range(payload.get("n", 1)):
            png = images.render(payload["prompt"], seed + index, width, height, "png")
            if payload.get("response_format", "url") == "b64_json":
                data.append({"b64_json": base64.b64encode(png).decode()})
            else:
                image_id = control.store_image(png, "image/png")
                data.append({"url": f"{root}{LOCAL_PATH}/images/serve/{image_id}"})
        return JSONResponse({"created": int(time.time()), "data": data})

    async def serve(request: Request) -> Response:
        await control.record_request(request)
        stored = control.images.get(request.path_params["image_id"])
        if stored is None:
            return error(404, "Image not found.", code="not_found")
        data, mime = stored
        if control.take("truncated_image") is not None:
            data = images.truncated(data)
        return Response(data, media_type=mime)

    def model_list(ids: tuple[str, ...], owner: str, *, keyed: bool = True):
        async def listing(request: Request) -> Response:
            await control.record_request(request)
            kind = token_kind(bearer_token(request)) if keyed else "ok"
            if (answer := auth_problem(kind)) is not None:
                return answer
            data = [
                {"id": i, "object": "model", "created": 1700000000, "owned_by": owner} for i in ids
            ]
            return JSONResponse({"object": "list", "data": data})

        return listing

    routes = [
        Route(f"{BASE_PATH}/images/generations", generations, methods=["POST"]),
        Route(
            f"{BASE_PATH}/chat/completions",
            chat_endpoint(control, CHAT_MODELS, chat_errors),
            methods=["POST"],
        ),
        Route(
            f"{BASE_PATH}/models",
            model_list((*IMAGE_MODELS, *CHAT_MODELS, "text-embedding-3-small"), "openai"),
            methods=["GET"],
        ),
        Route(f"{LOCAL_PATH}/images/generations", local_generations, methods=["POST"]),
        Route(f"{LOCAL_PATH}/images/serve/{{image_id}}", serve, methods=["GET"]),
        Route(
            f"{LOCAL_PATH}/chat/completions",
            chat_endpoint(control, LOCAL_CHAT_MODELS, chat_errors, keyed=False),
            methods=["POST"],
        ),
        Route(
            f"{LOCAL_PATH}/models",
            model_list((*LOCAL_IMAGE_MODELS, *LOCAL_CHAT_MODELS), "local", keyed=False),
            methods=["GET"],
        ),
        *control.routes(),
    ]
    return Starlette(routes=routes)


def _faulty(fault: Any) -> Response | None:
    if fault is not None and fault.kind == "malformed_json":
        return Response('{"created": 17, "data": [{"b64_json": ', media_type="application/json")
    if fault is not None and fault.kind == "missing_data":
        return JSONResponse({"created": int(time.time())})
    return None


def check_local(payload: dict[str, Any]) -> JSONResponse | None:
    """What the self-hosted server refuses (it ignores fields it does not know)."""
    model = payload.get("model")
    if model not in LOCAL_IMAGE_MODELS:
        return error(
            404, f"The model `{model}` does not exist.", param="model", code="model_not_found"
        )
    if not isinstance(payload.get("prompt"), str) or not payload["prompt"].strip():
        return error(400, "prompt is required", param="prompt")
    n = payload.get("n", 1)
    if not isinstance(n, int) or not 1 <= n <= 4:
        return error(400, "n must be between 1 and 4", param="n")
    match = _SIZE.match(payload.get("size", "1024x1024"))
    if match is None or not all(64 <= int(side) <= 2048 for side in match.groups()):
        return error(400, "size must be WxH with each side 64-2048", param="size")
    if payload.get("response_format", "url") not in ("url", "b64_json"):
        return error(400, "response_format must be url or b64_json", param="response_format")
    if "num_inference_steps" in payload and "steps" not in payload:
        payload["steps"] = payload["num_inference_steps"]
    for name, kind in (("steps", int), ("seed", int), ("guidance_scale", (int, float))):
        if name in payload and not isinstance(payload[name], kind):
            return error(400, f"{name} must be a number", param=name)
    return None


def _dimensions(size: Any, model: str) -> tuple[int, int]:
    match = _SIZE.match(size) if isinstance(size, str) else None
    if match is None:  # auto: the model picks (square here)
        return 1024, 1024
    return int(match[1]), int(match[2])
