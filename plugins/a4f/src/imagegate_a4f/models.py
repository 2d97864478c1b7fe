"""A4F and its models, straight from the spec's table (PROVIDERS.md, "A4F")."""

from __future__ import annotations

from imagegate import Capabilities, Model, Provider

__all__ = ["MODELS", "PROVIDER"]

PROVIDER = Provider(
    id="a4f",
    display_name="A4F",
    model_prefix="a4f",
    auth_prefix="a4f",
    auth="required",
    image_format="png",
    base_url="https://api.a4f.co/v1",
    key_url="https://www.a4f.co",
    docs_url="https://www.a4f.co/docs",
    distribution="imagegate-a4f",
    model_id_hint="A4F model ids carry the upstream's provider-N/ prefix, e.g. "
    "a4f/provider-4/imagen-4",
    quota_reset="00:00+00:00",  # the free tier is daily, per model (a4f.co/docs/limits)
    quota_scope="model",
)

# No negative prompt, steps, guidance or seed on any of them. A4F's own `n` is 1-10, but the
# upstream behind each model takes what it takes: Imagen makes up to 4 images a call (its
# `number_of_images`), FLUX and Z-Image one. The core fans `n` out beyond these; an upstream
# that refuses even those gets one image per call (the plugin learns it, see __init__).
MODELS: tuple[Model, ...] = tuple(
    Model(
        id=model_id,
        display_name=name,
        provider=PROVIDER,
        capabilities=Capabilities(
            negative_prompt=False,
            steps=None,
            guidance=None,
            seed=False,
            max_images_per_call=per_call,
        ),
        family=family,
    )
    for model_id, name, family, per_call in (
        ("provider-4/imagen-3.5", "Imagen 3.5 (provider-4)", None, 4),
        ("provider-4/imagen-4", "Imagen 4 (provider-4)", None, 4),
        ("provider-8/imagen-3", "Imagen 3 (provider-8)", None, 4),
        ("provider-4/flux-schnell", "FLUX Schnell (provider-4)", "flux-1-schnell", 1),
        ("provider-8/z-image", "Z-Image (provider-8)", "z-image-turbo", 1),
    )
)
