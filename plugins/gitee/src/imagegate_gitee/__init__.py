"""imagegate provider plugin for Gitee AI (模力方舟): seven text-to-image models.

    pip install imagegate-gitee
    export IMAGEGATE_GITEE_TOKEN=...      # from https://ai.gitee.com
    imagegate generate "a cute cat" -m gitee/z-image-turbo

The catalog is in `models.py`, the wire format in `wire.py`, the choice between the
synchronous endpoint and the task API in `generation.py`, the task API in `tasks.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import imagegate

from .models import MODELS, PROVIDER

if TYPE_CHECKING:
    from imagegate import GenerateContext, GeneratedImage, ImageRequest, Model

__all__ = ["MODELS", "PROVIDER", "generate", "list_models"]


@imagegate.hookimpl
def list_models() -> list[Model]:
    return list(MODELS)


@imagegate.hookimpl
async def generate(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    from .generation import generate_images

    return await generate_images(request, model, token, context)
