"""imagegate provider plugin for A4F (https://www.a4f.co), an OpenAI-compatible gateway.

pip install imagegate-a4f
export IMAGEGATE_A4F_TOKEN=ddc-a4f-...
imagegate generate "a cute cat" --model a4f/provider-4/imagen-4
"""

from __future__ import annotations

from imagegate import GenerateContext, GeneratedImage, ImageRequest, Model, hookimpl

from . import wire
from .chat import CHAT_MODELS, chat, list_chat_models
from .models import MODELS, PROVIDER

__all__ = [
    "CHAT_MODELS",
    "MODELS",
    "PROVIDER",
    "chat",
    "generate",
    "list_chat_models",
    "list_models",
]


@hookimpl
def list_models() -> list[Model]:
    return list(MODELS)


@hookimpl
async def generate(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    """One A4F call for `request.n` images; more calls only if A4F returns fewer."""
    images: list[GeneratedImage] = []
    while len(images) < request.n:  # each round adds at least one image or raises
        images += await _call(request, model, token, context, request.n - len(images))
    return images[: request.n]


async def _call(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext, n: int
) -> list[GeneratedImage]:
    base_url = (context.base_url or PROVIDER.base_url or "").rstrip("/")
    context.report("submitted", message=f"A4F {model.id}, {n} image(s)")
    response = await context.client.post(
        f"{base_url}/images/generations",
        json=wire.build_body(request, model, n),
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        timeout=context.remaining(),
    )
    if response.status_code != 200:
        raise wire.error_for(response, token)
    images = wire.parse_images(response, token)
    context.report("done")
    return images
