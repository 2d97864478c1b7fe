"""One log line per request, an `x-request-id` on every response, no stray 500 pages.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware, which costs a task and a queue
per request). The line holds method, path, model, status, duration and request id, never a
header or body, so no token can reach the log.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time

__all__ = ["RequestLogMiddleware", "log"]

log = logging.getLogger("imagegate.server")

_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
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


class RequestLogMiddleware:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_id(scope) or secrets.token_hex(8)
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
            await self.app(scope, receive, send_with_id)
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
                    scope["path"],
                    state.get("model", "-"),
                    status or 499,  # no answer sent: the client went away
                    (time.perf_counter() - started) * 1000,
                    request_id,
                )


def _incoming_id(scope) -> str | None:
    """A caller's own `x-request-id` is kept when it is short and plain, for tracing."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _GOOD_ID.match(text) else None
    return None
