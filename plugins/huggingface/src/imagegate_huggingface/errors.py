"""What gradio_client raises, as `imagegate.errors` (protocols.md 4.1 and 5, "Errors").

`SpaceMissing` (404) and `SpaceDown` (unreachable, 503, sleeping) are what make the plugin
try a model's fallback Space. Messages name the Space and never carry a token.
"""

from __future__ import annotations

import re

from imagegate.errors import (
    AuthInvalid,
    Cancelled,
    GenerationFailed,
    ImagegateError,
    ProviderError,
    ProviderUnreachable,
    QuotaExceeded,
    RateLimited,
    retry_after_seconds,
)

from .models import PROVIDER, Space

__all__ = ["SpaceDown", "SpaceMissing", "from_exception", "from_status"]

_P = PROVIDER.id
_QUOTA = re.compile(r"exceeded your GPU quota|GPU quota", re.IGNORECASE)
_RETRY_IN = re.compile(r"retry in (\d+):(\d{2}):(\d{2})")
_TAG = re.compile(r"<[^>]+>")
_TOKEN_RAISES_QUOTA = f" (a HuggingFace token raises the ZeroGPU quota: {PROVIDER.key_url})"


class SpaceMissing(ProviderError):
    """The Space answers 404: removed, renamed or private."""


class SpaceDown(ProviderUnreachable):
    """The Space cannot be reached, or answers 503 (sleeping, building, restarting)."""


def from_exception(exc: BaseException, space: Space, *, with_token: bool = False) -> ImagegateError:
    """The imagegate error for anything a gradio_client call raised; `with_token`: the call
    sent one, so the advice to get a token is left out."""
    import concurrent.futures

    import httpx
    from gradio_client import exceptions, utils

    name = space.name
    if isinstance(exc, ImagegateError):
        return exc
    if isinstance(exc, exceptions.AppError):
        return _app_error(str(exc.message or exc), name, with_token)
    if isinstance(exc, utils.QueueError):
        return ProviderError(
            f"HuggingFace Space {name}: queue full; try again in a moment",
            provider=_P,
            transient=True,
        )
    if isinstance(exc, utils.TooManyRequestsError):
        return _rate_limited(name, None, with_token)
    if isinstance(exc, exceptions.AuthenticationError):
        return _auth_invalid(name)
    if isinstance(exc, exceptions.ValidationError):
        return ProviderError(f"HuggingFace Space {name} rejected the inputs: {exc}", provider=_P)
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return from_status(
            response.status_code, response.headers, response.text, space, with_token=with_token
        )
    if isinstance(exc, httpx.TimeoutException):
        return SpaceDown(f"HuggingFace Space {name} did not answer in time", provider=_P)
    if isinstance(exc, httpx.TransportError):
        return SpaceDown(
            f"cannot reach HuggingFace Space {name} ({type(exc).__name__}); check your "
            f"network, or {PROVIDER.base_url_env}",
            provider=_P,
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
    if status in (401, 403):
        return _auth_invalid(name)
    if status == 404:
        return SpaceMissing(
            f"HuggingFace Space {name} was not found (HTTP 404); it may have been removed "
            "or renamed",
            provider=_P,
        )
    if status == 429:
        retry = getattr(headers, "get", lambda _key: None)("retry-after")
        return _rate_limited(name, retry_after_seconds(retry), with_token)
    if status == 503:
        if not text.lstrip().startswith(("{", "[")):
            return SpaceDown(
                f"HuggingFace Space {name} is sleeping or building (HTTP 503); it wakes up "
                "on its own, try again in a minute",
                provider=_P,
            )
        return ProviderError(
            f"HuggingFace Space {name}: queue full (HTTP 503); try again in a moment",
            provider=_P,
            transient=True,
        )
    return ProviderError(
        f"HuggingFace Space {name} answered HTTP {status}",
        provider=_P,
        transient=status >= 500,
    )


def _app_error(message: str, name: str, with_token: bool = False) -> ImagegateError:
    text = " ".join(_TAG.sub("", message).split())
    if _QUOTA.search(text):
        retry = _RETRY_IN.search(text)
        seconds = int(retry[1]) * 3600 + int(retry[2]) * 60 + int(retry[3]) if retry else None
        more = "" if with_token else _TOKEN_RAISES_QUOTA
        return QuotaExceeded(
            f"HuggingFace Space {name}: {text}{more}",
            provider=_P,
            retry_after=seconds,
        )
    if re.search(r"rate limit|too many requests", text, re.IGNORECASE):
        return _rate_limited(name, None, with_token)
    return GenerationFailed(f"HuggingFace Space {name} failed: {text}", provider=_P)


def _rate_limited(name: str, retry_after: float | None, with_token: bool = False) -> RateLimited:
    more = "" if with_token else f", or use a HuggingFace token ({PROVIDER.key_url})"
    return RateLimited(
        f"HuggingFace Space {name}: too many requests; wait a little{more}",
        provider=_P,
        retry_after=retry_after,
    )


def _auth_invalid(name: str) -> AuthInvalid:
    return AuthInvalid(
        f"HuggingFace Space {name} rejected the token; check it at {PROVIDER.key_url}, "
        "or call without one",
        provider=_P,
    )
