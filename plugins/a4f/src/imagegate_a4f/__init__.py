"""imagegate provider plugin for A4F (https://www.a4f.co), an OpenAI-compatible gateway.

pip install imagegate-a4f
export IMAGEGATE_A4F_TOKEN=ddc-a4f-...
imagegate generate "a cute cat" --model a4f/provider-4/imagen-4
"""

from __future__ import annotations

from imagegate import GenerateContext, GeneratedImage, ImageRequest, Model, hookimpl
from imagegate.errors import ImagegateError

from . import wire
from .models import MODELS, PROVIDER

__all__ = ["MODELS", "PROVIDER", "generate", "list_models"]


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
