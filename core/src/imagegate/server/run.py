"""`serve()`: run the app under uvicorn, refusing to expose stored keys to the network.

A server on a non-loopback address without an API key must not sit on provider tokens
(environment or keys file): an open relay of someone's keys is never the default.
"""

from __future__ import annotations

import ipaddress
import logging
import os

from imagegate import Gate
from imagegate.errors import ImagegateError

__all__ = ["UnsafeBinding", "check_exposure", "serve"]

log = logging.getLogger("imagegate.server")


class UnsafeBinding(ImagegateError):
    """Refused to start: provider tokens would be reachable from the network unprotected."""

    code = "UNSAFE_BINDING"
    status = 500


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_key: str | None, gate: Gate | None = None) -> None:
    """UnsafeBinding when `host` is reachable from outside, there is no api key, and
    provider tokens are stored in the environment or the keys file."""
    if api_key or is_loopback(host):
        return
    gate = gate or Gate(use_stored_tokens=True)
    holding = [s.provider.id for s in gate.providers() if s.token_count]
    if holding:
        raise UnsafeBinding(
            f"refusing to listen on {host} without an API key while provider tokens are "
            f"stored here ({', '.join(holding)}): pass --api-key or set IMAGEGATE_API_KEY, "
            "or listen on 127.0.0.1"
        )


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    workers: int = 1,
    *,
    log_level: str = "info",
    fallbacks: str | None = None,
) -> None:
    """Run the server until interrupted (blocking). `fallbacks` is the
    `IMAGEGATE_FALLBACKS` setting (`A=B,C;D=E`) for every worker."""
    import uvicorn

    api_key = api_key or os.environ.get("IMAGEGATE_API_KEY") or None
    check_exposure(host, api_key)
    if fallbacks:
        os.environ["IMAGEGATE_FALLBACKS"] = fallbacks  # read by each worker's Gate
    if api_key:
        # Worker processes build their app from the environment (`app_from_env`).
        os.environ["IMAGEGATE_API_KEY"] = api_key
    uvicorn.run(
        "imagegate.server.run:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # our own one line per request replaces uvicorn's
        log_config=_log_config(log_level),
        log_level=log_level,
        timeout_keep_alive=30,
    )


def app_from_env():
    """The app a uvicorn worker runs: settings from the environment."""
    from .app import create_app

    return create_app(api_key=os.environ.get("IMAGEGATE_API_KEY") or None)


def _log_config(level: str) -> dict:
    from uvicorn.config import LOGGING_CONFIG

    config = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    config["loggers"]["imagegate.server"] = {
        "handlers": ["default"],
        "level": level.upper(),
        "propagate": False,
    }
    return config
