"""imagegate provider plugin for A4F (https://www.a4f.co), an OpenAI-compatible gateway.

pip install imagegate-a4f
export IMAGEGATE_A4F_TOKEN=ddc-a4f-...
imagegate generate "a cute cat" --model a4f/provider-4/imagen-4
"""

from __future__ import annotations

from imagegate import GenerateContext, GeneratedImage, ImageRequest, Model, hookimpl, openai_wire
from imagegate.errors import ImagegateError

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


_ONE_PER_CALL: set[tuple[str, str]] = set()
"""(base URL, model) pairs whose upstream refused more than one image per call."""


@hookimpl
async def generate(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext
) -> list[GeneratedImage]:
    """A4F calls for `request.n` images: as many per call as the model takes (the core
    already split `n` by `max_images_per_call`), more calls if A4F returns fewer, and one
    per call from then on if the upstream refuses several."""
    key = (context.base_url or "", model.id)
    images: list[GeneratedImage] = []
    while len(images) < request.n:  # each round adds at least one image or raises
        wanted = 1 if key in _ONE_PER_CALL else request.n - len(images)
        try:
            images += await _call(request, model, token, context, wanted)
        except ImagegateError as exc:
            if wanted == 1 or not wire.is_n_refusal(exc):
                raise
            _ONE_PER_CALL.add(key)
            context.warn(
                f"{model.full_id} made one image per call: A4F's upstream refused {wanted} "
                f"in one ({exc.message})"
            )
    return images[: request.n]


async def _call(
    request: ImageRequest, model: Model, token: str | None, context: GenerateContext, n: int
) -> list[GeneratedImage]:
    """One request for `n` images (repeated while A4F returns fewer), on OpenAI's wire."""
    return await openai_wire.generate_images(
        context,
        openai_wire.image_body(request, model, n),
        model,
        token,
        error_for=lambda response: wire.error_for(response, token),
    )
