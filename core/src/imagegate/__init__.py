"""imagegate: one interface to many image-generation providers.

    import imagegate
    result = imagegate.generate("a cute cat", model="hf/z-image-turbo")
    result.images[0].save("cat")

Providers are plugins (`pip install imagegate-gitee`, ...). `Gate` holds explicit settings
for embedders; the module-level functions use a default one.
"""

from __future__ import annotations

import atexit
import importlib
import threading
import typing

from .hookspecs import hookimpl

if typing.TYPE_CHECKING:
    from . import errors
    from .chat import ChatRequest, ChatResult
    from .context import GenerateContext, Progress
    from .errors import ImagegateError
    from .gate import Gate, ProviderStatus
    from .models import Capabilities, ChatModel, FloatRange, IntRange, Model, Provider
    from .request import ImageRequest, Problem
    from .results import GeneratedImage, ImageResult

# Imported on first use (PEP 562), so `imagegate --help` pays for click alone.
_LAZY = {
    "ChatRequest": ".chat",
    "ChatResult": ".chat",
    "ChatModel": ".models",
    "GenerateContext": ".context",
    "Progress": ".context",
    "ImagegateError": ".errors",
    "Gate": ".gate",
    "ProviderStatus": ".gate",
    "Capabilities": ".models",
    "FloatRange": ".models",
    "IntRange": ".models",
    "Model": ".models",
    "Provider": ".models",
    "ImageRequest": ".request",
    "Problem": ".request",
    "GeneratedImage": ".results",
    "ImageResult": ".results",
}


def __getattr__(name: str) -> typing.Any:
    if name == "errors":
        return importlib.import_module(".errors", __name__)
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'imagegate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__version__ = "0.1.0"

__all__ = [
    "Capabilities",
    "ChatModel",
    "ChatRequest",
    "ChatResult",
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
            from .gate import Gate

            _default = Gate()
            atexit.register(_default.close)
        return _default


def generate(prompt: str | ImageRequest, **kwargs: typing.Any) -> ImageResult:
    """Generate images, blocking. Keywords: model, token, size, steps, seed, n, ..."""
    return _default_gate().generate(prompt, **kwargs)


async def agenerate(prompt: str | ImageRequest, **kwargs: typing.Any) -> ImageResult:
    """Generate images. Each call uses its own connections; hold a `Gate` to reuse them."""
    from .gate import Gate

    async with Gate() as gate:
        return await gate.agenerate(prompt, **kwargs)


def list_models(provider: str | None = None) -> list[Model]:
    """Every model the installed plugins serve, or those of one provider."""
    return _default_gate().list_models(provider)


def get_model(model_id: str | None = None) -> Model:
    """The model a user-typed id names (aliases and any case accepted)."""
    return _default_gate().get_model(model_id)
