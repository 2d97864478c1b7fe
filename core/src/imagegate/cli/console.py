"""Everything the CLI writes to stderr besides progress: warnings and the one error line.

Every line passes through `redact`, which knows each token the command line handed in, so
a token that slipped into a provider's message is still never printed.
"""

from __future__ import annotations

import os
import sys

import click

_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Remember a token (or comma-separated tokens) that must never be printed."""
    if not value:
        return
    _secrets.add(value)
    for part in (p.strip() for p in value.split(",")):
        if part:
            _secrets.add(part)
            _secrets.add(part.partition(":")[2])  # `gitee:abc` reaches the provider as `abc`


def redact(text: str) -> str:
    for secret in sorted((s for s in _secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def warn(message: str) -> None:
    click.echo(redact(f"warning: {message}"), err=True)


def error(message: str) -> None:
    click.echo(redact(f"error: {message}"), err=True)


def debug_enabled() -> bool:
    return os.environ.get("IMAGEGATE_DEBUG", "") not in {"", "0", "false", "no"}


def traceback_if_debug(exc: BaseException) -> None:
    """The full traceback, redacted, when IMAGEGATE_DEBUG=1."""
    if not debug_enabled():
        return
    import traceback

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    sys.stderr.write(redact(text))
    sys.stderr.flush()
