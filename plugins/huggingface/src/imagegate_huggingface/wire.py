"""Each Space's inputs (in its own order) and outputs (in its own form): protocols.md 4.3.

Seeds are always sent explicitly with the Space's randomize option off, so the image is
reproducible and the reported seed is the one asked for. Guidance is not a knob on any of
these models; where a signature needs it, the Space's own fixed value is sent.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urljoin

from imagegate import GeneratedImage, ImageRequest
from imagegate.errors import ProviderError

from .models import QWEN_RATIOS, Space

__all__ = ["QWEN_SIZES", "build_inputs", "parse_result", "qwen_ratio", "space_url"]

QWEN_GUIDANCE = 1.0
"""qwen-image-fast's default guidance_scale (its signature requires one)."""
OVIS_GUIDANCE = 4.0
"""ovis-image's default guidance_scale."""

# What qwen-image-fast makes for each ratio: Qwen-Image's usual presets (UNCERTAIN,
# protocols.md 4.3 (b)); used only to report the size, never sent.
QWEN_SIZES = {
    "1:1": (1328, 1328),
    "16:9": (1664, 928),
    "9:16": (928, 1664),
    "4:3": (1472, 1104),
    "3:4": (1104, 1472),
    "3:2": (1584, 1056),
    "2:3": (1056, 1584),
}

_SEED_TEXT = re.compile(r"(\d+)\s*$")


def space_url(base_url: str | None, space: Space) -> str:
    """`<override root>/<subdomain>/`, or the real `https://<subdomain>.hf.space/`."""
    if base_url:
        return f"{base_url.rstrip('/')}/{space.subdomain}/"
    return f"https://{space.subdomain}.hf.space/"


def qwen_ratio(request: ImageRequest) -> tuple[str, bool]:
    """The ratio to send, and whether a pixel size had to be mapped to it."""
    if request.aspect_ratio in QWEN_RATIOS:
        return request.aspect_ratio, False
    width, height = request.width or 1024, request.height or 1024

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(math.log(width / height) - math.log(w / h))

    return min(QWEN_RATIOS, key=distance), True


def build_inputs(model_id: str, request: ImageRequest, ratio: str | None = None) -> list[Any]:
    """The positional inputs of the model's Space, in the Space's order."""
    seed = int(request.seed or 0)
    steps = int(request.steps) if request.steps is not None else None
    width, height = request.width, request.height
    if model_id == "z-image-turbo":
        return [request.prompt, height, width, steps, seed, False]
    if model_id == "qwen-image-fast":
        return [request.prompt, seed, False, ratio, QWEN_GUIDANCE, steps]
    if model_id == "ovis-image":
        return [request.prompt, height, width, seed, steps, OVIS_GUIDANCE]
    if model_id == "flux-1-schnell":
        return [request.prompt, seed, False, width, height, steps]
    raise ProviderError(f"HuggingFace: no Space is known for {model_id!r}", provider="huggingface")


def parse_result(
    result: Any, model_id: str, request: ImageRequest, space: Space, url: str
) -> GeneratedImage:
    """The image (its URL on the Space) and the seed the Space reports, in its form."""
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    image_url, mime = _file_url(outputs[0] if outputs else None, space, url)
    seed = _seed(outputs[1] if len(outputs) > 1 else None, request.seed)
    width, height = request.width, request.height
    if model_id == "qwen-image-fast" and request.aspect_ratio in QWEN_SIZES:
        width, height = QWEN_SIZES[request.aspect_ratio]
    return GeneratedImage(
        url=image_url,
        mime_type=mime,
        seed=seed,
        width=width,
        height=height,
        metadata={"space": space.name, "space_url": url, "api_name": space.api_name},
    )


def _gallery_first(output: Any) -> Any:
    """A gallery's first image: `[{"image": FileData, "caption"}, ...]`, `[[path, caption]]`
    or `[FileData, ...]` (Gradio versions differ); anything else as it is."""
    while isinstance(output, (list, tuple)) and output:
        output = output[0]
    if isinstance(output, dict) and isinstance(output.get("image"), (dict, str)):
        return output["image"]
    return output


def _file_url(output: Any, space: Space, url: str) -> tuple[str, str]:
    output = _gallery_first(output)
    if isinstance(output, dict):
        link = output.get("url") or (
            f"gradio_api/file={output['path']}" if output.get("path") else None
        )
        name = output.get("orig_name") or output.get("path") or ""
        mime = output.get("mime_type") or _mime_from_name(str(name))
    elif isinstance(output, str) and output:
        link, mime = output, _mime_from_name(output)
    else:
        raise ProviderError(
            f"HuggingFace Space {space.name} answered without an image "
            f"(got {type(output).__name__}); the Space may have changed its outputs",
            provider="huggingface",
        )
    if not link.startswith(("http://", "https://")):
        link = urljoin(url, link.lstrip("/"))  # relative to the Space, even when mounted
    return link, mime


def _mime_from_name(name: str) -> str:
    lowered = name.lower()
    for ext, mime in ((".png", "image/png"), (".jpg", "image/jpeg"), (".jpeg", "image/jpeg")):
        if lowered.endswith(ext):
            return mime
    return "image/webp"


def _seed(output: Any, asked: int | None) -> int | None:
    """A number (z-image, flux), "Seed used for generation: N" (qwen), or nothing (ovis)."""
    if isinstance(output, bool):
        return asked
    if isinstance(output, (int, float)) and math.isfinite(output):
        return int(output)
    if isinstance(output, str) and (match := _SEED_TEXT.search(output.strip())):
        return int(match[1])
    return asked
