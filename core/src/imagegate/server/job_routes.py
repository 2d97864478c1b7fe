"""The job routes: `GET /v1/images/jobs/{id}`, `GET .../events` (SSE), `DELETE` (cancel).

A job answers only to the caller who made it (the same API key, or the same provider
token); anyone else gets the 404 an unknown id gets, so an id is never confirmed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from . import events
from .auth import caller_tokens
from .callers import owner_of
from .generation import json_response
from .job_schemas import STREAM_CONTENT, JobObject
from .openapi import error_responses
from .streaming import PING

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI

    from .jobs import Jobs

__all__ = ["add_job_routes"]


def add_job_routes(
    app: FastAPI, jobs: Jobs, api_key: str | None, base_of: Callable[[Request], str]
) -> None:
    """The three routes; `base_of(request)` is where this server's image files are."""

    def caller(request: Request) -> tuple[str, str | None]:
        tokens = caller_tokens(request, api_key)
        return owner_of(api_key, tokens), tokens

    @app.get(
        "/v1/images/jobs/{job_id}",
        response_model=JobObject,
        responses=error_responses(401, 404, 503),
    )
    async def get_job(request: Request, job_id: str) -> Response:
        """An async job: status, progress, and its result (the synchronous answer's body)
        or error once it has ended."""
        owner, tokens = caller(request)
        job = await jobs.get(job_id, owner, tokens)
        return json_response(await jobs.view(job, base_of(request)))

    @app.delete(
        "/v1/images/jobs/{job_id}",
        response_model=JobObject,
        responses=error_responses(401, 404, 409, 429, 503),
    )
    async def cancel_job(request: Request, job_id: str) -> Response:
        """Cancel a queued or running job (and the provider's task); 409 once it has ended."""
        owner, _ = caller(request)
        job = await jobs.cancel(job_id, owner)
        return json_response(await jobs.view(job, base_of(request)))

    @app.get(
        "/v1/images/jobs/{job_id}/events",
        response_class=Response,
        responses={
            200: {"content": STREAM_CONTENT, "description": "The job's events"},
            **error_responses(401, 404, 503),
        },
    )
    async def job_events(request: Request, job_id: str) -> Response:
        """The job as Server-Sent Events: `image.generation.job` now and at each change of
        status (the last with its outcome), `imagegate.progress` between."""
        from sse_starlette import EventSourceResponse

        owner, tokens = caller(request)
        record = await jobs.get(job_id, owner, tokens)

        async def stream():
            async for kind, data in jobs.follow(record, owner, tokens, base_of(request)):
                yield events.sse(kind, data)

        return EventSourceResponse(stream(), ping=PING, headers={"Cache-Control": "no-store"})
