"""One ModelScope generation: submit the task, poll it until it ends, return its images.

Polling honours the request's deadline (a `Timeout` naming the task, and no poll after it),
reports each new status word through the progress callback, and stops at once when the
caller cancels: `asyncio.CancelledError` is never caught here. The task id is reported with
`submitted`; a call whose `context.resume_task` is set polls that task instead of submitting.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from imagegate import errors
from imagegate.results import GeneratedImage

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
MAX_POLL_FAILURES = 3
"""Consecutive transient poll failures (5xx, network) tolerated before giving up."""


async def generate_images(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    if not token:
        raise errors.AuthRequired(
            "ModelScope needs a token (get one at https://modelscope.cn): set "
            "IMAGEGATE_MODELSCOPE_TOKEN or run `imagegate keys set modelscope`",
            provider=PROVIDER.id,
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


async def _poll(
    base: str, task_id: str, token: str, model: Model, context: GenerateContext, submitted: float
) -> wire.TaskState:
    key = (base, model.id)
    schedule = Schedule(DURATIONS.expected(key))
    url = f"{base}/tasks/{task_id}"
    headers = wire.poll_headers(token)
    word: str | None = None
    unfinished_at = 0.0
    failures = 0
    while True:
        remaining = context.remaining() - MARGIN
        if remaining <= 0:
            raise _timeout_error(task_id, word, context)
        await asyncio.sleep(min(schedule.next_delay(time.monotonic() - submitted), remaining))
        sent_at = time.monotonic() - submitted
        try:
            response = await _get(context.client, url, headers, model, context)
        except (errors.ProviderError, errors.RateLimited) as exc:
            # a failed poll does not fail the task: poll again (a few times) on the schedule
            failures += 1
            if not exc.transient or failures > MAX_POLL_FAILURES:
                raise
            continue
        failures = 0
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
