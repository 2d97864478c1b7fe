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
from imagegate.errors import (
    AuthExpired,
    AuthInvalid,
    ImagegateError,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    redact,
    retry_after_seconds,
)

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
_KEY_HINT = "create one at https://ai.gitee.com, then set IMAGEGATE_GITEE_TOKEN"


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


def error_for(response: httpx.Response, token: str | None) -> ImagegateError:
    """The imagegate error for a non-2xx answer. Text checks come before status checks
    because Gitee reports quota and expiry with several statuses (401, 402, 403, 429)."""
    status = response.status_code
    try:
        text = message_of(response.json())
    except ValueError:
        text = response.text.strip()[:200] or None
    detail = redact(" ".join((text or f"HTTP {status}").split())[:300], [token or ""])
    low = detail.lower()
    where = f"{NAME} (HTTP {status}): {detail}"
    if "expired" in low:
        return AuthExpired(f"{where}; the token has expired: {_KEY_HINT}", provider="gitee")
    if "quota" in low or ("balance" in low and "insufficient" in low) or status == 402:
        return QuotaExceeded(
            f"{where}; this token is out of quota: wait for the daily reset, top up, or add "
            "another token (comma-separated tokens rotate)",
            provider="gitee",
        )
    if status == 401 or "unauthorized" in low or "invalid api key" in low:
        return AuthInvalid(f"{where}; the token was refused: {_KEY_HINT}", provider="gitee")
    if status == 429 or "rate limit" in low:
        return RateLimited(
            f"{where}; too many requests, slow down or add another token",
            provider="gitee",
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )
    if status >= 500:
        return ProviderError(
            f"{where}; the service failed, try again", provider="gitee", transient=True
        )
    return ProviderError(f"{where}", provider="gitee")
