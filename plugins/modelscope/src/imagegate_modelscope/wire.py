"""ModelScope's task API on the wire: the submit body, the task answer, and error mapping.

Facts from protocols.md section 3: submit `POST {base}/images/generations` with
`X-ModelScope-Async-Mode: true`; poll `GET {base}/tasks/{id}` with
`X-ModelScope-Task-Type: image_generation`; guidance is sent as `guidance`; errors look like
`{"errors": {"message"}, "request_id"}`, and 429s may carry `modelscope-ratelimit-*` headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from imagegate import errors
from imagegate.upstream import error_for_status, provider_message

from .models import PROVIDER as MODELSCOPE

if TYPE_CHECKING:
    import httpx

    from imagegate.models import Model
    from imagegate.request import ImageRequest

__all__ = ["TaskState", "error_for", "poll_headers", "read_json", "submit_body", "task_state"]

PROVIDER = "modelscope"
NAME = "ModelScope"
QUEUED = frozenset({"PENDING", "QUEUED", "QUEUING", "WAITING"})
SUCCEEDED = frozenset({"SUCCEED", "SUCCEEDED", "SUCCESS"})
FAILED = frozenset({"FAILED", "FAILURE", "ERROR", "CANCELED", "CANCELLED"})
_LIMIT_HEADERS = {
    "requests": ("modelscope-ratelimit-requests-remaining", "modelscope-ratelimit-requests-limit"),
    "model": (
        "modelscope-ratelimit-model-requests-remaining",
        "modelscope-ratelimit-model-requests-limit",
    ),
}


def submit_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-ModelScope-Async-Mode": "true"}


def poll_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-ModelScope-Task-Type": "image_generation"}


def submit_body(request: ImageRequest, model: Model) -> dict[str, Any]:
    """The JSON ModelScope takes: only what the model accepts, guidance named `guidance`."""
    body: dict[str, Any] = {
        "model": model.id,
        "prompt": request.prompt,
        "size": f"{request.width}x{request.height}",
        "seed": request.seed,
        "steps": request.steps,
    }
    if request.negative_prompt and model.capabilities.negative_prompt:
        body["negative_prompt"] = request.negative_prompt
    if model.capabilities.guidance is not None and request.guidance_scale is not None:
        body["guidance"] = request.guidance_scale
    return {key: value for key, value in body.items() if value is not None}


@dataclass(frozen=True)
class TaskState:
    """One poll answer: `phase` is queued, running, succeeded or failed; `word` is ModelScope's."""

    phase: str
    word: str
    images: list[str] = field(default_factory=list)
    reason: str | None = None


def task_state(payload: Any, task_id: str) -> TaskState:
    """The state of a task from its poll answer; unknown words mean it is still running."""
    if not isinstance(payload, dict) or not isinstance(payload.get("task_status"), str):
        raise _unexpected(f"the answer for task {task_id} has no task_status")
    word = payload["task_status"]
    upper = word.upper()
    if upper in SUCCEEDED:
        urls = payload.get("output_images")
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise _unexpected(f"task {task_id} finished ({word}) without output_images")
        return TaskState("succeeded", word, images=urls)
    if upper in FAILED:
        return TaskState("failed", word, reason=error_text(payload))
    return TaskState("queued" if upper in QUEUED else "running", word)


def read_json(response: httpx.Response, what: str) -> Any:
    """The JSON body of a 2xx answer, or a `ProviderError` naming ModelScope."""
    try:
        return response.json()
    except ValueError:
        raise _unexpected(f"{what} answer is not JSON: {response.text[:120]!r}") from None


def error_text(payload: Any) -> str | None:
    """The failure reason: `errors.message`, then `error_message`, `message`, `error`."""
    if not isinstance(payload, dict):
        return None
    nested = payload.get("errors")
    if isinstance(nested, dict) and isinstance(nested.get("message"), str):
        return nested["message"]
    for key in ("error_message", "message", "error"):
        value = payload.get(key)
        if isinstance(value, dict):
            value = value.get("message")
        if isinstance(value, str) and value:
            return value
    return None


def limits(response: httpx.Response) -> dict[str, int]:
    """The `modelscope-ratelimit-*` figures present on an answer, as ints."""
    figures: dict[str, int] = {}
    for scope, names in _LIMIT_HEADERS.items():
        for name, kind in zip(names, ("remaining", "limit"), strict=True):
            value = response.headers.get(name)
            if value is not None and value.strip().isdigit():
                figures[f"{scope}_{kind}"] = int(value)
    return figures


def describe_limits(figures: dict[str, int]) -> str:
    parts = []
    for scope, label in (("requests", "calls today"), ("model", "calls of this model today")):
        if f"{scope}_remaining" in figures:
            total = figures.get(f"{scope}_limit")
            of = f" of {total}" if total is not None else ""
            parts.append(f"{figures[f'{scope}_remaining']}{of} {label} left")
    return f" ({'; '.join(parts)})" if parts else ""


def error_for(response: httpx.Response, *, model: Model, during: str) -> errors.ImagegateError:
    """The imagegate error for a non-2xx ModelScope answer (`during`: submit or poll),
    through the core's shared table, refined with ModelScope's own facts: the
    `modelscope-ratelimit-*` figures tell a spent daily limit (of the model, or of the
    whole token) from a rate limit; a 403 means the account is not set up for
    API-Inference; a 404 on a poll is a lost task, not an unknown model."""
    status = response.status_code
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    text = error_text(payload) or provider_message(response) or f"HTTP {status}"
    figures = limits(response)
    spent_model = figures.get("model_remaining") == 0
    spent_token = figures.get("requests_remaining") == 0
    if during == "poll" and status == 429:
        return errors.RateLimited(
            f"{NAME} is rate limiting the polls of this task ({text}); polling again later",
            provider=PROVIDER,
            retry_after=errors.retry_after_seconds(response.headers.get("retry-after")),
        )
    if status == 429 and (spent_model or spent_token):
        return error_for_status(
            402,  # the figures say it: a spent daily limit, not a rate limit
            f"{text}{describe_limits(figures)}",
            provider=MODELSCOPE,
            headers=response.headers,
            scope="token" if spent_token else "model",
        )
    error = error_for_status(
        status,
        f"{text}{describe_limits(figures)}" if status == 429 else text,
        provider=MODELSCOPE,
        headers=response.headers,
        not_found=errors.ProviderError if during == "poll" else errors.InvalidModel,
    )
    if isinstance(error, errors.PermissionDenied):
        _amend(
            error,
            "API-Inference needs a ModelScope account linked to an Alibaba Cloud account "
            "with real-name verification (modelscope.cn, account settings)",
        )
    if isinstance(error, errors.InvalidModel):
        _amend(error, f"{model.full_id} is unknown to ModelScope or retired")
    return error


def _amend(error: errors.ImagegateError, advice: str) -> None:
    error.message = f"{error.message}; {advice}"
    error.args = (error.message,)


def _unexpected(what: str) -> errors.ProviderError:
    return errors.ProviderError(
        f"{NAME} answered something its API does not promise: {what}", provider=PROVIDER
    )
