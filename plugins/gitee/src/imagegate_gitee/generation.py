"""One Gitee AI generation: the synchronous call, or the task API when that is the better way.

Why the synchronous call by default: it is one round trip, the fastest path for models that
take seconds (z-image-turbo), and the caller's deadline bounds it anyway (the core cancels
the call when time is up). What the synchronous call cannot survive is Gitee's own gateway
giving up on a long generation: that answers 504, while the generation may go on, and be
billed, on Gitee's side. So a 504 is never followed by a second paid job for the same
request (neither here nor by the core's retries): the caller is told what happened, and in
`auto` mode the model's next request goes to the task API, which has no such time limit.

What is remembered per (base URL, model), for an hour, in `auto` mode:
    task-next   the synchronous call timed out at the gateway: try the task API next time
    task        a task succeeded: use the task API (a model is "slow" only once the task
                API has worked for it)
    sync-only   the task API refused the model (nothing ran, nothing was billed): stay
                synchronous

`IMAGEGATE_GITEE_MODE` = `auto` (default), `sync` or `async` forces one path.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING

from imagegate import GenerateContext, GeneratedImage, ImageRequest, Model
from imagegate.errors import ImagegateError, Timeout

from .tasks import TaskRefused, run_task
from .wire import NAME, body_for, error_for, headers_for, images_from, json_of, message_of

if TYPE_CHECKING:
    import httpx

__all__ = ["MODE_ENV", "forget_slow_models", "generate_images", "route_of"]

MODE_ENV = "IMAGEGATE_GITEE_MODE"
MODES = ("auto", "sync", "async")
SLOW_FOR = 3600.0
"""Seconds a learnt route (task-next, task, sync-only) is kept."""

_routes: dict[tuple[str, str], tuple[str, float]] = {}
_routes_lock = threading.Lock()


async def generate_images(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    mode = _mode(context)
    key = (context.base_url or "", model.id)
    route = route_of(key) if mode == "auto" else None
    if mode == "async" or route in ("task-next", "task"):
        try:
            images = await run_task(request, model, token, context)
        except TaskRefused as refused:
            if mode == "async":
                raise
            _remember(key, "sync-only")
            context.warn(f"{refused.message}; made with the synchronous call instead")
        except ImagegateError:
            if route == "task-next":
                _forget(key)  # the task API did not work for it: back to unknown
            raise
        else:
            if route == "task-next":
                context.warn(
                    f"{model.full_id} was made through {NAME}'s task API: its last "
                    "synchronous call outlasted Gitee's gateway (HTTP 504)"
                )
            if mode == "auto":
                _remember(key, "task")
            return images
    context.report("running", status="sync", message="waiting for the synchronous answer")
    response = await context.client.post(
        f"{(context.base_url or '').rstrip('/')}/images/generations",
        json=body_for(request, model, request.response_format),
        headers=headers_for(token),
        timeout=max(0.01, context.remaining()),
    )
    if response.status_code == 504:
        task_next = mode == "auto" and route_of(key) != "sync-only"
        if task_next:
            _remember(key, "task-next")
        raise _gateway_timeout(response, model, mode, task_next)
    if response.status_code >= 400:
        raise error_for(response, token)
    answer = json_of(response, "the generation")
    images = images_from(answer.get("data"), request, "the generation")
    for image in images:
        image.metadata["mode"] = "sync"
    return images


def _gateway_timeout(response: httpx.Response, model: Model, mode: str, task_next: bool) -> Timeout:
    try:
        said = message_of(response.json())
    except ValueError:
        said = None
    said = " ".join((said or response.text or "Gateway Time-out").split())[:200]
    if task_next:
        then = (
            f"its next request goes to {NAME}'s task API, which has no such time limit: try again"
        )
    elif mode == "auto":
        then = f"{NAME}'s task API does not take this model: try fewer steps, or later"
    else:
        then = f"{NAME}'s task API has no such time limit"
    return Timeout(
        f"{NAME}'s gateway gave up waiting for {model.full_id} (HTTP 504: {said}); the image "
        "may still be made, and billed, on Gitee's side, so imagegate did not submit it "
        f"again; {then}",
        provider="gitee",
        transient=False,
        hint=None if mode == "auto" else f"{MODE_ENV}=auto (or async) uses the task API",
    )


def route_of(key: tuple[str, str]) -> str | None:
    """What was learnt about this (base URL, model): task-next, task, sync-only or None."""
    with _routes_lock:
        found = _routes.get(key)
        if found is not None and time.monotonic() - found[1] > SLOW_FOR:
            del _routes[key]
            found = None
        return found[0] if found else None


def forget_slow_models() -> None:
    """Forget every learnt route (tests; after a service upgrade)."""
    with _routes_lock:
        _routes.clear()


def _remember(key: tuple[str, str], route: str) -> None:
    with _routes_lock:
        _routes[key] = (route, time.monotonic())


def _forget(key: tuple[str, str]) -> None:
    with _routes_lock:
        _routes.pop(key, None)


def _mode(context: GenerateContext) -> str:
    value = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        context.warn(f"{MODE_ENV}={value!r} is not one of {', '.join(MODES)}; using auto")
        return "auto"
    return value
