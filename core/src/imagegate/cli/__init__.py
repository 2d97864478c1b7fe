"""The `imagegate` command: generate images, list models and providers, store keys, serve.

Start-up time is a feature: this module imports click only; each subcommand's module (and
the library behind it) is imported when that subcommand runs. See `bench/cli_startup.py`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from . import console, exit_codes
from .lazy import LazyGroup

__all__ = ["cli", "main", "run"]

# click >= 8.2 raises this for a group called without a subcommand (8.1 exits 0 with help).
_NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())

SUBCOMMANDS = {
    "generate": ("imagegate.cli.generate:generate", "Generate images from a prompt and save them."),
    "models": ("imagegate.cli.models:models", "List the models of the installed providers."),
    "providers": (
        "imagegate.cli.providers:providers",
        "Show installed provider plugins and their keys.",
    ),
    "keys": ("imagegate.cli.keys:keys", "Store, list and remove provider tokens."),
    "channels": ("imagegate.cli.channels:channels", "Declare OpenAI-compatible endpoints."),
    "history": ("imagegate.cli.history:history", "List, show, rerun and export past generations."),
    "plugins": ("imagegate.cli.plugins:plugins", "List installed plugins, or start a new one."),
    "serve": ("imagegate.cli.serve:serve", "Run the OpenAI-compatible HTTP server."),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imagegate")
    except PackageNotFoundError:  # running from a source tree
        return "unknown"


@click.group(
    cls=LazyGroup,
    lazy_subcommands=SUBCOMMANDS,
    epilog=exit_codes.epilog(),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(version=None, package_name="imagegate", prog_name="imagegate")
def cli() -> None:
    """One interface to many image-generation providers.

    \b
    Quick start:
      imagegate generate "a cute cat"          # HuggingFace Spaces, no key needed
      imagegate models                         # every model you can use
      imagegate keys set gitee                 # store a token for a provider
      imagegate generate -m gitee/qwen-image "a lighthouse at dawn" -o out/

    Set IMAGEGATE_DEBUG=1 to see tracebacks.
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry: run the command, turn every failure into one line and a code."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code (no `sys.exit`, for embedding and tests)."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="imagegate",
            standalone_mode=False,
        )
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            console.error("interrupted")
            return exit_codes.INTERRUPTED
        console.error("aborted")
        return exit_codes.USAGE
    except _NO_ARGS_IS_HELP as exc:  # `imagegate keys`: the group's help, as click does
        click.echo(exc.format_message(), err=True)
        return exc.exit_code
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "imagegate"
        console.error(f"{exc.format_message()} (see '{where} --help')")
        return exc.exit_code
    except click.ClickException as exc:
        console.error(exc.format_message())
        return exc.exit_code
    except KeyboardInterrupt:
        console.error("interrupted")
        return exit_codes.INTERRUPTED
    except BrokenPipeError:
        # `imagegate models | head -1`: the reader left; say nothing more (Python's docs'
        # recipe: point stdout at devnull so the interpreter's final flush cannot fail).
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exit_codes.UNEXPECTED
    except Exception as exc:
        return _failed(exc)
    return result if isinstance(result, int) else exit_codes.OK


def _failed(exc: Exception) -> int:
    from imagegate.errors import ImagegateError

    console.traceback_if_debug(exc)
    if isinstance(exc, ImagegateError):
        console.error(str(exc))
    else:
        console.error(
            f"unexpected {type(exc).__name__}: {exc} "
            "(rerun with IMAGEGATE_DEBUG=1 for details, and please report it)"
        )
    return exit_codes.for_exception(exc)
