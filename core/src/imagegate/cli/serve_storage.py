"""`imagegate serve`'s options for history and stored images, handed to the server (and
each of its worker processes) through the environment, as the API key is."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

__all__ = ["apply_storage_options", "storage_options"]


def storage_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--history/--no-history",
            "history",
            default=None,
            help="Record each generation (default: on, unless `imagegate history off`).",
        ),
        click.option(
            "--retention",
            envvar="IMAGEGATE_RETENTION",
            metavar="AGE",
            help="Keep records and images this long: 7d (default), 36h, forever.",
        ),
        click.option(
            "--pass-links",
            envvar="IMAGEGATE_PASS_LINKS",
            metavar="PROVIDERS",
            help="Comma-separated providers whose own image links are answered as they are "
            "(faster, but they expire: see docs/server.md). HuggingFace links never are.",
        ),
        click.option(
            "--public-url",
            envvar="IMAGEGATE_PUBLIC_URL",
            metavar="URL",
            help="Base of the image links behind a proxy (env IMAGEGATE_PUBLIC_URL).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def apply_storage_options(
    history: bool | None, retention: str | None, pass_links: str | None, public_url: str | None
) -> None:
    """Check the values (a usage error names the option) and pass them on."""
    from imagegate.history import cli_history_enabled
    from imagegate.history import pass_links as check_links
    from imagegate.retention import parse_retention

    try:
        parse_retention(retention) if retention else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--retention") from None
    try:
        check_links((pass_links or "").split(","))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--pass-links") from None
    if history is None:
        history = cli_history_enabled()
    os.environ["IMAGEGATE_HISTORY"] = "on" if history else "off"
    for name, value in (
        ("IMAGEGATE_RETENTION", retention),
        ("IMAGEGATE_PASS_LINKS", pass_links),
        ("IMAGEGATE_PUBLIC_URL", public_url),
    ):
        if value:
            os.environ[name] = value
