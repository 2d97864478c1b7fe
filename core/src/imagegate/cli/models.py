"""`imagegate models` and `imagegate models show ID`: what the installed plugins serve."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click

from imagegate.catalog import alias_names

from . import factory, table

if TYPE_CHECKING:
    from imagegate import Model, Provider


@click.group(invoke_without_command=True)
@click.option("--provider", metavar="ID", help="Only this provider's models (id or prefix).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def models(ctx: click.Context, provider: str | None, as_json: bool) -> None:
    """List the models of the installed providers.

    Use the MODEL column (or an alias with the provider's prefix, e.g. `ms/flux-2`) with
    `imagegate generate -m`. `imagegate models show ID` tells everything about one model.
    """
    if ctx.invoked_subcommand is not None:
        return
    found = factory.make_gate().list_models(provider)
    if as_json:
        click.echo(json.dumps([_model_json(m) for m in found], indent=2, ensure_ascii=False))
        return
    if not found:
        where = f" for provider {provider!r}" if provider else ""
        click.echo(f"No models{where}. `imagegate providers` shows what is installed.", err=True)
        return
    rows = [
        [
            m.provider.id,
            m.full_id,
            table.dash(alias_names(m)),
            table.dash(m.capabilities.negative_prompt),
            table.dash(m.capabilities.steps),
            table.dash(m.capabilities.guidance),
        ]
        for m in found
    ]
    headers = ["PROVIDER", "MODEL", "ALIASES", "NEGATIVE", "STEPS", "GUIDANCE"]
    click.echo(table.render(headers, rows))


@models.command()
@click.argument("model_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def show(model_id: str, as_json: bool) -> None:
    """Everything known about one model: provider, capabilities, sizes, auth."""
    gate = factory.make_gate()
    model = gate.get_model(model_id)
    tokens = gate.tokens_for(model.provider)
    if as_json:
        document = _model_json(model)
        document["token"] = {"configured": bool(tokens), "source": tokens.source}
        document["base_url"] = os.environ.get(model.provider.base_url_env) or (
            model.provider.base_url
        )
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    click.echo(_describe(model, tokens.source, len(tokens.tokens)))


def _model_json(model: Model) -> dict[str, Any]:
    return model.model_dump(mode="json")


def _base_url(provider: Provider) -> str:
    """The base URL calls go to: the override when set (as the gate reads it), else the
    provider's own; HuggingFace has one host per Space."""
    override = os.environ.get(provider.base_url_env)
    default = provider.base_url or "one host per Space"
    if override:
        return f"{override} (from {provider.base_url_env}; default {default})"
    return default


def _describe(model: Model, token_source: str | None, token_count: int) -> str:
    caps, provider = model.capabilities, model.provider
    prefix = provider.model_prefix
    sizes = (
        f"aspect ratios {', '.join(caps.aspect_ratios)}"
        if caps.aspect_ratios
        else f"{caps.min_side}-{caps.max_side} px per side"
    )
    token = (
        f"{token_count} from {token_source}"
        if token_source
        else ("not needed" if provider.auth == "none" else "not configured")
    )
    sections: list[tuple[str, list[tuple[str, object]]]] = [
        (
            model.full_id,
            [
                ("name", model.display_name),
                ("description", model.description),
                ("provider's id", model.id),
                ("aliases", alias_names(model)),
            ],
        ),
        (
            "Capabilities",
            [
                ("negative prompt", caps.negative_prompt),
                ("steps", caps.steps),
                ("guidance", caps.guidance),
                ("seed", caps.seed),
                ("sizes", sizes),
                ("default size", caps.default_size),
                ("images per call", caps.max_images_per_call),
            ],
        ),
        (
            f"Provider: {provider.display_name} ({provider.id})",
            [
                ("model prefix", f"{prefix}/"),
                ("auth", f"{provider.auth}, token prefix {provider.auth_prefix}:"),
                ("token", token),
                ("token env", provider.token_env),
                ("get a key", provider.key_url),
                ("image format", provider.image_format),
                ("base url", _base_url(provider)),
                ("base url env", provider.base_url_env),
                ("docs", provider.docs_url),
                ("plugin", provider.distribution),
            ],
        ),
    ]
    lines: list[str] = []
    for title, fields in sections:
        if lines:
            lines.append("")
        lines.append(title)
        width = max(len(name) for name, _ in fields)
        lines += [f"  {name.ljust(width)}  {table.dash(value)}" for name, value in fields]
    return "\n".join(lines)
