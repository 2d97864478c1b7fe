"""One Gitee AI generation: the synchronous call, or the task API when that is the better way.

Why the synchronous call by default: it is one round trip, the fastest path for models that
take seconds (z-image-turbo), and the caller's deadline bounds it anyway (the core cancels
the call when time is up). What the synchronous call cannot survive is Gitee's own gateway
giving up on a long generation: that answers 504. Then, in `auto` mode, the same request is
submitted as a task for the rest of the deadline, and the model is remembered as slow on
that base URL for an hour, so the next calls go straight to the task API.

`IMAGEGATE_GITEE_MODE` = `auto` (default), `sync` or `async` forces one path.
"""

from __future__ import annotations

import os
import threading
import time

from imagegate import GenerateContext, GeneratedImage, ImageRequest, Model

from .tasks import run_task
from .wire import body_for, error_for, headers_for, images_from, json_of

__all__ = ["MODE_ENV", "forget_slow_models", "generate_images"]

MODE_ENV = "IMAGEGATE_GITEE_MODE"
MODES = ("auto", "sync", "async")
SLOW_FOR = 3600.0
"""Seconds a model that timed out at the gateway keeps using the task API."""

_slow: dict[tuple[str, str], float] = {}
_slow_lock = threading.Lock()


async def generate_images(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    mode = _mode(context)
    key = (context.base_url or "", model.id)
    if mode == "async" or (mode == "auto" and _is_slow(key)):
        return await run_task(request, model, token, context)
    context.report("running", status="sync", message="waiting for the synchronous answer")
    response = await context.client.post(
        f"{(context.base_url or '').rstrip('/')}/images/generations",
        json=body_for(request, model, request.response_format),
        headers=headers_for(token),
        timeout=max(0.01, context.remaining()),
    )
    if response.status_code == 504 and mode == "auto":
        _mark_slow(key)
        context.report(
            "retrying", message="the gateway timed out; submitting as a task (async API)"
        )
        return await run_task(request, model, token, context)
    if response.status_code >= 400:
        raise error_for(response, token)
    answer = json_of(response, "the generation")
    images = images_from(answer.get("data"), request, "the generation")
    for image in images:
        image.metadata["mode"] = "sync"
    return images


def forget_slow_models() -> None:
    """Forget which models timed out at the gateway (tests; after a service upgrade)."""
    with _slow_lock:
        _slow.clear()


def _mode(context: GenerateContext) -> str:
    value = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if value not in MODES:
        context.warn(f"{MODE_ENV}={value!r} is not one of {', '.join(MODES)}; using auto")
        return "auto"
    return value


def _is_slow(key: tuple[str, str]) -> bool:
    with _slow_lock:
        since = _slow.get(key)
        if since is not None and time.monotonic() - since > SLOW_FOR:
            del _slow[key]
            since = None
        return since is not None


def _mark_slow(key: tuple[str, str]) -> None:
    with _slow_lock:
        _slow[key] = time.monotonic()
