"""Gitee AI's asynchronous task API: submit, poll until the task ends, cancel if abandoned.

Submit is `POST <base>/async/images/generations`; the task is polled at the `urls.get` the
service returned (when it is on the same host), else `/api/v1/task/{id}`, falling back to
`/v1/task/{id}` on a 404. Status words differ between sources, so the safe rule of the
protocol notes applies: `success` is done, `failure`/`failed`/`cancelled` are final, anything
else is still pending. A caller that gives up (cancel, deadline) cancels the task, so it
is not left running (and billed) for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from imagegate import GenerateContext, GeneratedImage, ImageRequest, Model
from imagegate.errors import (
    GenerationFailed,
    InvalidRequest,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    redact,
)

from .wire import (
    NAME,
    body_for,
    error_for,
    headers_for,
    images_from,
    json_of,
    message_of,
    message_of_response,
)

__all__ = ["TaskRefused", "run_task"]


class TaskRefused(InvalidRequest):
    """The task API refused the request before any task existed (400/404/422): often a
    model it does not serve. Nothing ran, so nothing was billed."""


FIRST_POLL = 0.5
"""Seconds before the first poll; intervals then grow by half up to `MAX_POLL`."""
MAX_POLL = 4.0
"""The public guide polls every 4 s; never wait longer than that between polls."""
MAX_POLL_ERRORS = 5
"""Consecutive transient poll failures tolerated before giving up on the task."""
FAILED = frozenset({"failure", "failed", "cancelled", "canceled", "error"})
QUEUED = frozenset({"waiting", "pending", "queued", "queuing", "in_queue"})

_cancelling: set[asyncio.Task[Any]] = set()  # keeps fire-and-forget cancels alive


async def run_task(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    """Make the images through a task; the answer is always a URL (the core fetches bytes)."""
    base = (context.base_url or "").rstrip("/")
    headers = headers_for(token)
    response = await context.client.post(
        f"{base}/async/images/generations",
        json=body_for(request, model, "url"),
        headers=headers,
        timeout=_timeout(context),
    )
    if response.status_code >= 400:
        error = error_for(response, token)
        if response.status_code in (400, 404, 422) and not isinstance(error, QuotaExceeded):
            said = message_of_response(response) or f"HTTP {response.status_code}"
            raise TaskRefused(
                f"{NAME}'s task API refused {model.full_id}: {redact(said, [token or ''])}",
                provider="gitee",
                param=error.param,
            ) from None
        raise error
    task = json_of(response, "the task submission")
    task_id = task.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise ProviderError(f"{NAME} accepted the task but gave no task_id", provider="gitee")
    status = str(task.get("status") or "").strip().lower()
    context.report("submitted", status=status, message=f"task {task_id}")
    poller = _Poller(task_id, _poll_urls(base, task_id, task), headers, token, context)
    poller.last_status = status
    try:
        return await poller.follow(task, request)
    except BaseException:
        if not poller.finished:
            await _cancel(poller)
        raise


class _Poller:
    def __init__(
        self,
        task_id: str,
        urls: list[str],
        headers: dict[str, str],
        token: str | None,
        context: GenerateContext,
    ) -> None:
        self.task_id, self.urls, self.headers = task_id, urls, headers
        self.token, self.context = token, context
        self.finished = False
        self.last_status: str | None = None

    async def follow(self, task: dict[str, Any], request: ImageRequest) -> list[GeneratedImage]:
        interval, errors = FIRST_POLL, 0
        while True:
            images = self.outcome(task, request)
            if images is not None:
                return images
            await asyncio.sleep(min(interval, self.context.remaining()))
            interval = min(MAX_POLL, interval * 1.5)
            response = await self.get()
            if response.status_code >= 400:
                error = error_for(response, self.token, during="poll")
                # a rate limit on a poll is worth waiting out; QuotaExceeded (a subclass) is not
                retryable = error.transient or type(error) is RateLimited
                errors += 1
                if not retryable or errors >= MAX_POLL_ERRORS:
                    raise error
                interval = max(interval, error.retry_after or 0.0)
                continue
            errors = 0
            task = json_of(response, f"the poll of task {self.task_id}")

    async def get(self) -> Any:
        """GET the task, moving to the next known poll path when one answers 404."""
        while True:
            response = await self.context.client.get(
                self.urls[0], headers=self.headers, timeout=_timeout(self.context)
            )
            if response.status_code != 404 or len(self.urls) == 1:
                return response
            self.urls.pop(0)

    def outcome(self, task: dict[str, Any], request: ImageRequest) -> list[GeneratedImage] | None:
        """The images of a finished task, None while pending; raises for a failed one."""
        status = str(task.get("status") or "").strip().lower()
        if status != self.last_status:
            self.last_status = status
            stage = "queued" if status in QUEUED else "running"
            if status == "success" or status in FAILED:
                stage = "done"
            self.context.report(stage, status=status, message=f"task {self.task_id}")
        if status == "success":
            self.finished = True
            images = images_from(_items(task), request, f"task {self.task_id}")
            for image in images:
                image.metadata.update(task_id=self.task_id, mode="async")
            return images
        if status in FAILED:
            self.finished = True
            reason = redact(_reason(task), [self.token or ""])
            raise GenerationFailed(
                f"{NAME} task {self.task_id} ended with status {status!r}: {reason}",
                provider="gitee",
            )
        return None


def _items(task: dict[str, Any]) -> Any:
    output = task.get("output")
    if isinstance(output, dict):
        nested = output.get("images") or output.get("data")
        return nested if nested else output
    return output or task.get("data")


def _reason(task: dict[str, Any]) -> str:
    output = task.get("output")
    if isinstance(output, dict) and isinstance(output.get("error"), str):
        return output["error"]
    return message_of(task) or "no reason given"


def _poll_urls(base: str, task_id: str, task: dict[str, Any]) -> list[str]:
    """Where the task can be polled, best first. `urls.get` is used only on the base URL's
    own host, so the token never goes to a host the user did not configure."""
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    candidates = [f"{root}/api/v1/task/{task_id}", f"{base}/task/{task_id}"]
    urls = task.get("urls")
    given = urls.get("get") if isinstance(urls, dict) else None
    if isinstance(given, str) and _same_origin(given, base):
        candidates.insert(0, given)
    return list(dict.fromkeys(candidates))


def _same_origin(url: str, base: str) -> bool:
    one, other = urlsplit(url), urlsplit(base)
    return (one.scheme, one.netloc) == (other.scheme, other.netloc)


async def _cancel(poller: _Poller) -> None:
    """Ask the service to cancel the task. Waits briefly so the request goes out even when
    the event loop is about to close; a caller cancelled again stops waiting at once and
    the request finishes in the background."""
    url = f"{poller.urls[0]}/cancel"

    async def cancel() -> None:
        with contextlib.suppress(Exception):
            await poller.context.client.post(url, headers=poller.headers, timeout=5.0)

    task = asyncio.ensure_future(cancel())
    _cancelling.add(task)
    task.add_done_callback(_cancelling.discard)
    with contextlib.suppress(BaseException):
        await asyncio.wait({task}, timeout=2.0)


def _timeout(context: GenerateContext) -> float:
    return max(0.01, context.remaining())
