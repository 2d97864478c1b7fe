"""imagegate provider plugin for ModelScope API-Inference (`ms/...` models).

Generation is asynchronous on ModelScope: submit a task, then poll it (see `task`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import imagegate
from imagegate.request import Problem

from .models import MODELS, PROVIDER

if TYPE_CHECKING:
    from imagegate.context import GenerateContext
    from imagegate.models import Model
    from imagegate.request import ImageRequest
    from imagegate.results import GeneratedImage

__all__ = ["MODELS", "PROVIDER", "generate", "list_models", "validate"]

MAX_TEXT = 2000
"""ModelScope takes a prompt and a negative prompt under 2000 characters each."""


@imagegate.hookimpl
def list_models() -> list[Model]:
    return list(MODELS)


@imagegate.hookimpl
def validate(request: ImageRequest, model: Model) -> list[Problem]:
    """ModelScope's own limit beyond the capabilities (whose ranges the core enforces):
    texts under 2000 characters."""
    if model.provider.id != PROVIDER.id:
        return []
    problems = []
    for name in ("prompt", "negative_prompt"):
        text = getattr(request, name)
        if text and len(text) >= MAX_TEXT:
            problems.append(Problem(name, f"{name}: ModelScope takes under {MAX_TEXT} characters"))
    return problems


@imagegate.hookimpl
async def generate(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    from .task import generate_images

    return await generate_images(request, model, token, context)
