"""`imagegate channels`: declare OpenAI-compatible endpoints, each a provider of its own.

The file is `imagegate.channels`' (`channels.json` next to the keys file); the providers
come from the `imagegate-openai` plugin. Declaring a model's limits is this module's job
(`channel_options`), finding an endpoint's models through `GET /models` too (`discover`).
"""

from __future__ import annotations

import json
from typing import Any

import click

from . import console, factory, table
from .channel_options import capability_options, declared_capabilities

_AUTH = click.Choice(["required", "optional", "none"])


@click.group()
def channels() -> None:
    """Declare OpenAI-compatible endpoints (OpenAI, a relay, a self-hosted server).

    Each channel NAME is a provider: its models are NAME/<model>, its token comes from
    IMAGEGATE_<NAME>_TOKEN or `imagegate keys set NAME` (Bearer NAME:<token> on the
    server). Served by the imagegate-openai plugin.
    """


@channels.command("add")
@click.argument("name")
@click.option("--base-url", metavar="URL", help="The endpoint, e.g. https://api.openai.com/v1.")
@click.option("--preset", metavar="NAME", help="A known endpoint: openai.")
@click.option("--model", "models", multiple=True, metavar="ID", help="An image model (repeatable).")
@click.option(
    "--chat-model", "chat_models", multiple=True, metavar="ID", help="A chat model (repeatable)."
)
@click.option("--token-env", metavar="VAR", help="Also read the token from VAR (OPENAI_API_KEY).")
@click.option("--auth-prefix", metavar="P", help="Token prefix on the server (default: NAME).")
@click.option("--auth", type=_AUTH, help="Whether a token is needed (default: required).")
@click.option("--display-name", metavar="TEXT", help="How messages name it (default: NAME).")
@capability_options
@click.option("--replace", is_flag=True, help="Replace a channel of the same name.")
def add(name: str, **options: Any) -> None:
    """Add channel NAME: an endpoint and its models.

    Without --model (or a preset), the models come from the endpoint's GET /models, with
    permissive limits. The capability options declare what the --model models take; the
    extension fields (negative prompt, steps, guidance, seed) are sent only to models
    declared with them.

    \b
    Examples:
      imagegate channels add openai --preset openai
      imagegate channels add local --base-url http://127.0.0.1:8000/v1 \\
          --model z-image-turbo --negative-prompt --seed --steps 1-20:9
    """
    from imagegate.channels import read_for_update, save_channel

    from .channel_build import build_channel, check_free

    existing = read_for_update()  # a file that does not parse is not overwritten
    if name in existing and not options["replace"]:
        raise click.UsageError(
            f"channel {name!r} already exists; `imagegate channels rm {name}` first, "
            "or add --replace"
        )
    check_free(name, options.get("auth_prefix"), factory.make_gate(), set(existing))
    channel, notes = build_channel(name, options)
    path = save_channel(channel)
    for note in notes:
        console.warn(note)
    counts = f"{len(channel.models)} image model(s), {len(channel.chat_models)} chat model(s)"
    click.echo(f"Added channel {name} ({channel.base_url}): {counts} in {path}")
    provider = channel.provider()
    envs = " or ".join(provider.token_env)
    if channel.auth != "none":
        click.echo(f"Its token: {envs}, or `imagegate keys set {name}`")
    if not _plugin_installed():
        console.warn("install imagegate-openai to use it: `pip install imagegate-openai`")


@channels.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_(as_json: bool) -> None:
    """Every channel: its endpoint, models, and where its token comes from."""
    from imagegate.channels import load_channels
    from imagegate.credentials import find_tokens

    found = load_channels()
    if as_json:
        click.echo(json.dumps([_json(c) for c in found.values()], indent=2, ensure_ascii=False))
        return
    if not found:
        click.echo(
            "No channels. Add one with `imagegate channels add NAME --base-url URL`.", err=True
        )
        return
    rows = []
    for channel in found.values():
        source = find_tokens(channel.provider()).source
        rows.append(
            [
                channel.name,
                channel.base_url,
                str(len(channel.models)),
                str(len(channel.chat_models)),
                source or ("not needed" if channel.auth == "none" else "none"),
            ]
        )
    click.echo(table.render(["CHANNEL", "BASE URL", "MODELS", "CHAT", "TOKEN"], rows))


@channels.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def show(name: str, as_json: bool) -> None:
    """Everything about channel NAME: its provider, token, and each model's limits."""
    from imagegate.credentials import find_tokens

    channel = _channel(name)
    if as_json:
        click.echo(json.dumps(_json(channel), indent=2, ensure_ascii=False))
        return
    provider = channel.provider()
    source = find_tokens(provider).source
    lines = [
        f"{channel.name}: {provider.display_name}"
        + (f" (preset {channel.preset})" if channel.preset else ""),
        f"  base URL     {channel.base_url} (override: {provider.base_url_env})",
        f"  models       {channel.name}/<model>",
        f"  token        {', '.join(provider.token_env)}, `imagegate keys set {channel.name}`,"
        f" or Bearer {provider.auth_prefix}:<token>; auth {channel.auth}; now: {source or 'none'}",
    ]
    for model in channel.models:
        lines.append(f"  image model  {channel.name}/{model.id}")
        lines.append(f"    takes      {declared_capabilities(model)}")
    for chat in channel.chat_models:
        lines.append(f"  chat model   {channel.name}/{chat.id}")
    click.echo("\n".join(lines))


@channels.command("rm")
@click.argument("name")
def rm(name: str) -> None:
    """Remove channel NAME (its stored token stays: `imagegate keys remove NAME`)."""
    from imagegate.channels import remove_channel

    if not remove_channel(name):
        raise click.UsageError(f"no channel {name!r}; `imagegate channels list` shows them")
    click.echo(f"Removed channel {name}")


def _channel(name: str):
    from imagegate.channels import load_channels

    found = load_channels()
    if name not in found:
        known = ", ".join(found) or "none yet"
        raise click.UsageError(f"no channel {name!r} (channels: {known})")
    return found[name]


def _json(channel: Any) -> dict[str, Any]:
    return {"name": channel.name, **channel.model_dump(mode="json", exclude={"name"})}


def _plugin_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("imagegate_openai") is not None
