"""The fast lane: `POST /v1/images/generations` straight to its handler, around FastAPI.

A request through FastAPI passes a dozen ASGI layers before a route runs (error and
exception middlewares, the body-limit and telemetry wrappers, the exit stack, the router and
the route's own wrappers); profiled at concurrency 50 they were about a sixth of the
server's CPU per request. The generation route needs none of them: it reads its own body
with a cap and maps its own errors. So this one path and method go to the handler under the
request log (and the rate limiter, when limits are set) only, everything else to FastAPI as
before, which still documents the route (`/docs`, `/openapi.json`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from imagegate.errors import ImagegateError

from .logs import RequestLogMiddleware

__all__ = ["install_fast_lane"]

Handler = Callable[[Request], Awaitable[Response]]


def install_fast_lane(
    app: Any,
    path: str,
    method: str,
    handler: Handler,
    layers: Sequence[Callable[[Any], Any]] = (),
) -> None:
    """Answer `method path` with `handler` before anything of the app's own runs.

    The app becomes an instance of a subclass of its own class whose `__call__` takes this
    one route first (FastAPI's own `__call__` costs a telemetry check per request even
    with telemetry off). Errors are answered by the handlers the app registered for them
    (`ImagegateError`); anything else reaches the request log's own 500. `layers` wrap
    the handler inside the log, innermost first (the rate limiter, when limits are set).
    """

    async def answer(scope, receive, send) -> None:
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except ImagegateError as exc:
            response = await app.exception_handlers[ImagegateError](request, exc)
        except ClientDisconnect:
            return  # nobody is left to answer
        await response(scope, receive, send)

    wrapped: Any = answer
    for layer in layers:
        wrapped = layer(wrapped)
    logged = RequestLogMiddleware(wrapped)
    base = type(app)

    async def __call__(self, scope, receive, send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == path
            and scope["method"] == method
            and not scope.get("root_path")
            and not self.root_path
        ):
            scope["app"] = self
            await logged(scope, receive, send)
        else:
            await base.__call__(self, scope, receive, send)

    app.__class__ = type(base.__name__, (base,), {"__call__": __call__, "__module__": __name__})
