"""Fill a request in from the model's capabilities, and say what the model cannot take.

A value the model does not support is dropped with a warning carried in the result, never
silently; a value out of range is left for validation to reject. A size the caller typed in
pixels is theirs: one off the model's `size_step` is rejected by validation, naming the
nearest valid sizes. A size the core chose (from an aspect ratio or the default) is snapped
to the step, with a warning when that changed it.
"""

from __future__ import annotations

import random

from .models import Model
from .request import MAX_SEED, ImageRequest, parse_size
from .validation import snap_side

__all__ = ["resolve_request"]

_HD_STEPS = 30
_HD = {"hd", "high"}
_PLAIN_QUALITY = {"standard", "auto"}
"""OpenAI's other qualities that mean "the model's default" here; any other value does
nothing and the caller is told."""


def resolve_request(request: ImageRequest, model: Model) -> tuple[ImageRequest, list[str]]:
    """The request with every value the provider needs set, and the warnings it produced."""
    caps = model.capabilities
    warnings: list[str] = []
    changes: dict[str, object] = {"model": model.full_id}

    def drop(field: str, why: str) -> None:
        changes[field] = None
        warnings.append(f"{field} ignored: {model.full_id} {why}")

    width, height, ratio = _dimensions(request, caps.default_size)
    if _chosen_by_core(request) and caps.size_step > 1 and not caps.aspect_ratios:
        snapped = snap_side(width, caps), snap_side(height, caps)
        if snapped != (width, height):
            asked = ratio or f"{width}x{height}"
            warnings.append(
                f"size {asked} made as {snapped[0]}x{snapped[1]}: {model.full_id} takes "
                f"multiples of {caps.size_step}"
            )
            width, height = snapped
    changes.update(width=width, height=height, aspect_ratio=ratio)

    if caps.steps is None:
        if request.steps is not None:
            drop("steps", "has no steps setting")
    elif request.steps is None:
        wants_hd = (request.quality or "").lower() in _HD
        changes["steps"] = min(_HD_STEPS, caps.steps.max) if wants_hd else caps.steps.default
    quality = (request.quality or "").strip().lower()
    if quality and quality not in _HD | _PLAIN_QUALITY:
        warnings.append(
            f"quality {request.quality!r} ignored: the values that work are hd or high (more "
            "steps when none are given), standard and auto (the model's default)"
        )
    elif quality in _HD and (request.steps is not None or caps.steps is None):
        why = "steps were given" if caps.steps else f"{model.full_id} has no steps setting"
        warnings.append(f"quality {request.quality!r} ignored: {why}")

    if caps.guidance is None:
        if request.guidance_scale is not None:
            drop("guidance_scale", "has no guidance setting")
    elif request.guidance_scale is None:
        changes["guidance_scale"] = caps.guidance.default

    if not caps.negative_prompt and request.negative_prompt:
        drop("negative_prompt", "does not support a negative prompt")

    if not caps.seed:
        if request.seed is not None:
            drop("seed", "does not accept a seed")
    elif request.seed is None:
        changes["seed"] = random.randint(0, MAX_SEED)

    if request.style:
        drop("style", "has no style setting")
    return request.model_copy(update=changes), warnings


def _chosen_by_core(request: ImageRequest) -> bool:
    """True when the pixel size comes from a ratio or the default, not typed by the caller."""
    if request.size:
        return parse_size(request.size)[2] is not None
    return request.aspect_ratio is not None or (request.width is None and request.height is None)


def _dimensions(request: ImageRequest, default_size: str) -> tuple[int, int, str | None]:
    if request.size:
        return parse_size(request.size)
    if request.aspect_ratio:
        return parse_size(request.aspect_ratio)
    default_w, default_h, _ = parse_size(default_size)
    return request.width or default_w, request.height or default_h, None
