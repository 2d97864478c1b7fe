"""Every failure as OpenAI's error envelope, with the status the official SDKs expect.

The status picks the SDK's exception (400 BadRequestError, 401 AuthenticationError,
403 PermissionDeniedError, 404 NotFoundError, 429 RateLimitError, 5xx InternalServerError,
413/415 APIStatusError); `param` names the field; 429 always says when to come back. The
message is the caller's (`advice`): never the owner's hint.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from imagegate.errors import AuthError, ImagegateError, InvalidRequest, QuotaExceeded, RateLimited

from .advice import Caller, caller_message
from .retry_advice import should_retry

__all__ = [
    "BodyTooLarge",
    "UnsupportedMediaType",
    "caller_error",
    "error_response",
    "install_handlers",
    "invalid_body",
]

log = logging.getLogger("imagegate.server")

# Retry-After when a rate limit gives none: long enough not to hammer, short enough that the
# SDK's own retry (it honours Retry-After up to 60 s) still helps.
DEFAULT_RETRY_AFTER = 5


class BodyTooLarge(InvalidRequest):
    code = "BODY_TOO_LARGE"
    status = 413


class UnsupportedMediaType(InvalidRequest):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


def error_response(exc: ImagegateError, request: Request | None = None) -> Response:
    """The envelope, status and headers for one imagegate error, worded for the caller."""
    caller = gate = None
    if request is not None:
        gate = getattr(request.app.state, "gate", None)
        caller = Caller(
            protected=getattr(request.app.state, "protected", False),
            sent_tokens=getattr(request.state, "sent_tokens", False),
        )
    status, body = caller_error(exc, gate, caller)
    headers: dict[str, str] = {}
    if isinstance(exc, QuotaExceeded):
        headers["Retry-After"] = str(_retry_after(exc) or _seconds_to_utc_midnight())
    elif isinstance(exc, RateLimited):
        headers["Retry-After"] = str(_retry_after(exc) or DEFAULT_RETRY_AFTER)
    elif isinstance(exc, AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    elif status == 503:  # shared state unreachable: a moment, or another replica
        headers["Retry-After"] = str(_retry_after(exc) or 2)
    if should_retry(exc) is False:
        headers["x-should-retry"] = "false"  # the OpenAI SDKs obey it: no retry in vain
    return envelope(status, body, headers)


def caller_error(exc: ImagegateError, gate: Any, caller: Caller | None) -> tuple[int, dict]:
    """The status and envelope of an error as a caller is told it (also in a job's record
    and a stream's `error` event): worded for `caller` when known, never the owner's hint."""
    body = exc.to_openai()
    status = exc.status
    if caller is not None:
        provider = gate.catalog.providers.get(exc.provider or "") if gate is not None else None
        body["error"]["message"] = caller_message(exc, provider, caller)
    if isinstance(exc, InvalidRequest) and exc.param == "keys":
        # the server's own keys file is unreadable: not the caller's request at fault
        status = 500
        body["error"].update(
            message="this server cannot read its stored provider tokens; its owner must fix "
            "that (the server log says more)",
            type="server_error",
            param=None,
        )
        log.error("the keys file cannot be read: %s", exc.message)
    if isinstance(exc, QuotaExceeded):
        # OpenAI's own code for a spent quota; clients branch on it.
        body["error"]["code"] = "insufficient_quota"
    return status, body


def envelope(status: int, body: dict, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        status_code=status,
        headers=headers,
        media_type="application/json",
    )


def plain_error(status: int, message: str, *, type_: str, code: str, param=None) -> Response:
    error = {"message": message, "type": type_, "param": param, "code": code}
    return envelope(status, {"error": error})


def invalid_body(exc: ValidationError) -> InvalidRequest:
    """The first problem pydantic found in a request body, naming its field."""
    error = exc.errors(include_url=False)[0]
    kind = error["type"]
    param = ".".join(str(part) for part in error["loc"]) or None
    if kind == "json_invalid":
        return InvalidRequest(f"the body is not valid JSON: {error['msg']}", param=None)
    if kind == "model_type" or param is None:
        return InvalidRequest("the body must be a JSON object", param=None)
    if kind == "missing":
        return InvalidRequest(f"{param} is required", param=param)
    if kind == "extra_forbidden":
        from .schemas import accepted_fields

        return InvalidRequest(
            f"unknown field {param!r}; accepted: {', '.join(accepted_fields())}", param=param
        )
    message = error["msg"].removeprefix("Value error, ")
    return InvalidRequest(f"{param}: {message} (got {error.get('input')!r})", param=param)


def install_handlers(app) -> None:
    """Route every exception, FastAPI's own included, to the envelope: never a 422 or HTML."""
    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(ImagegateError)
    async def _imagegate(request: Request, exc: ImagegateError) -> Response:
        return error_response(exc, request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        param = ".".join(str(p) for p in errors[0]["loc"][1:]) if errors else None
        message = errors[0]["msg"] if errors else "invalid request"
        return plain_error(
            400,
            f"{param}: {message}",
            type_="invalid_request_error",
            code="INVALID_PARAMS",
            param=param or None,
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        # OpenAI answers an unknown URL with invalid_request_error too; 405 keeps its Allow
        status = exc.status_code
        if status == 404:
            message = f"no route {request.method} {request.url.path}; GET /docs lists them"
        elif status == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            message = f"{request.url.path} does not take {request.method}; it takes {allowed}"
        else:
            message = str(exc.detail)
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(status, f"HTTP_{status}")
        response = plain_error(status, message, type_="invalid_request_error", code=code)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The type only: an unexpected message could carry anything, a token included.
        log.error("unexpected %s while serving %s", type(exc).__name__, request.url.path)
        return plain_error(
            500,
            "internal server error; the server log has the request id",
            type_="server_error",
            code="UNKNOWN",
        )


def _retry_after(exc: ImagegateError) -> int | None:
    if exc.retry_after is None:
        return None
    return max(1, round(exc.retry_after))


def _seconds_to_utc_midnight() -> int:
    now = datetime.now(timezone.utc)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((midnight - now).total_seconds()))
