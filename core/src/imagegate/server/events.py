"""The Server-Sent Events of a streamed generation and of a job, as JSON-ready dicts.

OpenAI's two image events carry every field the official SDK's types require
(`ImageGenPartialImageEvent`, `ImageGenCompletedEvent`); usage is all zeros, since no provider
here reports tokens. Our own events have types the SDK does not know (`imagegate.progress`,
`image.generation.job`): it hands them over as loosely built objects instead of failing. An
`error` event has OpenAI's envelope under `error`, which the SDK raises as `APIError`.
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sse_starlette import ServerSentEvent

    from imagegate import GeneratedImage, ImageResult, Progress
    from imagegate.errors import ImagegateError

__all__ = ["completed", "error", "partial", "progress", "sse"]

PARTIAL = "image_generation.partial_image"
COMPLETED = "image_generation.completed"
PROGRESS = "imagegate.progress"
JOB = "image.generation.job"

_FORMATS = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpeg"}
_QUALITIES = {"low", "medium", "high", "xhigh", "max", "auto"}
_QUALITY_WORDS = {"hd": "high", "standard": "medium"}
_USAGE = {
    "input_tokens": 0,
    "input_tokens_details": {"image_tokens": 0, "text_tokens": 0},
    "output_tokens": 0,
    "total_tokens": 0,
}
_PROGRESS_FIELDS = (
    "stage",
    "message",
    "queue_position",
    "queue_size",
    "eta",
    "step",
    "total_steps",
    "status",
    "index",
)


def sse(kind: str, data: dict[str, Any]) -> ServerSentEvent:
    """One event, named as its `type` (OpenAI names its events so too)."""
    from sse_starlette import ServerSentEvent

    return ServerSentEvent(
        data=json.dumps(data, ensure_ascii=False, separators=(",", ":")), event=kind
    )


def _settings(quality: str | None) -> dict[str, str]:
    """The request's quality in the words OpenAI's types allow; the background is the
    provider's own (no provider here takes one)."""
    word = (quality or "auto").strip().lower()
    word = _QUALITY_WORDS.get(word, word)
    return {"quality": word if word in _QUALITIES else "auto", "background": "auto"}


def completed(
    image: GeneratedImage, index: int, result: ImageResult, *, warnings: list[str] | None = None
) -> dict[str, Any]:
    """`image_generation.completed` for one finished image (its bytes already read)."""
    data = image.data or b""
    event: dict[str, Any] = {
        "type": COMPLETED,
        "b64_json": base64.b64encode(data).decode(),
        "created_at": result.created,
        "size": _size(image),
        "output_format": _FORMATS.get(image.mime_type or "", "png"),
        **_settings(result.request.quality),
        "usage": _USAGE,
        # extensions, as in the synchronous answer
        "index": index,
        "seed": image.seed,
        "model": result.model,
        "provider": result.provider,
    }
    revised = image.metadata.get("revised_prompt")
    if revised:
        event["revised_prompt"] = revised
    if warnings:
        event["warnings"] = warnings
    return event


def partial(report: Progress, number: int) -> dict[str, Any]:
    """`image_generation.partial_image` for a preview a plugin reported (`number` counts the
    previews of that image from 0)."""
    from imagegate.results import sniff_mime

    data = report.partial_image or b""
    return {
        "type": PARTIAL,
        "b64_json": base64.b64encode(data).decode(),
        "created_at": int(time.time()),
        "size": "auto",
        "output_format": _FORMATS.get(sniff_mime(data) or "", "png"),
        "partial_image_index": number,
        **_settings(None),
        "index": report.index,
    }


def progress(report: Progress) -> dict[str, Any]:
    """`imagegate.progress`: what the provider is doing (queue position, steps, status)."""
    event: dict[str, Any] = {"type": PROGRESS, "provider": report.provider, "model": report.model}
    for name in _PROGRESS_FIELDS:
        value = getattr(report, name)
        if value is not None:
            event[name] = value
    event["elapsed"] = round(report.elapsed, 3)
    return event


def error(exc: ImagegateError) -> dict[str, Any]:
    """`error`: OpenAI's envelope, which the SDK raises mid-stream."""
    return {"type": "error", **exc.to_openai()}


def _size(image: GeneratedImage) -> str:
    if image.width and image.height:
        return f"{image.width}x{image.height}"
    return "auto"
