"""One reading of a provider's HTTP error answer as an `imagegate.errors` exception.

Every HTTP plugin meets the same statuses, so the table lives here once:

    400, 422         InvalidRequest naming the provider's message (param from the body)
    401              AuthInvalid, or AuthExpired when the text says so
    402              QuotaExceeded
    403              QuotaExceeded when the text speaks of quota or balance, else
                     PermissionDenied (a plan restriction: another token may have access)
    404              InvalidModel (`not_found=` changes it, e.g. for a poll)
    408              Timeout, transient
    425, 5xx         ProviderError, transient
    429              QuotaExceeded when the text speaks of quota, else RateLimited
    other            ProviderError naming the status

Retry-After (delta-seconds or an HTTP date) becomes `retry_after` on every error it comes
with. Quota text is recognised in English and Chinese (`QUOTA_WORDS`): Gitee AI and
ModelScope answer in either. A plugin refines the result by passing options (its own quota
words, `scope`, `retry_after` from its own headers, `hint`) or by post-processing it; the
table itself stays here, so every provider maps the same answer the same way.

    from imagegate.upstream import error_for_response

    if response.status_code >= 400:
        raise error_for_response(response, provider=PROVIDER, secrets=[token])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthExpired,
    AuthInvalid,
    ImagegateError,
    InvalidModel,
    InvalidRequest,
    PermissionDenied,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    Timeout,
    redact,
    retry_after_seconds,
)

if TYPE_CHECKING:
    import httpx

    from .models import Provider

__all__ = [
    "EXPIRED_WORDS",
    "QUOTA_WORDS",
    "describe_wait",
    "error_for_response",
    "error_for_status",
    "is_quota_text",
    "provider_message",
]

QUOTA_WORDS: tuple[str, ...] = (
    "quota",
    "balance",
    "credit",
    "insufficient funds",
    "payment required",
    "billing",
    "top up",
    "recharge",
    "free tier",
    "daily limit",
    "额度",
    "配额",
    "余额",
    "欠费",
    "充值",
    "用完",
    "用尽",
    "耗尽",
    "不足",
)
"""Lower-case fragments that mark a spent quota or an unpaid balance (English, Chinese)."""

EXPIRED_WORDS: tuple[str, ...] = ("expired", "expire", "过期", "失效")
"""Fragments that mark an expired token."""

_PERMISSION_WORDS = ("权限", "permission", "not allowed", "forbidden")
_NOT_QUOTA = ("权限不足", "资源不足", "算力不足", "insufficient permission")
"""Shortages that are not the token's: permission (403), the service's own capacity."""
_MAX_QUOTED = 300
_TAG = re.compile(r"<[^>]+>")


def provider_message(source: Any) -> str | None:
    """The provider's own error text from a response or its parsed body: OpenAI's
    `{"error": {"message"}}`, `{"error": "..."}`, `{"message"}`, ModelScope's
    `{"errors": {"message"}}`, `{"error_message"}`, FastAPI's `{"detail"}`, or plain text
    (HTML tags dropped). None when there is none."""
    payload = source
    text: str | None = None
    if hasattr(source, "status_code") and hasattr(source, "content"):
        text = source.text
        try:
            payload = source.json()
        except ValueError:
            payload = None
    found = _from_payload(payload)
    if found is None and text is not None and text.strip() and payload is None:
        found = _TAG.sub(" ", text)
    return _short(found) if found and found.strip() else None


def _from_payload(payload: Any) -> str | None:
    if isinstance(payload, str):
        return payload
    if isinstance(payload, list):
        parts = [_from_payload(item) for item in payload]
        joined = "; ".join(p for p in parts if p)
        return joined or None
    if not isinstance(payload, Mapping):
        return None
    for key in ("error", "errors", "message", "error_message", "detail", "msg", "error_msg"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, (Mapping, list)):
            nested = _from_payload(value)
            if nested:
                return nested
    return None


def is_quota_text(text: str, words: Iterable[str] = QUOTA_WORDS) -> bool:
    """Whether `text` speaks of a spent quota or balance (not of a missing permission)."""
    low = text.lower()
    if any(word in low for word in _NOT_QUOTA):
        return False
    return any(word in low for word in words)


def error_for_response(
    response: httpx.Response,
    *,
    provider: Provider | str,
    name: str | None = None,
    message: str | None = None,
    secrets: Iterable[str | None] = (),
    quota_words: Iterable[str] = QUOTA_WORDS,
    not_found: type[ImagegateError] = InvalidModel,
    retry_after: float | None = None,
    scope: str | None = None,
    hint: str | None = None,
) -> ImagegateError:
    """The imagegate error for a provider's non-2xx answer (see the module's table).

    `message` replaces the text read from the body; `secrets` (the token) are scrubbed
    from it; `retry_after` replaces the Retry-After header's figure; `scope` (`token` or
    `model`) goes on quota and rate-limit errors; `hint` replaces the default owner's hint.
    """
    text = message or provider_message(response) or f"HTTP {response.status_code}"
    return error_for_status(
        response.status_code,
        text,
        provider=provider,
        name=name,
        headers=response.headers,
        secrets=secrets,
        quota_words=quota_words,
        not_found=not_found,
        retry_after=retry_after,
        scope=scope,
        hint=hint,
        param=_param_of(response),
    )


def error_for_status(
    status: int,
    text: str,
    *,
    provider: Provider | str,
    name: str | None = None,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str | None] = (),
    quota_words: Iterable[str] = QUOTA_WORDS,
    not_found: type[ImagegateError] = InvalidModel,
    retry_after: float | None = None,
    scope: str | None = None,
    hint: str | None = None,
    param: str | None = None,
) -> ImagegateError:
    """`error_for_response` for a status and text already in hand (a task's error, a
    status inside a 200 body)."""
    provider_id, display, key_hint, rotate_hint, reset = _names(provider)
    name = name or display
    said = redact(_short(text) or f"HTTP {status}", [s for s in secrets if s])
    low = said.lower()
    if retry_after is None and headers is not None:
        retry_after = retry_after_seconds(_header(headers, "retry-after"))
    quota = is_quota_text(said, quota_words)
    common: dict[str, Any] = {"provider": provider_id}

    if status == 401:
        if any(word in low for word in EXPIRED_WORDS):
            return AuthExpired(
                f"{name}: the token has expired ({said}); create a new one",
                hint=hint or key_hint,
                **common,
            )
        return AuthInvalid(f"{name} rejected the token ({said})", hint=hint or key_hint, **common)
    if status == 402 or (status in (400, 403, 429) and quota):
        return QuotaExceeded(
            f"{name}: this token is out of quota ({said}); {_comes_back(retry_after, reset)}, "
            "top up the account, or use another token",
            retry_after=retry_after,
            scope=scope,
            hint=hint or rotate_hint,
            **common,
        )
    if status == 403:
        if any(word in low for word in EXPIRED_WORDS) and not any(
            word in low for word in _PERMISSION_WORDS
        ):
            return AuthExpired(
                f"{name}: the token has expired ({said}); create a new one",
                hint=hint or key_hint,
                **common,
            )
        return PermissionDenied(
            f"{name} refused this token access ({said}); the model may need another plan "
            "or account setting, or another token may have access",
            hint=hint or rotate_hint,
            **common,
        )
    if status == 429:
        when = (
            f"retry in {describe_wait(retry_after)}" if retry_after is not None else "retry shortly"
        )
        return RateLimited(
            f"{name} is rate limiting this token ({said}); {when}",
            retry_after=retry_after,
            scope=scope,
            hint=hint or rotate_hint,
            **common,
        )
    if status in (400, 422):
        return InvalidRequest(
            f"{name} refused the request: {said}", param=param, hint=hint, **common
        )
    if status == 404:
        if not_found is InvalidModel:
            return InvalidModel(
                f"{name} does not know this model or endpoint (HTTP 404: {said})",
                param="model",
                hint=hint,
                **common,
            )
        return not_found(f"{name} answered HTTP 404: {said}", hint=hint, **common)
    if status == 408:
        return Timeout(
            f"{name} timed out (HTTP 408: {said}); try again",
            transient=True,
            retry_after=retry_after,
            hint=hint,
            **common,
        )
    if status == 425 or status >= 500:
        return ProviderError(
            f"{name} failed (HTTP {status}: {said}); try again later",
            transient=True,
            retry_after=retry_after,
            hint=hint,
            **common,
        )
    return ProviderError(f"{name} answered HTTP {status}: {said}", hint=hint, **common)


def describe_wait(seconds: float) -> str:
    """`12 min 34 s`: the core's wording of a wait (`imagegate.health`), imported when used
    so a plugin importing this module does not load the state store."""
    from .health import describe_wait as describe

    return describe(seconds)


def _comes_back(retry_after: float | None, reset: str | None) -> str:
    if retry_after is not None:
        return f"it should be back in {describe_wait(retry_after)}"
    if reset:
        return f"wait for its daily reset at {reset}"
    return "wait until it is back"


def _names(
    provider: Provider | str,
) -> tuple[str, str, str | None, str | None, str | None]:
    """Provider id, display name, the owner's hints (bad token, rotation), quota reset."""
    if isinstance(provider, str):
        return provider, provider, None, None, None
    where = f" (keys: {provider.key_url})" if provider.key_url else ""
    key_hint = f"check {provider.token_env[0]}, or run `imagegate keys set {provider.id}`{where}"
    rotate_hint = (
        f"several comma-separated tokens in {provider.token_env[0]} (or `imagegate keys "
        f"set {provider.id}`) rotate"
    )
    reset = _reset_text(provider.quota_reset)
    return provider.id, provider.display_name, key_hint, rotate_hint, reset


def _reset_text(reset: str | None) -> str | None:
    """`00:00+08:00` as `00:00 UTC+08:00`, the way a reader in any time zone can use it."""
    if not reset:
        return None
    time, sign, offset = reset.partition("+") if "+" in reset else reset.partition("-")
    if not sign or offset in ("00:00", "0"):
        return f"{time} UTC"
    return f"{time} UTC{sign}{offset}"


def _param_of(response: httpx.Response) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    param = error.get("param") if isinstance(error, dict) else None
    return param if isinstance(param, str) and param else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    getter = getattr(headers, "get", None)
    return getter(name) if getter is not None else None


def _short(text: str | None) -> str:
    if not text:
        return ""
    text = " ".join(text.split())
    return text if len(text) <= _MAX_QUOTED else text[: _MAX_QUOTED - 1] + "…"
