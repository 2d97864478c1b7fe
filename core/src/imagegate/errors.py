"""Every error imagegate raises, with a stable code, an HTTP status and an OpenAI envelope.

    ImagegateError                  (UNKNOWN, 500)
    ├── InvalidRequest              (INVALID_PARAMS, 400)  param names the field
    │   └── InvalidModel            (INVALID_MODEL, 404)   unknown model id
    │       └── NotInstalled        (PROVIDER_NOT_INSTALLED, 404) its plugin is missing
    ├── AuthError                   (401)
    │   ├── AuthRequired            (AUTH_REQUIRED)
    │   ├── AuthInvalid             (AUTH_INVALID)
    │   └── AuthExpired             (AUTH_EXPIRED)
    ├── PermissionDenied            (PERMISSION_DENIED, 403)
    ├── RateLimited                 (RATE_LIMITED, 429)    retry_after in seconds when known
    │   └── QuotaExceeded           (QUOTA_EXCEEDED, 429)
    ├── ProviderError               (PROVIDER_ERROR, 502)  transient=True for 5xx / network
    │   └── ProviderUnreachable     (PROVIDER_UNREACHABLE, 502)
    ├── GenerationFailed            (GENERATION_FAILED, 500) the provider tried and gave up
    ├── Timeout                     (TIMEOUT, 504)
    └── Cancelled                   (CANCELLED, 499)

Messages say what went wrong and never contain a token: the core scrubs every token it
handed out from messages before they leave it (see `redact`). What the machine's owner can
do about it (set an environment variable, run `imagegate keys set`) is the separate `hint`,
which the library and the CLI show after the message and the server never sends to its
callers (that advice is not theirs to follow).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

__all__ = [
    "AuthError",
    "AuthExpired",
    "AuthInvalid",
    "AuthRequired",
    "Cancelled",
    "GenerationFailed",
    "ImagegateError",
    "InvalidModel",
    "InvalidRequest",
    "NotInstalled",
    "PermissionDenied",
    "ProviderError",
    "ProviderUnreachable",
    "QuotaExceeded",
    "RateLimited",
    "Timeout",
    "redact",
    "retry_after_seconds",
]


class ImagegateError(Exception):
    """Base of every imagegate error; `code` is stable, `status` is the HTTP status."""

    code: ClassVar[str] = "UNKNOWN"
    status: ClassVar[int] = 500
    openai_type: ClassVar[str] = "server_error"
    transient: bool = False
    attempts: int = 1
    """Provider calls this failure took: above 1, the core already retried (a server tells
    its clients not to retry again: `x-should-retry: false`)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
        transient: bool | None = None,
        scope: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        """What went wrong, fit for any reader (a server's caller included)."""
        self.hint = hint
        """What the owner of this machine can do next (CLI and library only)."""
        self.provider = provider
        self.param = param
        self.retry_after = retry_after
        """Seconds until trying again may work, when the provider said so."""
        self.scope = scope
        """For quota and rate limits: `token` (the whole token is spent for its provider) or
        `model` (only this model); None: the provider's declared `quota_scope`."""
        if transient is not None:
            self.transient = transient

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    def to_openai(self) -> dict[str, Any]:
        """The OpenAI error envelope: {"error": {"message", "type", "param", "code"}}."""
        return {
            "error": {
                "message": self.message,
                "type": self.openai_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def redacted(self, secrets: Iterable[str]) -> ImagegateError:
        """This error with every secret scrubbed from its message and from the exceptions
        chained to it, whose tracebacks a caller may print (in place, returned)."""
        secrets = list(secrets)
        self.message = redact(self.message, secrets)
        if self.hint:
            self.hint = redact(self.hint, secrets)
        self.args = (self.message,)
        seen = {id(self)}
        cause = self.__cause__ or self.__context__
        while cause is not None and id(cause) not in seen:
            seen.add(id(cause))
            cause.args = tuple(
                redact(arg, secrets) if isinstance(arg, str) else arg for arg in cause.args
            )
            cause = cause.__cause__ or cause.__context__
        return self


class InvalidRequest(ImagegateError):
    code = "INVALID_PARAMS"
    status = 400
    openai_type = "invalid_request_error"


class InvalidModel(InvalidRequest):
    code = "INVALID_MODEL"
    status = 404


class NotInstalled(InvalidModel):
    """The model's prefix belongs to a provider whose plugin is not installed."""

    code = "PROVIDER_NOT_INSTALLED"


class AuthError(ImagegateError):
    code = "AUTH_INVALID"
    status = 401
    openai_type = "authentication_error"


class AuthRequired(AuthError):
    code = "AUTH_REQUIRED"


class AuthInvalid(AuthError):
    code = "AUTH_INVALID"


class AuthExpired(AuthError):
    code = "AUTH_EXPIRED"


class PermissionDenied(ImagegateError):
    code = "PERMISSION_DENIED"
    status = 403
    openai_type = "permission_error"


class RateLimited(ImagegateError):
    """Too many requests: worth retrying later, or with another token."""

    code = "RATE_LIMITED"
    status = 429
    openai_type = "rate_limit_error"
    transient = True


class QuotaExceeded(RateLimited):
    """The token's quota is spent: not used again until its provider says it is back
    (`retry_after`, or the provider's daily `quota_reset`)."""

    code = "QUOTA_EXCEEDED"
    openai_type = "insufficient_quota"
    transient = False


class ProviderError(ImagegateError):
    """The provider answered with an error or with something the protocol does not allow."""

    code = "PROVIDER_ERROR"
    status = 502
    openai_type = "api_error"


class ProviderUnreachable(ProviderError):
    code = "PROVIDER_UNREACHABLE"
    transient = True


class GenerationFailed(ImagegateError):
    """The provider accepted the job but could not make the image (filter, failed task)."""

    code = "GENERATION_FAILED"
    status = 500


class Timeout(ImagegateError):
    code = "TIMEOUT"
    status = 504
    openai_type = "timeout_error"


class Cancelled(ImagegateError):
    code = "CANCELLED"
    status = 499


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every non-trivial secret replaced by `***`."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date), for a
    plugin's `RateLimited(retry_after=...)`; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import time
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
