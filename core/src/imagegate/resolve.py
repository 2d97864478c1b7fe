"""Fill a request in from the model's capabilities, and say what the model cannot take.

A value the model does not support is dropped with a warning carried in the result, never
silently, or, where the provider rejects such values (`Provider.unsupported`, overridden
by the request's `drop_unsupported`), refused with an error naming what the model takes.
A value out of range is left for validation to reject. A size the caller typed in pixels is
theirs: one off the model's `size_step` (or its listed `sizes`) is rejected by validation.
A size the core chose (from an aspect ratio or the default) is snapped to the step, or to
the listed size nearest in shape, with a warning when that changed it.
"""

from __future__ import annotations

import math
import random

from .errors import InvalidRequest
from .models import OPTION_FIELDS, Model
from .request import MAX_SEED, ImageRequest, parse_size
from .validation import size_rule, snap_side

__all__ = ["describe_takes", "resolve_request"]

_HD_STEPS = 30
_HD = {"hd", "high"}
_PLAIN_QUALITY = {"standard", "auto"}
"""OpenAI's other qualities that mean "the model's default" here; any other value does
nothing and the caller is told."""


def resolve_request(request: ImageRequest, model: Model) -> tuple[ImageRequest, list[str]]:
    """The request with every value the provider needs set, and the warnings it produced."""
    caps = model.capabilities
    warnings: list[str] = []
    unsupported: list[str] = []
    changes: dict[str, object] = {"model": model.full_id}

    def drop(field: str, why: str) -> None:
        changes[field] = None
        unsupported.append(field)
        warnings.append(f"{field} ignored: {model.full_id} {why}")

    width, height, ratio = _dimensions(request, caps.default_size)
    if caps.sizes and _chosen_by_core(request):
        made = _nearest_listed(width, height, caps.sizes)
        if made != (width, height) and ratio is not None:
            warnings.append(
                f"size {ratio} made as {made[0]}x{made[1]}: {model.full_id} makes only "
                f"{', '.join(caps.sizes)}"
            )
        width, height = made
    elif _chosen_by_core(request) and caps.size_step > 1 and not caps.aspect_ratios:
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
        wants_hd = (request.quality or "").lower() in _HD and "quality" not in caps.options
        changes["steps"] = min(_HD_STEPS, caps.steps.max) if wants_hd else caps.steps.default
    quality = (request.quality or "").strip().lower()
    if not quality or "quality" in caps.options:
        pass  # passed to the model as it is (GPT Image's low/medium/high/auto)
    elif caps.steps is None and model.provider.unsupported == "reject":
        drop("quality", "has no quality setting")
    elif quality not in _HD | _PLAIN_QUALITY:
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

    for name in OPTION_FIELDS:
        if name == "quality" or getattr(request, name) is None or name in caps.options:
            continue  # quality: above (elsewhere `hd`/`high` means more steps)
        drop(name, f"has no {name} setting")

    if unsupported and not _drops(request, model):
        raise InvalidRequest(
            f"{model.full_id} does not take {', '.join(unsupported)}; it takes: "
            f"{describe_takes(model)}. Leave them out, or send drop_unsupported: true to "
            "have them dropped with a warning",
            param=unsupported[0],
            hint="--drop-unsupported in the CLI, drop_unsupported=True in Python",
        )
    return request.model_copy(update=changes), warnings


def describe_takes(model: Model) -> str:
    """Everything a request to `model` may carry, with the values it accepts."""
    caps = model.capabilities
    size = f"size ({size_rule(caps).removeprefix('only ')})"
    parts = ["prompt", size, "n"]
    if caps.negative_prompt:
        parts.append("negative_prompt")
    if caps.steps:
        parts.append(f"steps {caps.steps}")
    if caps.guidance:
        parts.append(f"guidance_scale {caps.guidance}")
    if caps.seed:
        parts.append("seed")
    for name, allowed in caps.options.items():
        parts.append(f"{name} ({', '.join(allowed)})" if allowed else name)
    return ", ".join(parts)


def _drops(request: ImageRequest, model: Model) -> bool:
    if request.drop_unsupported is not None:
        return request.drop_unsupported
    return model.provider.unsupported == "drop"


def _chosen_by_core(request: ImageRequest) -> bool:
    """True when the pixel size comes from a ratio or the default, not typed by the caller."""
    if request.size:
        return parse_size(request.size)[2] is not None
    return request.aspect_ratio is not None or (request.width is None and request.height is None)


def _nearest_listed(width: int, height: int, sizes: tuple[str, ...]) -> tuple[int, int]:
    """The listed size closest in shape to `width`x`height`, then in area."""
    listed = [parse_size(s)[:2] for s in sizes]

    def distance(size: tuple[int, int]) -> tuple[float, float]:
        shape = abs(math.log(size[0] / size[1]) - math.log(width / height))
        return round(shape, 3), abs(math.log(size[0] * size[1] / (width * height)))

    return min(listed, key=distance)


def _dimensions(request: ImageRequest, default_size: str) -> tuple[int, int, str | None]:
    if request.size:
        return parse_size(request.size)
    if request.aspect_ratio:
        return parse_size(request.aspect_ratio)
    default_w, default_h, _ = parse_size(default_size)
    return request.width or default_w, request.height or default_h, None
