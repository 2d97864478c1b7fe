"""`imagegate keys`: store provider tokens in the owner-only keys file, list and remove them.

Tokens are read from a hidden prompt (or stdin when piped), never from the command line,
where they would land in the shell's history. Nothing here ever prints a token.
"""

from __future__ import annotations

import sys

import click

from . import console, factory, table


@click.group()
def keys() -> None:
    """Store, list and remove provider tokens (in an owner-only keys file); their health.

    A token in the environment (IMAGEGATE_<PROVIDER>_TOKEN) wins over the keys file; a
    --token option wins over both.
    """


@keys.command("set")
@click.argument("provider")
def set_(provider: str) -> None:
    """Store the token(s) for PROVIDER, replacing any stored ones.

    Several comma-separated tokens rotate: when one is rate limited or out of quota the
    next is used. The token is read from a hidden prompt, or from stdin when piped.
    """
    from imagegate.credentials import check_tokens, split_tokens, write_keys
    from imagegate.errors import InvalidRequest

    provider_id = resolve_provider(provider)
    if sys.stdin.isatty():
        raw = click.prompt(
            f"Token for {provider_id} (input hidden; comma-separate several)",
            hide_input=True,
            prompt_suffix=": ",
            err=True,
        )
    else:
        raw = sys.stdin.read()
    console.add_secret(raw)
    tokens = split_tokens(raw.replace("\n", ","))
    if not tokens:
        raise click.UsageError("no token given")
    try:
        check_tokens(tokens)
    except InvalidRequest as exc:
        raise click.UsageError(f"{exc.message}; nothing was stored") from None
    path = write_keys(provider_id, tokens)
    plural = "s" if len(tokens) != 1 else ""
    click.echo(f"Stored {len(tokens)} token{plural} for {provider_id} in {path}")


@keys.command("list")
def list_() -> None:
    """Providers with stored or environment tokens: counts and sources, never the tokens."""
    import os

    from imagegate.credentials import read_keys

    stored = read_keys()
    rows = []
    env_rows = []
    try:
        statuses = factory.make_gate().providers()
    except Exception:  # a broken plugin must not hide the keys file
        statuses = []
    for status in statuses:
        for name in status.provider.token_env:
            value = os.environ.get(name, "").strip()
            if value:
                count = len([t for t in value.split(",") if t.strip()])
                env_rows.append([status.provider.id, str(count), f"env:{name}"])
                break
    in_env = {row[0] for row in env_rows}
    for provider_id, tokens in sorted(stored.items()):
        note = " (the environment wins)" if provider_id in in_env else ""
        rows.append([provider_id, str(len(tokens)), f"keys file{note}"])
    rows = sorted(rows + env_rows)
    if not rows:
        click.echo("No tokens stored. Add one with `imagegate keys set PROVIDER`.", err=True)
        return
    click.echo(table.render(["PROVIDER", "TOKENS", "SOURCE"], rows))


@keys.command("remove")
@click.argument("provider")
def remove(provider: str) -> None:
    """Delete the stored token(s) of PROVIDER."""
    from imagegate.credentials import read_keys, remove_keys

    provider_id = provider.lower() if provider.lower() in read_keys() else None
    provider_id = provider_id or resolve_provider(provider)
    if not remove_keys(provider_id):
        raise click.UsageError(f"no stored token for {provider_id}")
    click.echo(f"Removed the stored token(s) for {provider_id}")


@keys.command("status")
@click.argument("provider", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(provider: str | None, as_json: bool) -> None:
    """Each token's health: ok, cooling until a time, or invalid (never the token itself).

    Tokens are shown by fingerprint and source; anonymous use (HuggingFace) has a row of
    its own. What one command learns (a spent quota, a refused key) every later command
    and a server on this machine know too.
    """
    from . import health_view

    provider_id = resolve_provider(provider) if provider else None
    with factory.make_gate() as gate:
        rows = gate.key_status(provider_id)
    if as_json:
        import json

        click.echo(json.dumps([health_view.row_json(r) for r in rows], indent=2))
        return
    if not rows:
        click.echo("No provider plugin is installed.", err=True)
        return
    click.echo(health_view.render(rows))


@keys.command("reset")
@click.argument("provider", required=False)
def reset(provider: str | None) -> None:
    """Forget what is known of tokens' health (of PROVIDER, or all), e.g. after a top-up."""
    provider_id = resolve_provider(provider) if provider else None
    with factory.make_gate() as gate:
        count = gate.reset_keys(provider_id)
    plural = "s" if count != 1 else ""
    click.echo(f"Forgot {count} health record{plural}{f' of {provider_id}' if provider else ''}")


@keys.command("path")
def path() -> None:
    """Print where the keys file lives (IMAGEGATE_HOME moves it)."""
    from imagegate.credentials import keys_path

    click.echo(str(keys_path()))


def resolve_provider(name: str) -> str:
    """The provider id for an installed provider's id or auth prefix, or a first-party one."""
    from imagegate.catalog import FIRST_PARTY

    wanted = name.strip().lower()
    known: dict[str, str] = {}
    for status in factory.make_gate().providers():
        provider = status.provider
        for key in (provider.id, provider.auth_prefix, provider.model_prefix):
            known.setdefault(key.lower(), provider.id)
    if wanted in known:
        return known[wanted]
    from imagegate.channels import load_channels

    for channel in load_channels().values():  # a channel, even while its plugin is not loaded
        if wanted in {channel.name, (channel.auth_prefix or "").lower()}:
            return channel.name
    first_party = {"hf": "huggingface", "ms": "modelscope"}
    if wanted in FIRST_PARTY:
        return first_party.get(wanted, wanted)
    choices = sorted({*known.values(), "a4f", "gitee", "huggingface", "modelscope"})
    raise click.BadParameter(
        f"unknown provider {name!r}; choose one of: {', '.join(choices)}",
        param_hint="PROVIDER",
    )
