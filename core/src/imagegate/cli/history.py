"""`imagegate history`: what was generated, with what, and where it went; make it again.

Records live in the state store (`<data dir>/state.db`) for the retention period (7 days
unless IMAGEGATE_RETENTION says otherwise). `imagegate history off` leaves a marker in the
config dir and `imagegate generate` records nothing until `imagegate history on`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import console, exit_codes, factory, history_format

if TYPE_CHECKING:
    from imagegate import Gate

T = TypeVar("T")

_FILTERS = [
    click.option("--search", metavar="TEXT", help="Only prompts containing TEXT (any case)."),
    click.option("-m", "--model", metavar="ID", help="Only this model (id or alias)."),
    click.option("--provider", metavar="ID", help="Only this provider (id or prefix)."),
    click.option("--failed", is_flag=True, help="Only failed generations."),
]


def _filters(func):
    for option in reversed(_FILTERS):
        func = option(func)
    return func


@click.group(invoke_without_command=True)
@click.option(
    "-n", "limit", type=int, default=20, show_default=True, metavar="N", help="How many to show."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the records.")
@_filters
@click.pass_context
def history(ctx: click.Context, limit: int, as_json: bool, **filters: Any) -> None:
    """List recent generations, newest first (or: show, rerun, export, rm, clear, on, off).

    \b
    Examples:
      imagegate history -n 5
      imagegate history --search cat --json
      imagegate history show 01m8sm3k3g738k3pnm2v1nermy
      imagegate history rerun 01m8sm3k3g738k3pnm2v1nermy --seed 7
    """
    if ctx.invoked_subcommand is not None:
        return
    if limit < 1:
        raise click.BadParameter("must be at least 1", param_hint="-n")
    records = _run(lambda gate: gate.history.list(limit=limit, **_query(gate, **filters)))
    if as_json:
        click.echo(json.dumps(records, indent=2, ensure_ascii=False))
    elif records:
        click.echo(history_format.table_text(records))
    else:
        click.echo("no generations recorded" + ("" if _enabled() else " (history is off)"))


@history.command()
@click.argument("record_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
def show(record_id: str, as_json: bool) -> None:
    """Everything about one generation, with its files."""
    record = _run(lambda gate: _get(gate, record_id))
    if as_json:
        click.echo(json.dumps(record, indent=2, ensure_ascii=False))
    else:
        click.echo(history_format.details(record))


@history.command()
@click.argument("record_id", metavar="ID")
@click.option("--seed", type=int, metavar="N", help="Another seed (default: the same one).")
@click.option("-n", "count", type=int, metavar="N", help="Another number of images.")
@click.option("-m", "--model", metavar="ID", help="Another model (steps, guidance: its own).")
@click.option("-o", "--output", metavar="PATH", help="Where to save, as for `generate`.")
@click.option("--token", metavar="TOKEN", help="Provider token, as for `generate`.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of paths.")
@click.option("--no-progress", is_flag=True, help="No progress line, even on a terminal.")
def rerun(
    record_id: str,
    seed: int | None,
    count: int | None,
    model: str | None,
    output: str | None,
    token: str | None,
    as_json: bool,
    no_progress: bool,
) -> None:
    """Generate again with the parameters of ID.

    The same prompt, negative prompt, size, seed, count, steps and guidance; the files are
    saved as `generate` saves them, and the call is recorded as a new generation.
    """
    from . import progress
    from .generate import run_generation

    console.add_secret(token)

    async def load(gate: Gate) -> tuple[dict[str, Any], str]:
        record = await _get(gate, record_id)
        return record, record["model"] if model is None else _model_id(gate, model)

    record, chosen = _run(load)
    params = history_format.rerun_parameters(record, seed=seed, n=count, model=chosen)
    if chosen != record.get("model"):
        console.warn(f"steps and guidance: {chosen}'s defaults ({record['model']} was used)")
    run_generation(
        record["prompt"],
        model=chosen,
        token=token,
        timeout=None,
        params=params,
        output=output,
        as_json=as_json,
        show_progress=progress.wanted(disabled=no_progress),
        record=True,
    )


@history.command()
@click.option(
    "--format",
    "format_",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="One JSON record per line, or CSV with one row per generation.",
)
def export(format_: str) -> None:
    """Every record, oldest first, to stdout."""
    records = _run(lambda gate: gate.history.list(limit=None))
    records.reverse()
    if format_ == "jsonl":
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    else:
        click.echo(history_format.csv_text(records), nl=False)


@history.command()
@click.argument("record_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--images", is_flag=True, help="Also delete the images: stored and saved files.")
def rm(record_ids: tuple[str, ...], images: bool) -> None:
    """Delete records (--images: their images too).

    With --images, stored copies go, and saved files while they still hold the recorded
    bytes (an edited or replaced file is kept).
    """
    gone = _run(lambda gate: gate.history.delete(record_ids, images=images))
    missing = sorted(set(record_ids) - {r["id"] for r in gone})
    if gone:
        click.echo(history_format.removed(gone, images))
    if missing:
        console.error(f"no history record {', '.join(map(repr, missing))}")
        raise click.exceptions.Exit(exit_codes.USAGE)


@history.command()
@click.option("--before", metavar="DATE", help="2026-11-01, 2026-11-01T12:00, or an age: 30d.")
@click.option("--all", "everything", is_flag=True, help="Every record.")
@click.option("--images", is_flag=True, help="Also delete the images: stored and saved files.")
def clear(before: str | None, everything: bool, images: bool) -> None:
    """Delete the records older than DATE (or --all)."""
    if (before is None) == (not everything):
        raise click.UsageError("give --before DATE or --all")
    cutoff = None if everything else history_format.parse_date(before or "")
    gone = _run(lambda gate: gate.history.clear(before=cutoff, images=images))
    click.echo(history_format.removed(gone, images))


@history.command()
def off() -> None:
    """Stop recording `generate` calls.

    A marker file in the config dir says so, as `llm logs off` does; `imagegate serve`
    honours it too unless given --history.
    """
    from imagegate.history import set_cli_history

    path = set_cli_history(False)
    click.echo(f"history is off: nothing is recorded while {path} exists")


@history.command()
def on() -> None:
    """Record `imagegate generate` calls again."""
    from imagegate.history import set_cli_history

    set_cli_history(True)
    click.echo("history is on")


@history.command()
def status() -> None:
    """Whether history is on, how many records, where, and for how long."""

    async def work(gate: Gate) -> list[str]:
        records = await gate.history.list(limit=None)
        state = gate.state
        lines = [
            f"history: {'on' if _enabled() else 'off (imagegate history on)'}",
            f"records: {len(records)} in {state.url}",
            f"retention: {history_format.duration(gate.retention)}",
        ]
        if state.degraded:
            lines.append(f"warning: {state.degraded}")
        return lines

    for line in _run(work):
        click.echo(line)


def _enabled() -> bool:
    from imagegate.history import cli_history_enabled

    return cli_history_enabled()


def _query(gate: Gate, *, search, model, provider, failed) -> dict[str, Any]:
    """Filters with aliases resolved to the ids records hold (unknown names as typed)."""
    if model:
        model = _model_id(gate, model)
    if provider:
        wanted = provider.lower()
        for known in gate.catalog.providers.values():
            if wanted in {known.id, known.model_prefix.lower(), known.auth_prefix.lower()}:
                wanted = known.id
        provider = wanted
    return {"search": search, "model": model, "provider": provider, "failed": failed or None}


def _model_id(gate: Gate, model: str) -> str:
    try:
        return gate.catalog.resolve(model).model.full_id
    except Exception:  # unknown here: let generation (or the filter) say so
        return model


class _Unknown(click.ClickException):
    exit_code = exit_codes.USAGE


async def _get(gate: Gate, record_id: str) -> dict[str, Any]:
    record = await gate.history.get(record_id)
    if record is None:
        raise _Unknown(f"no history record {record_id!r} (see `imagegate history`)")
    return record


def _run(work: Callable[[Gate], Awaitable[T]]) -> T:
    async def main() -> T:
        async with factory.make_gate() as gate:
            return await work(gate)

    return asyncio.run(main())
