"""The job object and the stream, as /openapi.json describes them (documentation only)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .schemas import ErrorDetail, ImagesResponse

__all__ = ["STREAM_CONTENT", "JobObject", "JobProgress"]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobProgress(_Answer):
    provider: str
    model: str
    stage: str = Field(description="`submitted`, `queued`, `running`, `progress`, `retrying`...")
    message: str | None = None
    queue_position: int | None = None
    queue_size: int | None = None
    eta: float | None = Field(default=None, description="Seconds the provider expects.")
    step: int | None = None
    total_steps: int | None = None
    status: str | None = Field(default=None, description="The provider's own status word.")
    index: int = Field(description="Which image call of the request it is about.")
    elapsed: float


class JobObject(_Answer):
    """An async job (`Prefer: respond-async`), as `GET /v1/images/jobs/{id}` answers."""

    id: str
    object: Literal["image.generation.job"]
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    created_at: int
    started_at: int | None
    finished_at: int | None
    expires_at: int | None = Field(description="When a finished job is forgotten.")
    model: str
    progress: JobProgress | None
    result: ImagesResponse | None = Field(description="Once succeeded: the synchronous body.")
    error: ErrorDetail | None = Field(description="Once failed or cancelled: what happened.")


STREAM_CONTENT: dict[str, Any] = {
    "text/event-stream": {
        "schema": {
            "type": "string",
            "description": "Server-Sent Events: `imagegate.progress`, "
            "`image_generation.partial_image`, `image_generation.completed`, `error` "
            "(generation); `image.generation.job`, `imagegate.progress` (a job's events).",
        }
    }
}
