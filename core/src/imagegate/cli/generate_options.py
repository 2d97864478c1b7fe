"""`imagegate generate`'s options for OpenAI's GPT Image fields and for parameters a model
does not take: sent only to models that declare them (see `imagegate channels show`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

__all__ = ["OPENAI_FIELDS", "openai_options"]

OPENAI_FIELDS = ("quality", "background", "output_format", "output_compression", "moderation")


def openai_options(command: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--quality", metavar="Q", help="GPT Image: low, medium, high, auto."),
        click.option("--background", metavar="B", help="GPT Image: transparent, opaque, auto."),
        click.option("--output-format", metavar="F", help="GPT Image: png, webp, jpeg."),
        click.option(
            "--output-compression", type=int, metavar="0-100", help="GPT Image: webp/jpeg only."
        ),
        click.option("--moderation", metavar="M", help="GPT Image: low, auto."),
        click.option(
            "--drop-unsupported",
            is_flag=True,
            default=None,
            help="Drop parameters the model does not take (with a warning) instead of failing.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
