"""`imagegate serve`: start the OpenAI-compatible server (the optional `server` extra).

A refusal to start (the port is taken, stored tokens on a public address) is one line and
exit 2, like any other usage error.
"""

from __future__ import annotations

import os

import click

from imagegate.errors import ImagegateError

from . import console, exit_codes
from .serve_storage import apply_storage_options, storage_options
from .types import BYTE_SIZE, SECONDS

_SERVER_DEPENDENCIES = {"fastapi", "uvicorn", "starlette"}
INSTALL_HINT = "the server needs the `server` extra: pip install 'imagegate[server]'"


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--api-key",
    envvar="IMAGEGATE_API_KEY",
    metavar="KEY",
    help="Require this key from clients (env IMAGEGATE_API_KEY); needed to use stored tokens.",
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes."
)
@click.option(
    "--timeout",
    default=300.0,
    show_default=True,
    type=SECONDS,
    envvar="IMAGEGATE_SERVE_TIMEOUT",
    help="Deadline of one generation request, in seconds (env IMAGEGATE_SERVE_TIMEOUT).",
)
@click.option(
    "--max-body",
    default="64KB",
    show_default=True,
    type=BYTE_SIZE,
    envvar="IMAGEGATE_SERVE_MAX_BODY",
    help="Largest request body accepted (env IMAGEGATE_SERVE_MAX_BODY).",
)
@click.option(
    "--max-image-bytes",
    type=BYTE_SIZE,
    envvar="IMAGEGATE_MAX_IMAGE_BYTES",
    help="Largest image downloaded or accepted from a provider (default 50MB; "
    "env IMAGEGATE_MAX_IMAGE_BYTES).",
)
@click.option(
    "--fallback",
    "fallbacks",
    multiple=True,
    metavar="MODEL=FALLBACK[,...]",
    help="Models to try when MODEL cannot serve (repeatable; env IMAGEGATE_FALLBACKS).",
)
@storage_options
@click.option(
    "--rate-limit",
    "rate_limits",
    multiple=True,
    envvar="IMAGEGATE_RATE_LIMIT",
    metavar="N/UNIT",
    help="Requests per caller (API key, else client IP), e.g. 60/minute; repeat for "
    "several windows (env IMAGEGATE_RATE_LIMIT, comma-separated). Shared by replicas on Redis.",
)
@click.option(
    "--max-jobs",
    type=click.IntRange(min=1),
    envvar="IMAGEGATE_MAX_JOBS",
    help="Async jobs run at once in each worker (default 16; env IMAGEGATE_MAX_JOBS). On "
    "Redis, a full replica leaves new jobs to the others.",
)
def serve(
    host: str,
    port: int,
    api_key: str | None,
    workers: int,
    timeout: float,
    max_body: int,
    max_image_bytes: int | None,
    fallbacks: tuple[str, ...],
    rate_limits: tuple[str, ...],
    max_jobs: int | None,
    **storage,
) -> None:
    """Run the OpenAI-compatible HTTP server (POST /v1/images/generations, GET /v1/models)."""
    console.add_secret(api_key)
    apply_storage_options(**storage)
    setting = ";".join(fallbacks) or None
    if setting or os.environ.get("IMAGEGATE_FALLBACKS"):
        from imagegate.chain import check_fallbacks

        from . import factory

        check_fallbacks(factory.make_gate(), setting)  # a model it cannot find: exit 2 now
    try:
        from imagegate.server import CannotListen, UnsafeBinding
        from imagegate.server import serve as run_server
    except ImportError as exc:
        names = _missing_modules(exc)
        if names & _SERVER_DEPENDENCIES:
            console.error(INSTALL_HINT)
        elif "imagegate.server" in names:
            console.error("this imagegate has no server module; upgrade: pip install -U imagegate")
        else:
            raise
        raise click.exceptions.Exit(exit_codes.USAGE) from None
    extra: dict = {"fallbacks": setting} if setting else {}
    try:
        from imagegate.server.ratelimit import parse_rate_limits

        limits = parse_rate_limits(rate_limits)
    except ImagegateError as exc:
        raise click.BadParameter(exc.message, param_hint="--rate-limit") from None
    if limits:
        extra["rate_limits"] = [r.text for r in limits]
    if max_jobs is not None:
        extra["max_jobs"] = max_jobs
    try:
        run_server(
            host=host,
            port=port,
            api_key=api_key,
            workers=workers,
            timeout=timeout,
            max_body=max_body,
            max_image_bytes=max_image_bytes,
            **extra,
        )
    except (CannotListen, UnsafeBinding) as exc:
        console.error(exc.message)
        raise click.exceptions.Exit(exit_codes.USAGE) from None


def _missing_modules(exc: BaseException) -> set[str]:
    """Top-level names of the modules that failed to import, along the exception chain
    (the server package re-raises a missing fastapi as its own ImportError)."""
    names: set[str] = set()
    seen: BaseException | None = exc
    while isinstance(seen, ImportError) and len(names) < 10:
        if seen.name:
            names.update({seen.name, seen.name.split(".")[0]})
        seen = seen.__cause__ or seen.__context__
    return names
