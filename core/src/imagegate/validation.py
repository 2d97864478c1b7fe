"""The core's generic checks, as a built-in plugin on the `validate` hook.

Ranges come from the model's capabilities, so a plugin declares limits and never checks them.
Registered `trylast` so policy plugins speak first.
"""

from __future__ import annotations

from .hookspecs import hookimpl
from .models import Model
from .request import ImageRequest, Problem


@hookimpl(trylast=True)
def validate(request: ImageRequest, model: Model) -> list[Problem]:
    caps = model.capabilities
    problems: list[Problem] = []
    for side, value in (("width", request.width), ("height", request.height)):
        if value is not None and not caps.min_side <= value <= caps.max_side:
            problems.append(
                Problem(
                    "size",
                    f"size: {side} {value} is outside {caps.min_side}-{caps.max_side} "
                    f"for {model.full_id}",
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
