"""Real images for the emulators: PNG, WebP or JPEG bytes of the requested size whose pixels
depend on the prompt and the seed only, so tests can check size, format and reproducibility."""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

__all__ = ["render", "truncated"]


@lru_cache(maxsize=256)
def render(prompt: str, seed: int, width: int, height: int, fmt: str = "png") -> bytes:
    """An image of `width`x`height`: a background and a band coloured from hash(prompt, seed)."""
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(f"{prompt}\x00{seed}".encode()).digest()
    image = Image.new("RGB", (width, height), tuple(digest[0:3]))
    draw = ImageDraw.Draw(image)
    top = digest[6] * height // 256
    draw.rectangle((0, top, width, min(height, top + max(1, height // 8))), fill=tuple(digest[3:6]))
    buffer = io.BytesIO()
    if fmt == "webp":
        image.save(buffer, format="WEBP", quality=60, method=0)
    elif fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=75)
    else:
        image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def truncated(data: bytes) -> bytes:
    """The first half of an image: what a dropped connection leaves behind."""
    return data[: len(data) // 2]
