"""A4F's errors as imagegate's. Its wire is OpenAI's (`imagegate.openai_wire`: the body,
the answer, chat), shared with every OpenAI-compatible channel.

Errors go through the core's shared table (`imagegate.upstream`), refined with what A4F's
docs (a4f.co/docs/errors) say: 403 is a plan restriction (a free key asking for a paid
model), a `PermissionDenied` on which the next token may well work, not a bad key; 408 is
a timeout worth retrying. A spent daily free tier is per model (`scope="model"`), spent
credits are the whole key's (`scope="token"`). A4F passes its upstreams' errors on with
their own status, so quota words are trusted at any status. Messages quote A4F, never the key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from imagegate.errors import ImagegateError, InvalidRequest, ProviderError, redact
from imagegate.upstream import error_for_status, is_quota_text, provider_message

from .models import PROVIDER

if TYPE_CHECKING:
    import httpx

__all__ = ["error_for", "is_n_refusal"]

NAME = "A4F"
_DAILY_TIER = re.compile(r"daily|free tier|per day|rpd", re.IGNORECASE)
_N_WORDS = re.compile(r"\bn\b|number of images|images? per (request|call)|num_images", re.I)


def error_for(response: httpx.Response, token: str | None) -> ImagegateError:
    """The imagegate error for a non-200 answer from A4F (or an error inside a 200)."""
    status = response.status_code
    text = provider_message(response) or f"HTTP {status}"
    scope = "model" if _DAILY_TIER.search(text) else "token"
    if status == 200:  # an upstream failure passed on with a 200: its own code, if any
        status = _error_code(response) or 0
    if is_quota_text(text) and status not in (400, 401, 402, 403, 429):
        status = 402  # a proxied upstream's spent quota, whatever status it came with
    if status == 0:
        said = redact(text, [token] if token else [])
        return ProviderError(
            f"{NAME} answered with an error instead of images: {said}", provider="a4f"
        )
    return error_for_status(
        status,
        text,
        provider=PROVIDER,
        headers=response.headers,
        secrets=[token],
        scope=scope,
        param=_param(response),
    )


def is_n_refusal(error: ImagegateError) -> bool:
    """Whether A4F refused the number of images per call (the upstream takes fewer)."""
    return isinstance(error, InvalidRequest) and (
        error.param == "n" or bool(_N_WORDS.search(error.message))
    )


def _error_code(response: httpx.Response) -> int | None:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    return code if isinstance(code, int) and 400 <= code <= 599 else None


def _param(response: httpx.Response) -> str | None:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    param = error.get("param") if isinstance(error, dict) else None
    return param if isinstance(param, str) and param else None
