"""`imagegate plugins`: the installed plugins (as `llm plugins` lists them), and
`imagegate plugins new NAME`, which writes a ready provider package."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from . import factory, table


@dataclass(frozen=True)
class InstalledPlugin:
    """One registered plugin: where it comes from, the hooks it implements, its models."""

    name: str
    source: str
    """`entry point`, `IMAGEGATE_PLUGINS`, `built-in` or `registered` (in code)."""
    distribution: str | None
    version: str | None
    hooks: list[str]
    providers: dict[str, int]
    """Provider id -> how many models the plugin serves for it."""


@click.group(invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Include the core's built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def plugins(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List the installed plugins: distribution, version, hooks, providers.

    Plugins load from the entry-point group `imagegate` (limit them with
    IMAGEGATE_LOAD_PLUGINS=a,b) and from IMAGEGATE_PLUGINS=module,module:object.
    `imagegate plugins new NAME` starts a new provider plugin.
    """
    if ctx.invoked_subcommand is not None:
        return
    found = [p for p in installed_plugins() if show_all or p.source != "built-in"]
    if as_json:
        click.echo(json.dumps([asdict(p) for p in found], indent=2))
        return
    if not found:
        click.echo("No plugin is installed. `imagegate plugins new NAME` starts one.", err=True)
        return
    rows = [
        [
            p.name,
            table.dash(p.distribution),
            table.dash(p.version),
            table.dash(p.hooks),
            table.dash([_count(id, count) for id, count in p.providers.items()]),
            p.source,
        ]
        for p in found
    ]
    headers = ["PLUGIN", "DISTRIBUTION", "VERSION", "HOOKS", "PROVIDERS", "SOURCE"]
    click.echo(table.render(headers, rows))


@plugins.command()
@click.argument("name")
@click.option(
    "-d",
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the imagegate-NAME directory.",
)
def new(name: str, directory: Path) -> None:
    """Write a ready provider plugin package, imagegate-NAME.

    \b
    It installs and passes its own tests at once:
      imagegate plugins new acme
      pip install -e './imagegate-acme[test]'
      (cd imagegate-acme && pytest)
      imagegate models --provider acme
    """
    from imagegate.scaffold import ScaffoldError, write_plugin

    try:
        target = write_plugin(name, directory)
    except ScaffoldError as exc:
        raise click.UsageError(str(exc)) from None
    shown = str(target) if target.is_absolute() else f"./{target.as_posix().removeprefix('./')}"
    click.echo(f"Created {shown}, a provider plugin package. Next:")
    click.echo(f"  pip install -e '{shown}[test]'")
    click.echo(f"  cd {shown} && pytest")


def installed_plugins() -> list[InstalledPlugin]:
    """Every plugin the command-line gate sees, built-in ones included."""
    from imagegate.plugins import BUILTIN_PLUGINS, plugin_info

    gate = factory.make_gate()
    pm = gate.plugin_manager
    providers: dict[int, dict[str, int]] = {}
    for entry in gate.catalog.entries:
        counts = providers.setdefault(id(entry.plugin), {})
        counts[entry.model.provider.id] = counts.get(entry.model.provider.id, 0) + 1
    order = {name: index for index, name in enumerate(("list_models", "validate", "generate"))}
    found = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:  # blocked
            continue
        info = plugin_info(plugin)
        hooks = sorted(
            (caller.name for caller in pm.get_hookcallers(plugin) or ()),
            key=lambda hook: (order.get(hook, 99), hook),
        )
        distribution, version = info.distribution, info.version
        if name in BUILTIN_PLUGINS:
            source = "built-in"
        elif distribution:
            source = "entry point"
        elif _named(name):
            source = "IMAGEGATE_PLUGINS"
            distribution, version = _distribution_of(name)
        else:
            source = "registered"
        found.append(
            InstalledPlugin(
                name=name,
                source=source,
                distribution=distribution,
                version=version,
                hooks=hooks,
                providers=providers.get(id(plugin), {}),
            )
        )
    return found


def _count(provider: str, models: int) -> str:
    return f"{provider} ({models} model{'s' if models != 1 else ''})"


def _named(name: str) -> bool:
    import os

    spec = os.environ.get("IMAGEGATE_PLUGINS", "")
    return name in {part.strip() for part in spec.split(",")}


def _distribution_of(name: str) -> tuple[str | None, str | None]:
    """The distribution that ships the module a plugin path names, when one does."""
    from importlib.metadata import packages_distributions, version

    top = name.partition(":")[0].split(".")[0]
    names: Any = packages_distributions().get(top) or []
    if not names:
        return None, None
    try:
        return names[0], version(names[0])
    except Exception:
        return names[0], None
