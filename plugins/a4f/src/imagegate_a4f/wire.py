"""A4F's wire format: the OpenAI-style request, its answer, and its errors as imagegate's.

Error mapping (protocols.md section 1, after the reference client): 401 is a bad key (an
expired one when A4F says so); 402, or a message about quota, insufficient balance or a
spent daily free tier, is a spent quota (the core moves to the next token); 403 is a bad
key; other 429s are rate limits (with `Retry-After`); 5xx are transient; the rest is a
provider error. Messages quote A4F but never the key.
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

__all__ = ["build_body", "error_for", "parse_images"]

NAME = "A4F"
_KEY_HINT = "check IMAGEGATE_A4F_TOKEN or run `imagegate keys set a4f` (keys: https://www.a4f.co)"
_MAX_QUOTED = 300


def build_body(request: ImageRequest, model: Model, n: int) -> dict[str, Any]:
    """The JSON body of `POST /images/generations`: only the fields A4F takes."""
    return {
        "model": model.id,
        "prompt": request.prompt,
        "n": n,
        "size": f"{request.width}x{request.height}",
        "response_format": request.response_format,
    }


def parse_images(response: httpx.Response, token: str | None) -> list[GeneratedImage]:
    """The images of a 200 answer; `ProviderError` when the body is not what A4F promises."""
    try:
        payload = response.json()
    except ValueError:
        raise ProviderError(
            f"{NAME} answered HTTP 200 with a body that is not JSON "
            f"({len(response.content)} bytes); try again later",
            provider="a4f",
            transient=True,
        ) from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not data and isinstance(payload, dict) and payload.get("error"):
        raise error_for(response, token)  # an upstream failure passed on with a 200
    if not isinstance(data, list) or not data:
        raise ProviderError(f"{NAME} answered without images (no `data` items)", provider="a4f")
    created = payload.get("created")
    return [_image(item, created) for item in data]


def _image(item: Any, created: Any) -> GeneratedImage:
    metadata: dict[str, Any] = {}
    if isinstance(created, int):
        metadata["created"] = created
    if isinstance(item, dict) and isinstance(item.get("revised_prompt"), str):
        metadata["revised_prompt"] = item["revised_prompt"]
    if isinstance(item, dict) and isinstance(item.get("url"), str) and item["url"]:
        return GeneratedImage(url=item["url"], metadata=metadata)
    if isinstance(item, dict) and isinstance(item.get("b64_json"), str):
        try:
            data = base64.b64decode(item["b64_json"], validate=True)
        except (binascii.Error, ValueError):
            raise ProviderError(
                f"{NAME} answered with a `b64_json` image that is not valid base64",
                provider="a4f",
            ) from None
        return GeneratedImage(data=data, metadata=metadata)
    raise ProviderError(
        f"{NAME} answered with an image item without `url` or `b64_json`", provider="a4f"
    )


def error_for(response: httpx.Response, token: str | None) -> ImagegateError:
    """The imagegate error for a non-200 answer from A4F."""
    status = response.status_code
    message = redact(_message(response), [token] if token else [])
    lowered = message.lower()
    said = f"{NAME} answered HTTP {status}: {message}"
    if status == 401:
        kind = AuthExpired if "expired" in lowered else AuthInvalid
        return kind(f"{NAME} rejected the API key ({message}); {_KEY_HINT}", provider="a4f")
    if status == 402 or _is_quota(lowered):
        return QuotaExceeded(
            f"{NAME}: this key is out of quota ({message}); it is skipped until 00:00 UTC, "
            "add another key or upgrade the plan",
            provider="a4f",
        )
    if status == 403:
        return AuthInvalid(f"{NAME} refused the API key ({message}); {_KEY_HINT}", provider="a4f")
    if status == 429:
        return RateLimited(
            f"{NAME} is rate limiting this key ({message}); slow down or add another key",
            provider="a4f",
            retry_after=retry_after_seconds(response.headers.get("retry-after")),
        )
    if status >= 500:
        return ProviderError(f"{said}; try again later", provider="a4f", transient=True)
    return ProviderError(said, provider="a4f")


def _is_quota(message: str) -> bool:
    daily_tier = "daily" in message and "exceeded" in message
    return daily_tier or "quota" in message or "insufficient" in message


def _message(response: httpx.Response) -> str:
    """A4F's `error.message` (or a top-level `message`), else a short piece of the body."""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return _short(error["message"])
        if isinstance(error, str):
            return _short(error)
        if isinstance(payload.get("message"), str):
            return _short(payload["message"])
    text = response.text.strip()
    return _short(text) if text else f"HTTP {response.status_code}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"
