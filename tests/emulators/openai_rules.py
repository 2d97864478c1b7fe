"""OpenAI's own rules for an image request (its Images reference and the openai SDK 3.57):
the fields it knows, the values each takes, the models and their sizes. `openai.py` serves
them, beside the self-hosted personality of its own rules."""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["CHAT_MODELS", "IMAGE_MODELS", "RETIRED", "check_openai", "error"]

_QUALITY = ("low", "medium", "high", "auto")
_BIG_QUALITY = (*_QUALITY, "xhigh", "max")
_LISTED = ("1024x1024", "1536x1024", "1024x1536")
IMAGE_MODELS: dict[str, tuple[str, ...] | None] = {
    "gpt-image-2": None,  # None: flexible sizes
    "gpt-image-2.5-sunburst": None,
    "gpt-image-2.5-flare": None,
    "gpt-image-1.5": _LISTED,
    "gpt-image-1-mini": _LISTED,
    "chatgpt-image-latest": _LISTED,
}
RETIRED = ("gpt-image-1", "dall-e-2", "dall-e-3")
CHAT_MODELS = ("gpt-5.4-mini", "gpt-5.4-nano")
_OPENAI_FIELDS = {
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "moderation",
    "user",
    "safety_identifier",
    "stream",
    "partial_images",
}
_CHOICES = {
    "background": ("transparent", "opaque", "auto"),
    "output_format": ("png", "webp", "jpeg"),
    "moderation": ("low", "auto"),
}
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")


def error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def check_openai(payload: dict[str, Any]) -> JSONResponse | None:
    """The 400/404 OpenAI gives for an image request it cannot serve, or None."""
    for name in payload:
        if name not in _OPENAI_FIELDS:
            return error(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")
    model = payload.get("model")
    if not isinstance(model, str) or not model:
        return error(400, "you must provide a model parameter", param="model")
    if model not in IMAGE_MODELS:
        retired = " This model was retired." if model in RETIRED else ""
        return error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.{retired}",
            param="model",
            code="model_not_found",
        )
    prompt = payload.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        return error(
            400,
            "Missing required parameter: 'prompt'.",
            param="prompt",
            code="missing_required_parameter",
        )
    n = payload.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
        return error(
            400,
            f"Invalid 'n': expected an integer from 1 to 10, but got {n!r} instead.",
            param="n",
            code="invalid_value",
        )
    quality = _BIG_QUALITY if model.startswith("gpt-image-2.5") else _QUALITY
    for name, allowed in {**_CHOICES, "quality": quality}.items():
        if name in payload and payload[name] not in allowed:
            return _invalid_value(name, payload[name], allowed)
    compression = payload.get("output_compression")
    if compression is not None:
        if not isinstance(compression, int) or not 0 <= compression <= 100:
            return error(
                400,
                f"Invalid 'output_compression': expected an integer from 0 to 100, but got "
                f"{compression!r} instead.",
                param="output_compression",
                code="invalid_value",
            )
        if payload.get("output_format", "png") == "png":
            return error(
                400,
                "output_compression is only supported for the 'jpeg' and 'webp' output formats.",
                param="output_compression",
                code="invalid_value",
            )
    if payload.get("background") == "transparent" and payload.get("output_format") == "jpeg":
        return error(
            400,
            "Transparent backgrounds are supported only with the 'png' and 'webp' output formats.",
            param="background",
            code="invalid_value",
        )
    return _check_size(model, payload.get("size", "auto"))


def _check_size(model: str, size: Any) -> JSONResponse | None:
    listed = IMAGE_MODELS[model]
    if size == "auto":
        return None
    if listed is not None:
        if size not in listed:
            return _invalid_value("size", size, (*listed, "auto"))
        return None
    match = _SIZE.match(size) if isinstance(size, str) else None
    if match is None:
        return error(
            400,
            f"Invalid size '{size}'. The size must be 'auto' or WIDTHxHEIGHT.",
            param="size",
            code="invalid_value",
        )
    width, height = int(match[1]), int(match[2])
    why = None
    if width % 16 or height % 16:
        why = "Width and height must both be divisible by 16."
    elif max(width, height) > 3 * min(width, height):
        why = "The aspect ratio must be between 1:3 and 3:1."
    elif max(width, height) > 3840 or not 655_360 <= width * height <= 8_294_400:
        why = "The total pixels must be between 655360 and 8294400, no edge above 3840."
    if why:
        return error(400, f"Invalid size '{size}'. {why}", param="size", code="invalid_value")
    return None


def _invalid_value(name: str, value: Any, allowed: tuple[str, ...]) -> JSONResponse:
    quoted = [f"'{v}'" for v in allowed]
    listed = ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    return error(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        param=name,
        code="invalid_value",
    )
