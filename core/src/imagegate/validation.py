"""The core's generic checks, as a built-in plugin on the `validate` hook.

Ranges come from the model's capabilities, so a plugin declares limits and never checks them.
Registered `trylast` so policy plugins speak first.
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .models import Capabilities, Model
from .request import ImageRequest, Problem

__all__ = ["nearest_sizes", "size_rule", "snap_side", "validate"]


@hookimpl(trylast=True)
def validate(request: ImageRequest, model: Model) -> list[Problem]:
    caps = model.capabilities
    problems: list[Problem] = []
    for side, value in (("width", request.width), ("height", request.height)):
        if caps.sizes or value is None:
            continue  # a model of listed sizes names them (below)
        if not caps.min_side <= value <= caps.max_side:
            problems.append(
                Problem(
                    "size",
                    f"size: {side} {value} is outside {caps.min_side}-{caps.max_side} "
                    f"for {model.full_id}",
                )
            )
    if not problems and (step_problem := _off_step(request, model)) is not None:
        problems.append(step_problem)
    if not problems:
        problems += _size_rules(request, model)
    for name, allowed in caps.options.items():
        value = getattr(request, name, None)
        if value is not None and allowed and str(value) not in allowed:
            problems.append(
                Problem(
                    name,
                    f"{name}: {value!r} is not one {model.full_id} takes; use one of "
                    f"{', '.join(allowed)}",
                )
            )
    steps = request.steps
    if caps.steps and steps is not None and not caps.steps.min <= steps <= caps.steps.max:
        problems.append(
            Problem(
                "steps",
                f"steps: {request.steps} is outside {caps.steps.min}-{caps.steps.max} "
                f"for {model.full_id} (default {caps.steps.default})",
            )
        )
    if caps.guidance and request.guidance_scale is not None:
        low, high = caps.guidance.min, caps.guidance.max
        if not low <= request.guidance_scale <= high:
            problems.append(
                Problem(
                    "guidance_scale",
                    f"guidance_scale: {request.guidance_scale:g} is outside {low:g}-{high:g} "
                    f"for {model.full_id} (default {caps.guidance.default:g})",
                )
            )
    return problems


def size_rule(caps: Capabilities) -> str:
    """The model's pixel sizes in words: `512-2048 px per side, multiples of 16`."""
    if caps.aspect_ratios:
        return f"aspect ratios {', '.join(caps.aspect_ratios)}"
    if caps.sizes:
        return f"only {', '.join(caps.sizes)}"
    rules = [f"{caps.min_side}-{caps.max_side} px per side"]
    if caps.size_step > 1:
        rules.append(f"multiples of {caps.size_step}")
    if caps.max_ratio:
        rules.append(f"at most {caps.max_ratio:g}:1")
    if caps.min_pixels or caps.max_pixels:
        rules.append(f"{caps.min_pixels or 1}-{caps.max_pixels or 'any'} pixels")
    return ", ".join(rules)


def snap_side(value: int, caps: Capabilities) -> int:
    """The multiple of `size_step` nearest to `value` (the range is validation's to check)."""
    step = max(1, caps.size_step)
    return max(step, round(value / step) * step)


def nearest_sizes(width: int, height: int, caps: Capabilities) -> list[str]:
    """Valid `WxH` sizes next to an off-step one: both sides rounded down, then up."""
    step = max(1, caps.size_step)
    low, high = _bounds(caps)

    def down(side: int) -> int:
        return min(high, max(low, side // step * step))

    def up(side: int) -> int:
        return min(high, max(low, -(-side // step) * step))

    sizes = [f"{down(width)}x{down(height)}", f"{up(width)}x{up(height)}"]
    return list(dict.fromkeys(sizes))


def _off_step(request: ImageRequest, model: Model) -> Problem | None:
    caps = model.capabilities
    step = caps.size_step
    width, height = request.width, request.height
    if step <= 1 or caps.aspect_ratios or width is None or height is None:
        return None
    if width % step == 0 and height % step == 0:
        return None
    sizes = " or ".join(nearest_sizes(width, height, caps))
    return Problem(
        "size",
        f"size: {width}x{height} cannot be made by {model.full_id}: width and height must "
        f"be multiples of {step} ({size_rule(caps)}); nearest valid sizes: {sizes}",
    )


def _bounds(caps: Capabilities) -> tuple[int, int]:
    step = max(1, caps.size_step)
    return -(-caps.min_side // step) * step, caps.max_side // step * step


def _size_rules(request: ImageRequest, model: Model) -> list[Problem]:
    """A listed-sizes model's list; a shape or area limit (OpenAI's GPT Image models)."""
    caps = model.capabilities
    width, height = request.width, request.height
    if width is None or height is None:
        return []
    size = f"{width}x{height}"
    if caps.sizes and size not in caps.sizes:
        return [
            Problem(
                "size", f"size: {model.full_id} makes only {', '.join(caps.sizes)} (got {size})"
            )
        ]
    if caps.max_ratio and max(width, height) > caps.max_ratio * min(width, height):
        return [
            Problem(
                "size",
                f"size: {size} is too narrow for {model.full_id}: the long side may be at most "
                f"{caps.max_ratio:g} times the short one",
            )
        ]
    pixels = width * height
    low, high = caps.min_pixels, caps.max_pixels
    if (low and pixels < low) or (high and pixels > high):
        return [
            Problem(
                "size",
                f"size: {size} is {pixels} pixels; {model.full_id} makes "
                f"{low or 1}-{high or 'any'} pixels per image",
            )
        ]
    return []
