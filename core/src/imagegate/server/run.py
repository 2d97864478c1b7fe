"""`serve()`: run the app under uvicorn, refusing to expose stored keys to the network.

A server on a non-loopback address without an API key must not sit on provider tokens
(environment, keys file, or the HuggingFace hub's saved login): an open relay of someone's
keys is never the default. Worker processes get their settings through the environment
(`app_from_env`), so `serve()` puts them there.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from pathlib import Path

from imagegate import Gate
from imagegate.bounds import check_byte_size, check_timeout, parse_byte_size
from imagegate.errors import ImagegateError

from .limits import http_protocol

__all__ = ["CannotListen", "UnsafeBinding", "check_exposure", "check_port", "serve"]

log = logging.getLogger("imagegate.server")

TIMEOUT_ENV = "IMAGEGATE_SERVE_TIMEOUT"
MAX_BODY_ENV = "IMAGEGATE_SERVE_MAX_BODY"


class UnsafeBinding(ImagegateError):
    """Refused to start: provider tokens would be reachable from the network unprotected."""

    code = "UNSAFE_BINDING"
    status = 500


class CannotListen(ImagegateError):
    """Refused to start: the address is taken, or cannot be listened on."""

    code = "CANNOT_LISTEN"
    status = 500


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def hub_login_file() -> Path | None:
    """The HuggingFace hub's saved login (`hf auth login`), where huggingface_hub looks for
    it: HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token."""
    explicit = os.environ.get("HF_TOKEN_PATH")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
        home = os.environ.get("HF_HOME") or os.path.join(cache, "huggingface")
        path = Path(home).expanduser() / "token"
    try:
        return path if path.read_text(encoding="utf-8", errors="replace").strip() else None
    except OSError:
        return None


def check_exposure(host: str, api_key: str | None, gate: Gate | None = None) -> None:
    """UnsafeBinding when `host` is reachable from outside, there is no api key, and
    provider tokens are stored in the environment, the keys file or the hub login."""
    if api_key or is_loopback(host):
        return
    gate = gate or Gate(use_stored_tokens=True)
    holding = [s.provider.id for s in gate.providers() if s.token_count]
    if "huggingface" in gate.catalog.providers and "huggingface" not in holding:
        login = hub_login_file()
        if login is not None or os.environ.get("HUGGING_FACE_HUB_TOKEN", "").strip():
            holding.append("huggingface (hub login)")
    if holding:
        raise UnsafeBinding(
            f"refusing to listen on {host} without an API key while provider tokens are "
            f"stored here ({', '.join(holding)}): pass --api-key or set IMAGEGATE_API_KEY, "
            "or listen on 127.0.0.1"
        )


def check_port(host: str, port: int) -> None:
    """CannotListen unless `host:port` can be bound now (uvicorn would exit 1 instead)."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError:
        raise CannotListen(f"cannot listen on {host}: the address does not resolve") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise CannotListen(f"cannot listen on {host}:{port}: {reason.lower()}") from None


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    workers: int = 1,
    *,
    log_level: str = "info",
    timeout: float = 300.0,
    max_body: int | None = None,
    max_image_bytes: int | None = None,
    fallbacks: str | None = None,
    rate_limits: list[str] | None = None,
    max_jobs: int | None = None,
) -> None:
    """Run the server until interrupted (blocking). UnsafeBinding or CannotListen before
    anything starts; `timeout`, `max_body` and `max_image_bytes` as in `create_app` and
    `Gate`; `fallbacks` is the `IMAGEGATE_FALLBACKS` setting (`A=B,C;D=E`) for every
    worker; `max_jobs` async jobs run at once in each (`IMAGEGATE_MAX_JOBS`)."""
    import uvicorn

    from .serve_logs import log_config

    api_key = api_key or os.environ.get("IMAGEGATE_API_KEY") or None
    os.environ[TIMEOUT_ENV] = str(check_timeout(timeout))
    if max_body is not None:
        os.environ[MAX_BODY_ENV] = str(check_byte_size(max_body, "max_body"))
    if max_image_bytes is not None:
        os.environ["IMAGEGATE_MAX_IMAGE_BYTES"] = str(
            check_byte_size(max_image_bytes, "max_image_bytes")
        )
    check_exposure(host, api_key)
    check_port(host, port)
    if fallbacks:
        os.environ["IMAGEGATE_FALLBACKS"] = fallbacks  # read by each worker's Gate
    if api_key:
        os.environ["IMAGEGATE_API_KEY"] = api_key
    if rate_limits:
        os.environ["IMAGEGATE_RATE_LIMIT"] = ",".join(rate_limits)
    if max_jobs is not None:
        os.environ["IMAGEGATE_MAX_JOBS"] = str(max_jobs)
    http, http_options = http_protocol()
    uvicorn.run(
        "imagegate.server.run:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,  # our own one line per request replaces uvicorn's
        log_config=log_config(log_level),
        log_level=log_level,
        timeout_keep_alive=30,
        http=http,
        **http_options,
    )


def app_from_env():
    """The app a uvicorn worker runs: settings from the environment."""
    from .app import MAX_BODY, create_app
    from .serve_logs import lean_records

    body = os.environ.get(MAX_BODY_ENV)
    app = create_app(
        api_key=os.environ.get("IMAGEGATE_API_KEY") or None,
        timeout=float(os.environ.get(TIMEOUT_ENV) or 300.0),
        max_body=parse_byte_size(body, MAX_BODY_ENV) if body else MAX_BODY,
    )
    app.state.tune_gc = True  # this process only serves: tune its collector (gc_tuning.py)
    lean_records()  # and its log records (serve_logs.py)
    return app
