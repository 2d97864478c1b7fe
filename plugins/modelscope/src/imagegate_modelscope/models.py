"""ModelScope and its five models, straight from PROVIDERS.md (data only).

Steps are the spec's. Side limits are the per-family `size` ranges of ModelScope's parameter
table (protocols.md section 3): Z-Image-Turbo 512-2048, Qwen-Image 64-1664, FLUX 64-1024,
so a size the service would refuse fails before any call; the step (16) is the pipelines'
own (diffusers' Z-Image pipeline raises off it, the FLUX and Qwen ones make the multiple
below). Guidance is what both the spec and the service take: the service's `guidance` is
1.5-20, the spec's FLUX.2 range 1-10, so FLUX.2 advertises and enforces 1.5-10 and the
FLUX.1 models 1.5-20.
"""

from __future__ import annotations

from imagegate.models import Capabilities, FloatRange, IntRange, Model, Provider

__all__ = ["MODELS", "PROVIDER"]

PROVIDER = Provider(
    id="modelscope",
    display_name="ModelScope",
    model_prefix="ms",
    auth_prefix="ms",
    auth="required",
    image_format="jpeg",  # the official sample saves .jpg; each image is labelled by its bytes
    base_url="https://api-inference.modelscope.cn/v1",
    key_url="https://modelscope.cn",
    docs_url="https://modelscope.cn/docs/model-service/API-Inference/intro",
    distribution="imagegate-modelscope",
    quota_reset="00:00+08:00",  # daily limits end at midnight Asia/Shanghai
    quota_scope="model",  # usually the per-model daily limit; the answer's headers refine it
)

_FLUX_STEPS = IntRange(min=1, max=50, default=24)
SERVICE_MIN_GUIDANCE = 1.5
"""The service's `guidance` starts at 1.5 (its parameter table), above the spec's 1."""
STEP = 16


def _flux(model_id: str, name: str, alias: str, guidance_max: float, family: str) -> Model:
    return Model(
        id=model_id,
        display_name=name,
        provider=PROVIDER,
        aliases=(alias,),
        family=family,
        capabilities=Capabilities(
            negative_prompt=True,
            steps=_FLUX_STEPS,
            guidance=FloatRange(min=SERVICE_MIN_GUIDANCE, max=guidance_max, default=3.5),
            min_side=64,
            max_side=1024,
            size_step=STEP,
        ),
    )


MODELS: tuple[Model, ...] = (
    Model(
        id="Tongyi-MAI/Z-Image-Turbo",
        display_name="Z-Image Turbo",
        provider=PROVIDER,
        aliases=("z-image-turbo",),
        family="z-image-turbo",
        capabilities=Capabilities(
            negative_prompt=True,
            steps=IntRange(min=1, max=20, default=9),
            min_side=512,
            max_side=2048,
            size_step=STEP,
        ),
    ),
    Model(
        id="Qwen/Qwen-Image-2512",
        display_name="Qwen Image 2512",
        provider=PROVIDER,
        aliases=("qwen-image-2512",),
        family="qwen-image-2512",
        capabilities=Capabilities(
            negative_prompt=True,
            steps=IntRange(min=1, max=50, default=4),
            min_side=64,
            max_side=1664,
            size_step=STEP,
        ),
    ),
    _flux("black-forest-labs/FLUX.2-dev", "FLUX.2", "flux-2", 10, "flux-2-dev"),
    _flux(
        "black-forest-labs/FLUX.1-Krea-dev", "FLUX.1 Krea", "flux-1-krea-dev", 20, "flux-1-krea-dev"
    ),
    _flux("MusePublic/489_ckpt_FLUX_1", "FLUX.1", "flux-1", 20, "flux-1-dev"),
)
