"""imagegate: one interface to many image-generation providers.

    import imagegate
    result = imagegate.generate("a cute cat", model="hf/z-image-turbo")
    result.images[0].save("cat")

Providers are plugins (`pip install imagegate-gitee`, ...). `Gate` holds explicit settings
for embedders; the module-level functions use a default one.
"""

from __future__ import annotations

import atexit
import threading
import typing

from . import errors
from .context import GenerateContext, Progress
from .errors import ImagegateError
from .gate import Gate, ProviderStatus
from .hookspecs import hookimpl
from .models import Capabilities, FloatRange, IntRange, Model, Provider
from .request import ImageRequest, Problem
from .results import GeneratedImage, ImageResult

__version__ = "0.1.0"

__all__ = [
    "Capabilities",
    "FloatRange",
    "Gate",
    "GenerateContext",
    "GeneratedImage",
    "ImageRequest",
    "ImageResult",
    "ImagegateError",
    "IntRange",
    "Model",
    "Problem",
    "Progress",
    "Provider",
    "ProviderStatus",
    "__version__",
    "agenerate",
    "errors",
    "generate",
    "get_model",
    "hookimpl",
    "list_models",
]

_default: Gate | None = None
_default_lock = threading.Lock()


def _default_gate() -> Gate:
    global _default
    with _default_lock:
        if _default is None:
            _default = Gate()
            atexit.register(_default.close)
        return _default


def generate(prompt: str | ImageRequest, **kwargs: typing.Any) -> ImageResult:
    """Generate images, blocking. Keywords: model, token, size, steps, seed, n, ..."""
    return _default_gate().generate(prompt, **kwargs)


async def agenerate(prompt: str | ImageRequest, **kwargs: typing.Any) -> ImageResult:
    """Generate images. Each call uses its own connections; hold a `Gate` to reuse them."""
    async with Gate() as gate:
        return await gate.agenerate(prompt, **kwargs)


def list_models(provider: str | None = None) -> list[Model]:
    """Every model the installed plugins serve, or those of one provider."""
    return _default_gate().list_models(provider)


def get_model(model_id: str | None = None) -> Model:
    """The model a user-typed id names (aliases and any case accepted)."""
    return _default_gate().get_model(model_id)
