"""One log line per request, an `x-request-id` on every response, no stray 500 pages.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, which costs a task and a queue
per request). The line holds method, path, model, status, duration and request id, never a
header or body, so no token can reach the log. Path and model come from the caller: their
control characters are escaped and their length capped (`clean`), so no request can forge
a log line. A client that leaves mid-request is logged 499, not as a server failure. The
outermost layer also refuses oversized request headers (`limits.headers_too_large`).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time

from starlette.requests import ClientDisconnect

from .limits import HEADERS_TOO_LARGE, headers_too_large

__all__ = ["RequestLogMiddleware", "clean", "log"]

log = logging.getLogger("imagegate.server")

_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """Hex digits (16 for the first 4 billion requests), unique per process and across
    processes: a random prefix drawn once and a counter. A request id is for tracing, not
    a secret, so it need not cost a `getrandom` system call per request (about 12 us,
    ~1% of the server's CPU)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


_CRASH = json.dumps(
    {
        "error": {
            "message": "internal server error; the server log has the request id",
            "type": "server_error",
            "param": None,
            "code": "UNKNOWN",
        }
    }
).encode()


# C0 and C1 controls, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def clean(value: object, limit: int = 200) -> str:
    """`value` fit for one log line: controls escaped (`\\x0a`), at most `limit` chars."""
    text = _CONTROL.sub(_escaped, str(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class RequestLogMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())
        status = 0

        async def send_with_id(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            if headers_too_large(scope):
                await _answer(send_with_id, 431, HEADERS_TOO_LARGE)
            else:
                await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            pass  # it left while sending its body: nobody to answer, logged 499 below
        except Exception as exc:
            log.error("request %s failed: %s", request_id, type(exc).__name__)
            if status:  # the answer had started: nothing more can be said on this connection
                raise
            status = 500
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": _CRASH})
        finally:
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s model=%s status=%s duration_ms=%.1f request_id=%s",
                    scope["method"],
                    clean(scope["path"]),
                    clean(state.get("model", "-"), 100),
                    status or 499,  # no answer sent: the client went away
                    (time.perf_counter() - started) * 1000,
                    request_id,
                )


async def _answer(send, status: int, body: bytes) -> None:
    start = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": body})


def _incoming_id(scope) -> str | None:
    """A caller's own `x-request-id` is kept when it is short and plain, for tracing."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _GOOD_ID.match(text) else None
    return None
