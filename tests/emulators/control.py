"""What every emulator shares: the request log, scripted faults, token conventions, and
the images it serves. Tests drive it in-process; `/_control/*` routes expose it over HTTP
for `python -m tests.emulators`, benchmarks and demos.

Token conventions (any token of 8+ characters is otherwise valid):
    contains "invalid"   -> the provider's 401 answer
    contains "expired"   -> the provider's "token expired" answer
    contains "quota"     -> the provider's quota-exhausted answer
    contains "ratelimit" -> the provider's 429 rate-limit answer

Fault kinds a test can script with `control.script(kind, times=1, **params)`; each emulator
honours the kinds that make sense for its protocol:
    status (status=, message=)   an HTTP error in the provider's own error shape
    quota, rate_limit            the provider's quota / rate-limit answer
    delay (seconds=)             answer late
    malformed_json               a 200 whose body is not JSON
    missing_data                 a 200 JSON body without the promised fields
    truncated_image              the served image file is cut in half
    task_failed (message=)       an async task ends in failure
    gradio_error (message=)      a Space raises gr.Error
    zerogpu_quota                a Space answers with the ZeroGPU quota message
    queue_full                   a Space's queue is full (503 on join)
    space_down (space=)          a Space answers 404 (gone)
    space_sleeping (space=)      a Space answers 503 with a non-JSON page
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXPIRED_TOKEN",
    "INVALID_TOKEN",
    "QUOTA_TOKEN",
    "RATE_LIMIT_TOKEN",
    "VALID_TOKEN",
    "Control",
    "Fault",
    "Recorded",
    "bearer_token",
    "token_kind",
]

VALID_TOKEN = "valid-token-0001"
INVALID_TOKEN = "invalid-token-0001"
EXPIRED_TOKEN = "expired-token-0001"
QUOTA_TOKEN = "quota-token-0001"
RATE_LIMIT_TOKEN = "ratelimit-token-0001"


def token_kind(token: str | None) -> str:
    """`missing`, `invalid`, `expired`, `quota`, `ratelimit` or `ok`, by convention."""
    if not token:
        return "missing"
    for kind in ("invalid", "expired", "quota", "ratelimit"):
        if kind in token:
            return kind
    return "ok" if len(token) >= 8 else "invalid"


def bearer_token(request: Any) -> str | None:
    """The token of an `Authorization: Bearer <token>` header of a Starlette request."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


@dataclass
class Recorded:
    """One request as the emulator received it."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    json: Any = None
    time: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": self.headers,
            "query": self.query,
            "json": self.json,
            "body": None if self.json is not None else self.body.decode("utf-8", "replace"),
            "time": self.time,
        }


@dataclass
class Fault:
    kind: str
    params: dict[str, Any]
    times: int = 1


class Control:
    """The state of one emulator: safe to use from the test thread and the server thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.delay = 0.0
        """A standing delay before every answer (benchmarks); faults add to it."""
        self.task_seconds = 0.3
        """How long an asynchronous task runs before it succeeds."""
        self.images: dict[str, tuple[bytes, str]] = {}
        self.options: dict[str, Any] = {}
        """Emulator-specific switches a test flips (the Spaces' `show_error`, ...)."""
        self._ids = itertools.count(1)

    def script(self, kind: str, times: int = 1, **params: Any) -> None:
        """Make the next `times` matching requests fail (or behave) as `kind` says."""
        with self._lock:
            self.faults.append(Fault(kind, params, times))

    def take(self, *kinds: str) -> Fault | None:
        """The next scripted fault if it is one of `kinds` (any kind when none given)."""
        with self._lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            if kinds and fault.kind not in kinds:
                return None
            fault.times -= 1
            if fault.times <= 0:
                self.faults.popleft()
            return fault

    def record(self, entry: Recorded) -> None:
        with self._lock:
            self.requests.append(entry)

    async def record_request(self, request: Any) -> tuple[bytes, Any]:
        """Log a Starlette request as received; returns its body and parsed JSON (or None)."""
        body = await request.body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        self.record(
            Recorded(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                query=dict(request.query_params),
                body=body,
                json=parsed,
            )
        )
        return body, parsed

    def store_image(self, data: bytes, mime: str) -> str:
        """Keep an image to serve; returns its id (the emulator builds the URL)."""
        with self._lock:
            image_id = f"img{next(self._ids):06d}"
            self.images[image_id] = (data, mime)
            if len(self.images) > 2000:
                self.images.pop(next(iter(self.images)))
            return image_id

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self.delay = 0.0
            self.task_seconds = 0.3
            self.options.clear()

    def routes(self) -> list[Any]:
        """Starlette routes: POST /_control/script, POST /_control/reset,
        POST /_control/settings ({"delay", "task_seconds", "options": {...}}),
        GET /_control/requests."""
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def script(request: Request) -> JSONResponse:
            body = await request.json()
            self.script(body["kind"], int(body.get("times", 1)), **body.get("params", {}))
            return JSONResponse({"ok": True})

        async def reset(request: Request) -> JSONResponse:
            self.reset()
            return JSONResponse({"ok": True})

        async def settings(request: Request) -> JSONResponse:
            body = await request.json()
            for name in ("delay", "task_seconds"):
                if name in body:
                    setattr(self, name, float(body[name]))
            self.options.update(body.get("options") or {})
            return JSONResponse(
                {"delay": self.delay, "task_seconds": self.task_seconds, "options": self.options}
            )

        async def requests(request: Request) -> JSONResponse:
            with self._lock:
                return JSONResponse([entry.as_dict() for entry in self.requests])

        return [
            Route("/_control/script", script, methods=["POST"]),
            Route("/_control/reset", reset, methods=["POST"]),
            Route("/_control/settings", settings, methods=["POST"]),
            Route("/_control/requests", requests, methods=["GET"]),
        ]
