"""A request fitted to one member of a failover chain, so that each keeps its meaning.

Asking a family (`any/z-image-turbo`) for a size, steps or guidance its members take in
different ranges is not an error: each member gets the nearest value it takes, with a warning
saying what changed. What a member cannot take at all (a negative prompt, a seed) is not
fitted but dropped by `imagegate.resolve`; `dropped` names those fields, so the failover can
prefer a member that honours everything.
"""

from __future__ import annotations

import math

from .models import Capabilities, Model
from .request import ImageRequest, parse_size

__all__ = ["DROPPABLE", "dropped", "fit_request"]

DROPPABLE: dict[str, str] = {
    "negative_prompt": "the negative prompt",
    "steps": "steps",
    "guidance_scale": "the guidance scale",
    "seed": "the seed",
    "style": "the style",
    "background": "the background",
    "moderation": "the moderation level",
    "output_format": "the output format",
    "output_compression": "the output compression",
}
"""The fields a model may not take at all, as a warning names them."""


def fit_request(request: ImageRequest, model: Model) -> tuple[ImageRequest, list[str]]:
    """`request` with its size, steps and guidance moved into `model`'s ranges, and a
    warning for every value that had to change. Values the caller did not give are left to
    the model's defaults."""
    caps = model.capabilities
    changes: dict[str, object] = {}
    warnings: list[str] = []

    def changed(field: str, asked: object, made: object, rule: str) -> None:
        warnings.append(f"{field} {asked} made as {made} for {model.full_id}: it takes {rule}")

    size = _fit_size(request, caps)
    if size is not None:
        asked, made, update = size
        changes.update(update)
        rule = (
            f"aspect ratios {', '.join(caps.aspect_ratios)}"
            if caps.aspect_ratios
            else f"{caps.min_side}-{caps.max_side} px per side"
            + (f", multiples of {caps.size_step}" if caps.size_step > 1 else "")
        )
        changed("size", asked, made, rule)
    if request.steps is not None and caps.steps is not None:
        steps = min(caps.steps.max, max(caps.steps.min, request.steps))
        if steps != request.steps:
            changes["steps"] = steps
            changed("steps", request.steps, steps, f"{caps.steps.min}-{caps.steps.max}")
    if request.guidance_scale is not None and caps.guidance is not None:
        low, high = caps.guidance.min, caps.guidance.max
        guidance = min(high, max(low, request.guidance_scale))
        if guidance != request.guidance_scale:
            changes["guidance_scale"] = guidance
            changed(
                "guidance_scale",
                f"{request.guidance_scale:g}",
                f"{guidance:g}",
                f"{low:g}-{high:g}",
            )
    return (request.model_copy(update=changes) if changes else request), warnings


def dropped(request: ImageRequest, resolved: ImageRequest) -> list[str]:
    """The fields the caller gave that resolution dropped (the model cannot take them)."""
    return [
        field
        for field in DROPPABLE
        if getattr(request, field) is not None and getattr(resolved, field) is None
    ]


def _fit_size(
    request: ImageRequest, caps: Capabilities
) -> tuple[str, str, dict[str, object]] | None:
    """(asked, made, fields to update) when the caller's size must change for `caps`."""
    if request.size:
        width, height, ratio = parse_size(request.size)
    elif request.aspect_ratio:
        width, height, ratio = parse_size(request.aspect_ratio)
    elif request.width or request.height:
        default_w, default_h, _ = parse_size(caps.default_size)
        width, height, ratio = request.width or default_w, request.height or default_h, None
    else:
        return None
    asked = ratio or f"{width}x{height}"
    if caps.aspect_ratios:
        if ratio is None or ratio in caps.aspect_ratios:
            return None  # a pixel size is the plugin's to map to one of its ratios
        nearest = min(caps.aspect_ratios, key=lambda r: abs(_log_ratio(r) - _log_ratio(ratio)))
        return asked, nearest, {"size": nearest, "aspect_ratio": nearest}
    made = _fit_pixels(width, height, caps)
    if made == (width, height):
        return None
    text = f"{made[0]}x{made[1]}"
    return asked, text, {"size": text, "width": None, "height": None, "aspect_ratio": None}


def _fit_pixels(width: int, height: int, caps: Capabilities) -> tuple[int, int]:
    """The nearest size `caps` takes, keeping the shape when scaling brings it in range."""
    scale = 1.0
    if max(width, height) > caps.max_side:
        scale = caps.max_side / max(width, height)
    if min(width, height) * scale < caps.min_side:
        scale = caps.min_side / min(width, height)
    step = max(1, caps.size_step)
    low = math.ceil(caps.min_side / step) * step
    high = max(low, caps.max_side // step * step)

    def side(value: float) -> int:
        return min(high, max(low, round(value / step) * step))

    return side(width * scale), side(height * scale)


def _log_ratio(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return math.log(float(width) / float(height))
