"""Whether a client should retry a failed request: the `x-should-retry` header.

The official OpenAI SDKs retry 408, 409, 429 and 5xx answers unless told not to. Behind the
gateway every retry is a new generation, and the gateway has already retried the provider
itself, so the answer is False for every failure a retry cannot fix (the request is wrong,
the quota is spent, the task ran and failed, the deadline passed) and for every transient
one the core already retried (`ImagegateError.attempts > 1`). A 429 with `Retry-After` is
left to the client: waiting does fix it.
"""

from __future__ import annotations

from imagegate.errors import ImagegateError, QuotaExceeded, RateLimited

__all__ = ["should_retry"]


def should_retry(exc: ImagegateError) -> bool | None:
    """False when retrying the same request cannot help now; None: the client decides."""
    if isinstance(exc, QuotaExceeded):
        return False
    if isinstance(exc, RateLimited):
        return None
    if exc.status < 500 or not exc.transient:
        return False
    return False if exc.attempts > 1 else None
