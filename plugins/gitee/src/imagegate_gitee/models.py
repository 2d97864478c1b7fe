"""Gitee AI and its seven models, straight from the spec's table (data only)."""

from __future__ import annotations

from imagegate import Capabilities, FloatRange, IntRange, Model, Provider

__all__ = ["MODELS", "PROVIDER"]

PROVIDER = Provider(
    id="gitee",
    display_name="Gitee AI",
    model_prefix="gitee",
    auth_prefix="gitee",
    auth="required",
    image_format="png",
    base_url="https://ai.gitee.com/v1",
    key_url="https://ai.gitee.com",
    distribution="imagegate-gitee",
    quota_reset="00:00+08:00",  # daily quotas end at midnight Asia/Shanghai
)


def _model(
    id: str,
    name: str,
    *,
    negative: bool,
    steps: tuple[int, int, int],
    guidance: tuple[float, float, float] | None = None,
    aliases: tuple[str, ...] = (),
    family: str | None = None,
    size_step: int = 16,
) -> Model:
    return Model(
        id=id,
        display_name=name,
        provider=PROVIDER,
        aliases=aliases,
        family=family,
        capabilities=Capabilities(
            negative_prompt=negative,
            steps=IntRange(min=steps[0], max=steps[1], default=steps[2]),
            guidance=None
            if guidance is None
            else FloatRange(min=guidance[0], max=guidance[1], default=guidance[2]),
            size_step=size_step,
        ),
    )


# Sizes: 256-2048 a side (the reference client's check). The step is the open model's own:
# diffusers' Z-Image pipeline raises unless both sides are multiples of 16, the FLUX and
# Qwen-Image pipelines make the multiple of 16 below, GLM-Image works in 32-pixel tokens.
MODELS: tuple[Model, ...] = (
    _model(
        "z-image-turbo", "Z-Image Turbo", negative=True, steps=(1, 20, 9), family="z-image-turbo"
    ),
    _model(
        "GLM-Image",
        "GLM Image",
        negative=True,
        steps=(1, 50, 30),
        guidance=(0, 20, 1.5),
        size_step=32,
    ),
    _model("Qwen-Image", "Qwen Image", negative=True, steps=(4, 50, 20), aliases=("qwen-image",)),
    _model(
        "Qwen-Image-2512",
        "Qwen Image 2512",
        negative=True,
        steps=(1, 50, 4),
        guidance=(0, 20, 1),
        family="qwen-image-2512",
    ),
    _model(
        "flux-1-schnell",
        "FLUX.1 Schnell",
        negative=False,
        steps=(1, 50, 8),
        guidance=(0, 50, 7.5),
        family="flux-1-schnell",
    ),
    _model(
        "FLUX_1-Krea-dev",
        "FLUX.1 Krea",
        negative=False,
        steps=(1, 50, 20),
        guidance=(0, 20, 4.5),
        aliases=("flux-1-krea-dev",),
        family="flux-1-krea-dev",
    ),
    _model(
        "FLUX.1-dev",
        "FLUX.1",
        negative=False,
        steps=(1, 50, 20),
        guidance=(0, 20, 4.5),
        aliases=("flux-1-dev",),
        family="flux-1-dev",
    ),
)
