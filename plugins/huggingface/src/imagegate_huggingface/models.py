"""HuggingFace and its four Spaces, straight from the spec's tables (PROVIDERS.md, protocols 4.3).

Data only: the `Provider`, each `Model` with the Space's own limits as its capabilities, and
for each model the Space it runs on (its host subdomain, `owner/Name`, api_name, fallbacks).
"""

from __future__ import annotations

from dataclasses import dataclass

from imagegate import Capabilities, IntRange, Model, Provider

__all__ = ["MODELS", "PROVIDER", "QWEN_RATIOS", "SPACES", "Space"]

PROVIDER = Provider(
    id="huggingface",
    display_name="HuggingFace",
    model_prefix="hf",
    auth_prefix="hf",
    auth="optional",
    image_format="webp",
    base_url=None,  # one host per Space (<subdomain>.hf.space); an override is a root for all
    key_url="https://huggingface.co/settings/tokens",
    docs_url="https://huggingface.co/docs/hub/spaces",
    extra_token_env=("HF_TOKEN",),
    distribution="imagegate-huggingface",
    quota_reset=None,  # ZeroGPU quotas refill over minutes; the answer says how long
)

QWEN_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
"""The aspect ratios qwen-image-fast offers (its only size control)."""


@dataclass(frozen=True)
class Space:
    """Where a model runs: `subdomain` is the Space host's first label (`<it>.hf.space`)."""

    name: str
    """`owner/Name` as on huggingface.co, for messages."""
    subdomain: str
    api_name: str
    fallbacks: tuple[Space, ...] = ()


SPACES: dict[str, Space] = {
    "z-image-turbo": Space(
        "luca115/z-image-turbo",
        "luca115-z-image-turbo",
        "/generate_image",
        fallbacks=(
            Space("mrfakename/Z-Image-Turbo", "mrfakename-z-image-turbo", "/generate_image"),
        ),
    ),
    "qwen-image-fast": Space(
        "mcp-tools/Qwen-Image-Fast", "mcp-tools-qwen-image-fast", "/generate_image"
    ),
    "ovis-image": Space("AIDC-AI/Ovis-Image-7B", "aidc-ai-ovis-image-7b", "/generate"),
    "flux-1-schnell": Space(
        "black-forest-labs/FLUX.1-schnell", "black-forest-labs-flux-1-schnell", "/infer"
    ),
}


def _model(
    model_id: str, name: str, steps: IntRange, family: str | None = None, **caps: object
) -> Model:
    space = SPACES[model_id]
    return Model(
        id=model_id,
        display_name=name,
        provider=PROVIDER,
        family=family,
        capabilities=Capabilities(negative_prompt=False, guidance=None, steps=steps, **caps),
        description=f"Space {space.name}",
    )


# Sizes: the Spaces' sliders (Z-Image 512-2048 in steps of 64, FLUX 256-2048 in steps of 32)
# bound the sides, and Gradio enforces their ranges but not their steps. What the pipeline
# makes is the real rule: diffusers' ZImagePipeline raises unless both sides are multiples of
# 16, and the FLUX and Ovis pipelines silently make the multiple of 16 below. So 16 is the
# step of all three: any multiple of 16 is made exactly as asked.
MODELS: tuple[Model, ...] = (
    _model(
        "z-image-turbo",
        "Z-Image Turbo",
        IntRange(min=1, max=20, default=9),
        family="z-image-turbo",
        min_side=512,
        max_side=2048,
        size_step=16,
    ),
    _model(
        "qwen-image-fast",
        "Qwen Image Fast",
        IntRange(min=4, max=28, default=8),
        aspect_ratios=QWEN_RATIOS,
    ),
    _model("ovis-image", "Ovis Image", IntRange(min=1, max=50, default=24), size_step=16),
    _model(
        "flux-1-schnell",
        "FLUX.1 Schnell",
        IntRange(min=1, max=50, default=8),
        family="flux-1-schnell",
        min_side=256,
        max_side=2048,
        size_step=16,
    ),
)
