"""Gitee AI's wire format: the request body, the answers, and its errors as imagegate's.

The facts are in protocols.md section 2: guidance is `cfg_scale` for Qwen-Image models and
`guidance_scale` for the others; FLUX models reject `negative_prompt`; error text lives in
`error.message`, `message` or `error_message`.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from imagegate import GeneratedImage, ImageRequest, Model
from imagegate.errors import ImagegateError, InvalidModel, ProviderError
from imagegate.upstream import error_for_response, provider_message

from .models import PROVIDER

if TYPE_CHECKING:
    import httpx

__all__ = [
    "NAME",
    "body_for",
    "error_for",
    "headers_for",
    "images_from",
    "json_of",
    "message_of",
]

NAME = "Gitee AI"


def headers_for(token: str | None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {(token or '').strip()}",
        "Accept": "application/json",
    }


def guidance_field(model: Model) -> str:
    """Qwen-Image models call guidance `cfg_scale`; some deployments reject the other name."""
    return "cfg_scale" if model.id.lower().startswith("qwen-image") else "guidance_scale"


def body_for(request: ImageRequest, model: Model, response_format: str) -> dict[str, Any]:
    """The JSON body of a (sync or async) generation for an already resolved request."""
    caps = model.capabilities
    body: dict[str, Any] = {
        "model": model.id,
        "prompt": request.prompt,
        "width": request.width,
        "height": request.height,
        "seed": request.seed,
        "num_inference_steps": request.steps,
        "response_format": response_format,
    }
    if caps.negative_prompt and request.negative_prompt:
        body["negative_prompt"] = request.negative_prompt
    if caps.guidance is not None and request.guidance_scale is not None:
        body[guidance_field(model)] = request.guidance_scale
    return {key: value for key, value in body.items() if value is not None}


def json_of(response: httpx.Response, what: str) -> dict[str, Any]:
    """The JSON object of a 200 answer, or a ProviderError saying it is not one."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        kind = response.headers.get("content-type", "unknown type") or "unknown type"
        raise ProviderError(
            f"{NAME} answered {what} with a body that is not a JSON object ({kind}); "
            "the service may be down or a proxy is in the way",
            provider="gitee",
        )
    return data


def images_from(items: Any, request: ImageRequest, what: str) -> list[GeneratedImage]:
    """`GeneratedImage`s from `[{"url"} | {"b64_json"}, ...]`; ProviderError otherwise."""
    if isinstance(items, dict):
        items = [items]
    found: list[GeneratedImage] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        url = item.get("url") or item.get("file_url")
        if isinstance(url, str) and url:
            found.append(GeneratedImage(url=url, seed=request.seed))
        elif isinstance(item.get("b64_json"), str):
            try:
                data = base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError):
                raise ProviderError(
                    f"{NAME} answered {what} with b64_json that is not base64", provider="gitee"
                ) from None
            found.append(GeneratedImage(data=data, seed=request.seed))
    if not found:
        raise ProviderError(
            f"{NAME} answered {what} without an image (no url or b64_json)", provider="gitee"
        )
    return found


def message_of(data: Any) -> str | None:
    """The error text wherever Gitee put it: error.message, message, error_message."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    for key in ("message", "error_message", "error", "detail"):
        if isinstance(data.get(key), str) and data[key].strip():
            return data[key]
    return None


def error_for(
    response: httpx.Response, token: str | None, *, during: str = "request"
) -> ImagegateError:
    """The imagegate error for a non-2xx answer, through the core's shared table: Gitee
    answers a spent quota or an unpaid balance in English or Chinese (额度, 余额, 次数,
    欠费 ...) and with several statuses (400, 402, 403, 429); a 403 without such words is
    a permission answer. `during="poll"`: a 404 is a lost task, not an unknown model."""
    text = message_of_response(response)
    return error_for_response(
        response,
        provider=PROVIDER,
        name=NAME,
        message=text,
        secrets=[token, (token or "").strip()],
        not_found=ProviderError if during == "poll" else InvalidModel,
    )


def message_of_response(response: httpx.Response) -> str | None:
    """Gitee's error text wherever it put it (error.message, message, error_message)."""
    try:
        found = message_of(response.json())
    except ValueError:
        found = None
    return found or provider_message(response)
