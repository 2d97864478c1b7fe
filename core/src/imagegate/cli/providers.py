"""`imagegate providers`: which provider plugins are installed and whether they have a key."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from . import factory, table

if TYPE_CHECKING:
    from imagegate import ProviderStatus


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def providers(as_json: bool) -> None:
    """Show installed provider plugins, their auth, and where their token comes from.

    Tokens themselves are never shown, only their source: `explicit`, `env:VARIABLE` or
    `keys file` (see `imagegate keys`).
    """
    from . import health_view

    with factory.make_gate() as gate:
        statuses = gate.providers()
        rows = gate.key_status()
    missing = missing_first_party(statuses)
    health = {
        s.provider.id: health_view.one_word(
            rows, s.provider.id, needs_token=s.provider.auth == "required"
        )
        for s in statuses
    }
    if as_json:
        document = {
            "providers": [{**_status_json(s), "health": health[s.provider.id]} for s in statuses],
            "not_installed": missing,
        }
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    if not statuses:
        click.echo("No provider plugin is installed.")
    for index, status in enumerate(statuses):
        if index:
            click.echo()
        click.echo(_describe(status, health[status.provider.id]))
    if missing:
        click.echo()
        click.echo(f"Not installed: {', '.join(missing)}")
        click.echo(f"  pip install {' '.join(missing)}")


def missing_first_party(statuses: list[ProviderStatus]) -> list[str]:
    """First-party plugin distributions whose provider is not installed, sorted."""
    from imagegate.catalog import FIRST_PARTY

    installed = {s.distribution for s in statuses}
    for status in statuses:
        provider = status.provider
        installed.update(FIRST_PARTY.get(key, "") for key in (provider.id, provider.model_prefix))
    return sorted(set(FIRST_PARTY.values()) - installed)


def token_text(status: ProviderStatus) -> str:
    if status.token_source:
        plural = "s" if status.token_count != 1 else ""
        return f"{status.token_count} token{plural} from {status.token_source}"
    if status.provider.auth == "none":
        return "not needed"
    if status.provider.auth == "optional":
        return "none (optional)"
    return (
        f"none; set {status.provider.token_env[0]} or run `imagegate keys set {status.provider.id}`"
    )


def _describe(status: ProviderStatus, health: str) -> str:
    provider = status.provider
    plugin = " ".join(part for part in (status.distribution, status.version) if part)
    fields = [
        ("plugin", plugin or None),
        ("models", f"{status.model_count} (`imagegate models --provider {provider.id}`)"),
        ("model prefix", f"{provider.model_prefix}/"),
        ("auth", f"{provider.auth}, token prefix {provider.auth_prefix}:"),
        ("token", token_text(status)),
        ("health", f"{health} (`imagegate keys status {provider.id}`)"),
        ("token env", provider.token_env),
        ("get a key", provider.key_url),
    ]
    width = max(len(name) for name, _ in fields)
    lines = [f"{provider.id} ({provider.display_name})"]
    lines += [f"  {name.ljust(width)}  {table.dash(value)}" for name, value in fields]
    return "\n".join(lines)


def _status_json(status: ProviderStatus) -> dict[str, Any]:
    provider = status.provider
    return {
        "id": provider.id,
        "display_name": provider.display_name,
        "distribution": status.distribution,
        "version": status.version,
        "model_prefix": provider.model_prefix,
        "auth_prefix": provider.auth_prefix,
        "auth": provider.auth,
        "token_configured": bool(status.token_source),
        "token_source": status.token_source,
        "token_count": status.token_count,
        "token_env": list(provider.token_env),
        "key_url": provider.key_url,
        "model_count": status.model_count,
    }
