"""The OpenAI-compatible HTTP server (the `server` extra): `create_app` and `serve`.

    pip install 'imagegate[server]'
    imagegate serve --port 8000

Importing this package needs fastapi and uvicorn; without them it raises ImportError with
the install command, which `imagegate serve` shows as a hint.
"""

from __future__ import annotations

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the imagegate server needs the server extra: pip install 'imagegate[server]'"
    ) from exc

from .app import create_app
from .run import CannotListen, UnsafeBinding, serve

__all__ = ["CannotListen", "UnsafeBinding", "create_app", "serve"]
