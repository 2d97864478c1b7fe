"""What gradio_client raises, as `imagegate.errors` (protocols.md 4.1 and 5, "Errors").

`SpaceMissing` (404) and `SpaceDown` (unreachable, 503, sleeping) are what make the plugin
try a model's fallback Space. Other HTTP answers go through the core's shared table
(`imagegate.upstream`). Messages name the Space, say what the caller can do, and never carry
a token; what the machine's owner can do (environment variables) is the error's `hint`.

ZeroGPU quota answers carry the wait the Space states ("Try again in 0:12:34", older
"retry in 0:09:48") as `retry_after`, with `scope="token"`: the quota belongs to the
HuggingFace account (or the anonymous caller), across every Space, and refills within the
day, so the token is usable again after that wait, not at midnight.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from imagegate.errors import (
    Cancelled,
    GenerationFailed,
    ImagegateError,
    ProviderError,
    ProviderUnreachable,
    QuotaExceeded,
    RateLimited,
    retry_after_seconds,
)
from imagegate.upstream import describe_wait, error_for_status

from .models import PROVIDER, Space

if TYPE_CHECKING:
    from imagegate import Model

__all__ = ["SpaceDown", "SpaceMissing", "from_exception", "from_status", "zerogpu_wait"]

_P = PROVIDER.id
_QUOTA = re.compile(r"GPU quota", re.IGNORECASE)
_NO_GPU = re.compile(r"No GPU was available", re.IGNORECASE)
_WAIT = re.compile(
    r"(?:try again|retry)\s+in\s+(?:(\d+)\s+days?,\s*)?(?:(\d+):)?(\d{1,2}):(\d{2})(?:\.\d+)?",
    re.IGNORECASE,
)
_OPAQUE = re.compile(r"verbose error reporting|show_error=True", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")  # the Markdown form of the sign-up link
_USE_A_TOKEN = f", or use a HuggingFace token, which has a larger quota ({PROVIDER.key_url})"
"""Said to a caller who sent no token; one who did is not told to get one."""
_TOKEN_HINT = (
    f"a HuggingFace token raises the ZeroGPU quota: set {PROVIDER.token_env[0]} (or HF_TOKEN), "
    f"or run `imagegate keys set {PROVIDER.id}`"
)


class SpaceMissing(ProviderError):
    """The Space answers 404: removed, renamed or private."""


class SpaceDown(ProviderUnreachable):
    """The Space cannot be reached, or answers 503 (sleeping, building, restarting)."""


def zerogpu_wait(text: str) -> float | None:
    """Seconds from a ZeroGPU "Try again in 0:12:34" / "retry in 0:09:48" (also `12:34` and
    "1 day, 2:03:04"), None when the text states no wait."""
    match = _WAIT.search(text)
    if match is None:
        return None
    days, hours, minutes, seconds = (int(group) if group else 0 for group in match.groups())
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


def from_exception(
    exc: BaseException, space: Space, model: Model | None = None, *, with_token: bool = False
) -> ImagegateError:
    """The imagegate error for anything a gradio_client call raised; `with_token`: the call
    sent one, so the advice to use a token is left out."""
    import concurrent.futures

    import httpx
    from gradio_client import exceptions, utils

    name = space.name
    if isinstance(exc, ImagegateError):
        return exc
    if isinstance(exc, exceptions.AppError):
        return _app_error(str(exc.message or exc), name, model, with_token)
    if isinstance(exc, utils.QueueError):
        return ProviderError(
            f"HuggingFace Space {name}: queue full; try again in a moment",
            provider=_P,
            transient=True,
        )
    if isinstance(exc, utils.TooManyRequestsError):
        return _rate_limited(name, None, with_token)
    if isinstance(exc, exceptions.AuthenticationError):
        return from_status(401, None, str(exc), space)
    if isinstance(exc, exceptions.ValidationError):
        return ProviderError(
            f"HuggingFace Space {name} rejected the inputs: {exc}{_limits(model)}", provider=_P
        )
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return from_status(
            response.status_code, response.headers, response.text, space, with_token=with_token
        )
    if isinstance(exc, httpx.TimeoutException):
        return SpaceDown(f"HuggingFace Space {name} did not answer in time", provider=_P)
    if isinstance(exc, httpx.TransportError):
        return SpaceDown(
            f"cannot reach HuggingFace Space {name} ({type(exc).__name__}); check the network",
            provider=_P,
            hint=f"a self-hosted copy is reached through {PROVIDER.base_url_env}",
        )
    if isinstance(exc, concurrent.futures.CancelledError):
        return Cancelled(f"the job on HuggingFace Space {name} was cancelled", provider=_P)
    return ProviderError(
        f"HuggingFace Space {name} failed: {type(exc).__name__}: {exc}", provider=_P
    )


def from_status(
    status: int, headers: object, text: str, space: Space, *, with_token: bool = False
) -> ImagegateError:
    """The error for an HTTP answer of a Space (its config, queue join, or a probe)."""
    name = space.name
    if 300 <= status < 400:  # a Space that is not running sends visitors to its Hub page
        where = getattr(headers, "get", lambda _key: None)("location") or "its page"
        return sleeping(space, f"it redirects to {where}")
    if status == 404:
        return SpaceMissing(
            f"HuggingFace Space {name} was not found (HTTP 404); it may have been removed "
            "or renamed",
            provider=_P,
        )
    if status == 503:
        if not text.lstrip().startswith(("{", "[")):
            return sleeping(space, "HTTP 503")
        return ProviderError(
            f"HuggingFace Space {name}: queue full (HTTP 503); try again in a moment",
            provider=_P,
            transient=True,
        )
    if status == 429:
        retry = getattr(headers, "get", lambda _key: None)("retry-after")
        return _rate_limited(name, retry_after_seconds(retry), with_token)
    detail = " ".join(_TAG.sub(" ", text or "").split())[:200] or f"HTTP {status}"
    return error_for_status(
        status,
        detail,
        provider=PROVIDER,
        name=f"HuggingFace Space {name}",
        headers=headers if hasattr(headers, "get") else None,  # type: ignore[arg-type]
        not_found=ProviderError,
        hint=_TOKEN_HINT if status in (401, 403) else None,
    )


def sleeping(space: Space, why: str) -> SpaceDown:
    return SpaceDown(
        f"HuggingFace Space {space.name} is sleeping or building ({why}); it wakes up on its "
        "own, try again in a minute",
        provider=_P,
    )


def _app_error(
    message: str, name: str, model: Model | None, with_token: bool = False
) -> ImagegateError:
    text = " ".join(_LINK.sub(r"\1", _TAG.sub("", message)).split())
    if _QUOTA.search(text):
        wait = zerogpu_wait(text)
        when = (
            f"it refills: try again in {describe_wait(wait)}"
            if wait is not None
            else "it refills over the day: try again later"
        )
        token = "" if with_token else _USE_A_TOKEN
        return QuotaExceeded(
            f"HuggingFace Space {name}: the ZeroGPU quota is spent ({text}); {when}{token}",
            provider=_P,
            retry_after=wait,
            scope="token",
            hint=None if with_token else _TOKEN_HINT,
        )
    if _NO_GPU.search(text):
        return ProviderError(
            f"HuggingFace Space {name}: ZeroGPU had no free GPU ({text}); try again in a minute",
            provider=_P,
            transient=True,
        )
    if re.search(r"rate limit|too many requests", text, re.IGNORECASE):
        return _rate_limited(name, None, with_token)
    if not text or text == "None" or _OPAQUE.search(text):
        return GenerationFailed(
            f"HuggingFace Space {name} failed and hides the reason (it does not report "
            f"errors){_limits(model)}; if the request fits, the Space itself failed: try "
            "again later",
            provider=_P,
        )
    return GenerationFailed(f"HuggingFace Space {name} failed: {text}", provider=_P)


def _limits(model: Model | None) -> str:
    """What the model takes, so a caller can check the request against it."""
    if model is None:
        return ""
    from imagegate.validation import size_rule

    caps = model.capabilities
    parts = [f"sizes {size_rule(caps)}"]
    if caps.steps is not None:
        parts.append(f"steps {caps.steps.min}-{caps.steps.max}")
    return f"; {model.full_id} takes {' and '.join(parts)}"


def _rate_limited(name: str, retry_after: float | None, with_token: bool = False) -> RateLimited:
    when = (
        f"try again in {describe_wait(retry_after)}" if retry_after is not None else "wait a little"
    )
    return RateLimited(
        f"HuggingFace Space {name}: too many requests; {when}"
        f"{'' if with_token else f', or use a HuggingFace token ({PROVIDER.key_url})'}",
        provider=_P,
        retry_after=retry_after,
        scope="token",
        hint=_TOKEN_HINT,
    )
