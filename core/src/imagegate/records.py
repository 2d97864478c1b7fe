"""History records: what one generation leaves behind, as a JSON-ready dict.

Built from a result (`success`) or from what was asked and the error (`failure`); never
base64, never a token (error messages are already scrubbed). Ids sort by time.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import ImagegateError
    from .gate import Gate
    from .request import ImageRequest
    from .results import GeneratedImage, ImageResult

__all__ = ["failure", "image_entry", "new_id", "success"]

_PARAMETERS = (
    "size", "width", "height", "aspect_ratio", "steps", "guidance_scale", "seed", "n",
    "response_format", "quality", "style",
)  # fmt: skip
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(now: float) -> str:
    """26 characters that sort by time (milliseconds) and end in 80 random bits."""
    value = (int(now * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def success(gate: Gate, result: ImageResult, timings: dict[str, float]) -> dict[str, Any]:
    request = result.request
    return {
        "status": "ok",
        "source": gate.history_source,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "model": result.model,
        "provider": result.provider,
        "parameters": {name: getattr(request, name) for name in _PARAMETERS},
        "images": [image_entry(image) for image in result.images],
        "timings": timings,
        "warnings": list(result.warnings),
        "error": None,
        "chain": [step.model_dump() for step in result.chain],
    }


def image_entry(image: GeneratedImage) -> dict[str, Any]:
    stored = image.stored
    data = image.data
    return {
        "seed": image.seed,
        "width": image.width,
        "height": image.height,
        "mime_type": image.mime_type,
        "bytes": stored.size if stored else (len(data) if data is not None else None),
        "sha256": stored.sha256
        if stored
        else (hashlib.sha256(data).hexdigest() if data is not None else None),
        "path": None,
        "media_key": stored.key if stored else None,
        "expires_at": stored.expires_at if stored else None,
    }


def failure(
    gate: Gate,
    prompt: str | ImageRequest,
    model: str | None,
    params: dict[str, Any],
    exc: ImagegateError,
    elapsed: float,
) -> dict[str, Any]:
    """What the caller asked for (nothing was resolved for sure) and what went wrong."""
    from .catalog import DEFAULT_MODEL
    from .request import ImageRequest

    asked = dict(params)
    if isinstance(prompt, ImageRequest):
        asked = {**prompt.model_dump(exclude_none=True), **asked}
        model = model or prompt.model
        prompt = prompt.prompt
    model_id, provider = model or DEFAULT_MODEL, exc.provider
    try:
        found = gate.catalog.resolve(model_id).model
        model_id, provider = found.full_id, found.provider.id
    except Exception:
        pass
    simple = (str, int, float, bool, type(None))
    return {
        "status": "failed",
        "source": gate.history_source,
        "prompt": str(prompt),
        "negative_prompt": asked.get("negative_prompt"),
        "model": model_id,
        "provider": provider,
        "parameters": {k: v for k, v in asked.items() if k in _PARAMETERS and type(v) in simple},
        "images": [],
        "timings": {"generation": round(elapsed, 4)},
        "warnings": [],
        "error": {"code": exc.code, "message": exc.message},
        "chain": [],
    }
