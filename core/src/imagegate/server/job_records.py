"""The job record in the state store, its public view, and the errors of the job routes.

A record is the public job object (`id`, `object`, `status`, `created_at`, `started_at`,
`finished_at`, `expires_at`, `model`, `progress`, `result`, `error`) plus private fields
(`_` prefix) that never leave the server: the owner's fingerprint, the request, the deadline
and the provider task ids reported so far. Never a token: `_token` is a fingerprint.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
from typing import TYPE_CHECKING, Any

from imagegate.errors import ImagegateError, InvalidRequest

from .answers import ImagesGone, from_record

if TYPE_CHECKING:
    from imagegate.media import MediaStore

__all__ = [
    "ACTIVE",
    "FINISHED",
    "Interrupted",
    "JobFinished",
    "JobNotFound",
    "StateUnavailable",
    "new_job_id",
    "new_record",
    "owned",
    "view",
]

OBJECT = "image.generation.job"
ACTIVE = frozenset({"queued", "running"})
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
_ID = re.compile(r"^imgjob_[A-Za-z0-9_-]{32}$")


class JobNotFound(InvalidRequest):
    """Unknown, expired, or another caller's job: the same answer, so no id is confirmed."""

    code = "JOB_NOT_FOUND"
    status = 404


class JobFinished(InvalidRequest):
    code = "JOB_FINISHED"
    status = 409


class Interrupted(ImagegateError):
    """The server stopped while a job ran and the provider has no task to pick up again."""

    code = "INTERRUPTED"
    status = 500


class StateUnavailable(ImagegateError):
    code = "STATE_UNAVAILABLE"
    status = 503


def new_job_id() -> str:
    """192 random bits: unguessable, so a job id is as good as a capability."""
    return "imgjob_" + secrets.token_urlsafe(24)


def new_record(
    job_id: str,
    *,
    owner: str,
    token: str | None,
    request: dict[str, Any],
    model: str,
    timeout: float,
) -> dict[str, Any]:
    now = time.time()
    return {
        "id": job_id,
        "object": OBJECT,
        "status": "queued",
        "created_at": int(now),
        "started_at": None,
        "finished_at": None,
        "expires_at": None,
        "model": model,
        "progress": None,
        "result": None,
        "error": None,
        "_owner": owner,
        "_token": token,
        "_request": request,
        "_deadline": now + timeout,
        "_tasks": {},
    }


def owned(record: dict[str, Any] | None, job_id: str, owner: str) -> dict[str, Any]:
    """The record if it exists and is this caller's; else JobNotFound."""
    if record is None or not hmac.compare_digest(str(record.get("_owner")), owner):
        raise not_found(job_id)
    return record


def not_found(job_id: str) -> JobNotFound:
    shown = job_id if _ID.match(job_id) else job_id[:40] + ("..." if len(job_id) > 40 else "")
    return JobNotFound(
        f"no job {shown!r} for this caller: unknown, expired, or made with another key or token",
        param="job_id",
    )


def valid_id(job_id: str) -> bool:
    return bool(_ID.match(job_id))


async def view(record: dict[str, Any], media: MediaStore, base: str) -> dict[str, Any]:
    """The job object a caller sees; `result` is the body a synchronous call returned."""
    shown = {key: value for key, value in record.items() if not key.startswith("_")}
    if record.get("result") is not None:
        try:
            shown["result"] = await from_record(record["result"], media, base)
        except ImagesGone:
            shown["result"] = None
            shown["error"] = {
                "message": "the images of this job are no longer held by this server; "
                "generate them again",
                "type": "invalid_request_error",
                "param": None,
                "code": "IMAGES_EXPIRED",
            }
    return shown
