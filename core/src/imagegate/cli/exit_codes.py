"""The CLI's exit codes, one per kind of failure, so scripts can react without parsing text."""

from __future__ import annotations

OK = 0
UNEXPECTED = 1
USAGE = 2
"""Bad option, bad value, unknown model, missing plugin or extra (click uses 2 as well)."""
AUTH = 3
RATE_LIMIT = 4
PROVIDER = 5
TIMEOUT = 6
INTERRUPTED = 130

TABLE = (
    (OK, "success"),
    (UNEXPECTED, "unexpected error (a bug: rerun with IMAGEGATE_DEBUG=1 for the traceback)"),
    (USAGE, "usage or validation error, unknown model, plugin or extra not installed"),
    (AUTH, "authentication: token missing, invalid or expired, or permission denied"),
    (RATE_LIMIT, "rate limit or quota exceeded"),
    (PROVIDER, "provider failed, unreachable, or could not generate the image"),
    (TIMEOUT, "timed out"),
    (INTERRUPTED, "interrupted (Ctrl-C); the provider job was cancelled"),
)


def epilog() -> str:
    """The exit-code table for `imagegate --help` (`\\b` keeps click from rewrapping it)."""
    lines = "\n".join(f"  {code:<4} {meaning}" for code, meaning in TABLE)
    return f"\b\nExit codes:\n{lines}"


def for_exception(exc: BaseException) -> int:
    """The exit code for an exception, by its class in `imagegate.errors`."""
    from imagegate import errors

    mapping: tuple[tuple[type[BaseException], int], ...] = (
        (errors.Cancelled, INTERRUPTED),
        (errors.InvalidRequest, USAGE),  # InvalidModel and NotInstalled too
        (errors.AuthError, AUTH),
        (errors.PermissionDenied, AUTH),
        (errors.RateLimited, RATE_LIMIT),  # QuotaExceeded too
        (errors.ProviderError, PROVIDER),  # ProviderUnreachable too
        (errors.GenerationFailed, PROVIDER),
        (errors.Timeout, TIMEOUT),
    )
    for cls, code in mapping:
        if isinstance(exc, cls):
            return code
    return UNEXPECTED
