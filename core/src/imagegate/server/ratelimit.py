"""Server rate limits: `--rate-limit 60/minute` (several windows allowed), per caller.

The caller is its API key on a protected server (by fingerprint, never the key itself), else
its client IP (behind a load balancer, uvicorn takes it from X-Forwarded-For when the proxy
is in FORWARDED_ALLOW_IPS). Windows are fixed and counted in the state store (`hit`), the
one place every replica shares, so a limit holds for the sum of the replicas on one Redis.

Every `/v1` answer carries `X-RateLimit-Limit`, `-Remaining` and `-Reset` (seconds until the
window starts again) of the tightest window; past a limit the answer is a 429 with
`Retry-After`. Reading an image (`/v1/images/files/...`) or polling a job
(`/v1/images/jobs/...`) is not counted. A plain ASGI middleware, like the request log.
"""

from __future__ import annotations

import hmac
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from imagegate.errors import InvalidRequest, RateLimited
from imagegate.state import StateError, StateStore, Window, fingerprint

from .errors import error_response

__all__ = ["RATE_LIMIT_ENV", "RateLimit", "RateLimitMiddleware", "parse_rate_limits"]

RATE_LIMIT_ENV = "IMAGEGATE_RATE_LIMIT"
NAMESPACE = "rate"
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
_ALIASES = {"s": "second", "sec": "second", "m": "minute", "min": "minute", "h": "hour"}
_ALIASES |= {"d": "day"}
_FORM = re.compile(r"^\s*(\d+)\s*(?:/|per)\s*(\d+)?\s*([a-z]+?)s?\s*$", re.IGNORECASE)
_NOT_COUNTED = ("/v1/images/files/", "/v1/images/jobs/")
"""Reads not counted (GET, HEAD): an image download (one generation may be several of
them), and polling a job (the generation was counted when it was asked for)."""


@dataclass(frozen=True)
class RateLimit:
    """`limit` requests per `seconds`-second window; `text` as the user wrote it."""

    limit: int
    seconds: int
    text: str

    def describe(self) -> str:
        for unit, size in reversed(_UNITS.items()):
            if self.seconds % size == 0:
                count = self.seconds // size
                per = unit if count == 1 else f"{count} {unit}s"
                return f"{self.limit} requests per {per}"
        return f"{self.limit} requests per {self.seconds} s"  # pragma: no cover


def parse_rate_limits(values: Iterable[str] | str | None) -> list[RateLimit]:
    """`60/minute`, `10/second`, `1000/hour`, `5/10minutes`; several separated by commas."""
    if isinstance(values, str):
        values = [values]
    limits = []
    for value in values or ():
        for text in value.replace(";", ",").split(","):
            if text.strip():
                limits.append(_parse_one(text.strip()))
    return sorted(set(limits), key=lambda r: r.seconds)


def _parse_one(text: str) -> RateLimit:
    match = _FORM.match(text)
    unit = match and _ALIASES.get(match[3].lower(), match[3].lower())
    if not match or unit not in _UNITS or int(match[1]) < 1 or match[2] == "0":
        raise InvalidRequest(
            f"rate limit {text!r} is not N/unit: write it like 60/minute, 10/second, "
            "1000/hour, 5/day or 100/10minutes (N at least 1)",
            param="rate_limit",
        )
    return RateLimit(int(match[1]), int(match[2] or 1) * _UNITS[unit], text)


class RateLimitMiddleware:
    def __init__(
        self,
        app,
        *,
        limits: list[RateLimit],
        store: Callable[[], StateStore],
        api_key: str | None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.store = store
        self.api_key = api_key

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not self.limits
            or not path.startswith("/v1/")
            or (path.startswith(_NOT_COUNTED) and scope.get("method") in ("GET", "HEAD"))
        ):
            await self.app(scope, receive, send)
            return
        who, what = self._caller(scope)
        try:
            windows = [
                (
                    rule,
                    await self.store().hit(
                        NAMESPACE, f"{who}/{rule.seconds}", window=rule.seconds, limit=rule.limit
                    ),
                )
                for rule in self.limits
            ]
        except StateError as exc:
            await error_response(exc)(scope, receive, send)
            return
        now = time.time()  # the clock the stores count windows by
        refused = [(rule, w) for rule, w in windows if not w.allowed]
        shown_rule, shown = max(refused or windows, key=lambda p: _tightness(p[1], now))
        headers = [
            (b"x-ratelimit-limit", str(shown.limit).encode()),
            (b"x-ratelimit-remaining", str(shown.remaining).encode()),
            (b"x-ratelimit-reset", str(_seconds_left(shown, now)).encode()),
        ]
        if refused:
            wait = max(_seconds_left(w, now) for _, w in refused)
            error = RateLimited(
                f"rate limit of {shown_rule.describe()} reached for this {what}; "
                f"try again in {wait} s",
                retry_after=wait,
            )
            response = error_response(error)
            response.raw_headers += headers
            await response(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _caller(self, scope) -> tuple[str, str]:
        """(the key the windows are counted under, what to call it in a message)."""
        if self.api_key is not None:
            for name, value in scope.get("headers", ()):
                if name == b"authorization":
                    scheme, _, key = value.decode("latin-1").strip().partition(" ")
                    key = key.strip()
                    if scheme.lower() == "bearer" and hmac.compare_digest(
                        key.encode(), self.api_key.encode()
                    ):
                        return f"key:{fingerprint(key)}", "API key"
        client = scope.get("client")
        return f"ip:{client[0] if client else 'unknown'}", "client address"


def _seconds_left(window: Window, now: float) -> int:
    return max(1, math.ceil(window.reset_at - now))


def _tightness(window: Window, now: float) -> tuple[int, float]:
    """The window a caller should heed: fewest requests left, then the longest wait."""
    return (-window.remaining, window.reset_at - now)
