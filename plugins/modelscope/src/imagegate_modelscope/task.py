"""One ModelScope generation: submit the task, poll it until it ends, return its images.

Polling honours the request's deadline (a `Timeout` naming the task, and no poll after it),
reports each new status word through the progress callback, and stops at once when the
caller cancels: `asyncio.CancelledError` is never caught here. The task id is reported with
`submitted`; a call whose `context.resume_task` is set polls that task instead of submitting.

A submitted task is paid for, so a poll that fails is never a reason to abandon it while
the deadline allows more: a 429 on a poll (with or without ModelScope's rate-limit headers:
polling spends no generation quota) waits its Retry-After, or a growing pause, and polls
again; so do 5xx answers and network failures. Only an answer that cannot get better (a
refused token, an unknown task, a body that is not the protocol) ends the polling.

The images are fetched once the task succeeds and labelled by their bytes (ModelScope's
are JPEG, at addresses without an extension); if that download fails, the image keeps its
URL and the core fetches it when someone needs the bytes.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from imagegate import errors
from imagegate.results import GeneratedImage, sniff_mime

from . import wire
from .models import PROVIDER
from .schedule import DURATIONS, Schedule

if TYPE_CHECKING:
    import httpx

    from imagegate.context import GenerateContext
    from imagegate.models import Model
    from imagegate.request import ImageRequest

__all__ = ["generate_images"]

MARGIN = 0.05
"""Seconds kept before the deadline so our own Timeout, naming the task, is the one raised."""
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 15.0
"""Pause after a failed poll without Retry-After: 1 s, doubling up to 15 s."""


async def generate_images(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    if not token:
        raise errors.AuthRequired(
            f"ModelScope needs a token (get one at {PROVIDER.key_url})",
            provider=PROVIDER.id,
            hint=f"set {PROVIDER.token_env[0]} or run `imagegate keys set {PROVIDER.id}`",
        )
    base = (context.base_url or PROVIDER.base_url or "").rstrip("/")
    if context.resume_task:  # submitted by an earlier run (a server restart): poll it again
        task_id = context.resume_task
        metadata: dict[str, Any] = {"task_id": task_id, "resumed": True}
        submitted = time.monotonic()
        context.report("running", message=f"picking up task {task_id}")
    else:
        task_id, metadata, submitted = await _submit(base, request, model, token, context)
    state = await _poll(base, task_id, token, model, context, submitted)
    metadata["status"] = state.word
    return [
        GeneratedImage(
            url=url,
            data=await _bytes_of(url, context),
            seed=request.seed,
            width=request.width,
            height=request.height,
            metadata=dict(metadata),
        )
        for url in state.images[: max(1, request.n)]
    ]


async def _submit(
    base: str, request: ImageRequest, model: Model, token: str, context: GenerateContext
) -> tuple[str, dict[str, Any], float]:
    """Submit the task: its id, what the answer said, and when (reported with the id, so a
    caller can resume the task with `context.resume_task`)."""
    response = await context.client.post(
        f"{base}/images/generations",
        json=wire.submit_body(request, model),
        headers=wire.submit_headers(token),
        timeout=_timeout(context),
    )
    if not response.is_success:
        raise wire.error_for(response, model=model, during="submit")
    submitted = time.monotonic()
    answer = wire.read_json(response, "the submit")
    task_id = answer.get("task_id") if isinstance(answer, dict) else None
    if not isinstance(task_id, str) or not task_id:
        raise errors.ProviderError(
            "ModelScope accepted the request but answered without a task_id", provider=PROVIDER.id
        )
    metadata: dict[str, Any] = {"task_id": task_id, **wire.limits(response)}
    if isinstance(answer.get("request_id"), str):
        metadata["request_id"] = answer["request_id"]
    context.report("submitted", message=f"task {task_id}", task_id=task_id)
    return task_id, metadata, submitted


async def _bytes_of(url: str, context: GenerateContext) -> bytes | None:
    """The image's bytes, so it is labelled by what it is; None if they cannot be had now
    (a half image is refused by the core's check as the download it is)."""
    import httpx

    try:
        response = await context.client.get(url, timeout=_timeout(context))
    except httpx.HTTPError:
        return None
    if response.status_code != 200 or sniff_mime(response.content) is None:
        return None
    return response.content


async def _poll(
    base: str, task_id: str, token: str, model: Model, context: GenerateContext, submitted: float
) -> wire.TaskState:
    key = (base, model.id)
    schedule = Schedule(DURATIONS.expected(key))
    url = f"{base}/tasks/{task_id}"
    headers = wire.poll_headers(token)
    word: str | None = None
    unfinished_at = 0.0
    pause = 0.0  # extra wait after a failed poll
    while True:
        remaining = context.remaining() - MARGIN
        if remaining <= 0:
            raise _timeout_error(task_id, word, context)
        delay = max(schedule.next_delay(time.monotonic() - submitted), pause)
        await asyncio.sleep(min(delay, remaining))
        sent_at = time.monotonic() - submitted
        try:
            response = await _get(context.client, url, headers, model, context)
        except errors.RateLimited as exc:  # QuotaExceeded too: a poll spends no quota
            pause = _next_pause(pause, exc.retry_after)
            context.report("retrying", message=f"poll rate limited; next in {pause:.3g}s")
            continue
        except errors.ProviderError as exc:
            if not exc.transient:
                raise
            pause = _next_pause(pause, exc.retry_after)
            context.report("retrying", message=f"poll failed; next in {pause:.3g}s")
            continue
        pause = 0.0
        state = wire.task_state(wire.read_json(response, f"the poll of task {task_id}"), task_id)
        if state.phase == "succeeded":
            DURATIONS.observe(key, unfinished_at, sent_at)
            context.report("done", status=state.word)
            return state
        if state.phase == "failed":
            raise errors.GenerationFailed(
                f"ModelScope task {task_id} ended {state.word}: "
                f"{state.reason or 'no reason given'}",
                provider=PROVIDER.id,
            )
        unfinished_at = sent_at
        if state.word != word:
            context.report(state.phase, status=state.word)
            word = state.word


def _next_pause(pause: float, retry_after: float | None) -> float:
    """Retry-After when ModelScope says it, else 1 s doubling up to 15 s."""
    if retry_after is not None:
        return retry_after
    return BACKOFF_FIRST if pause <= 0 else min(BACKOFF_CAP, pause * 2)


async def _get(
    client: httpx.AsyncClient,
    url: str,
    headers: dict[str, str],
    model: Model,
    context: GenerateContext,
) -> httpx.Response:
    """One poll; a network failure or 5xx is a transient `ProviderError`, other errors map."""
    import httpx

    try:
        response = await client.get(url, headers=headers, timeout=_timeout(context))
    except httpx.TimeoutException:
        raise errors.ProviderError(
            "ModelScope did not answer a poll in time", provider=PROVIDER.id, transient=True
        ) from None
    except httpx.TransportError as exc:
        raise errors.ProviderError(
            f"polling ModelScope failed ({type(exc).__name__})",
            provider=PROVIDER.id,
            transient=True,
        ) from None
    if not response.is_success:
        raise wire.error_for(response, model=model, during="poll")
    return response


def _timeout(context: GenerateContext) -> float:
    return max(0.001, context.remaining())


def _timeout_error(task_id: str, word: str | None, context: GenerateContext) -> errors.Timeout:
    allowed = context.deadline - context.started
    return errors.Timeout(
        f"ModelScope task {task_id} was still {word or 'PENDING'} when the {allowed:.3g}s "
        "deadline passed; polling stopped. Try again later or allow a longer timeout",
        provider=PROVIDER.id,
    )
