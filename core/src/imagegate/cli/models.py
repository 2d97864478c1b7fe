"""`imagegate models` and `imagegate models show ID`: what the installed plugins serve."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import click

from imagegate.catalog import alias_names, chat_alias_names
from imagegate.errors import InvalidModel

from . import factory, table

if TYPE_CHECKING:
    from imagegate import ChatModel, Gate, Model, Provider
    from imagegate.catalog import Family


@click.group(invoke_without_command=True)
@click.option("--provider", metavar="ID", help="Only this provider's models (id or prefix).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def models(ctx: click.Context, provider: str | None, as_json: bool) -> None:
    """List the models of the installed providers.

    Use the MODEL column (or an alias with the provider's prefix, e.g. `ms/flux-2`) with
    `imagegate generate -m`. `imagegate models show ID` tells everything about one model.
    A FAMILY (`any/z-image-turbo`) is the same open model at several providers, served by
    the best member that can serve at the time; `--provider any` lists only those. A CHAT
    MODEL rewrites prompts (`imagegate generate --enhance-model ID`) and answers the
    server's /v1/chat/completions.
    """
    if ctx.invoked_subcommand is not None:
        return
    gate = factory.make_gate()
    only_families = (provider or "").lower() == "any"
    found = [] if only_families else gate.list_models(provider)
    families = gate.list_families() if only_families or not provider else []
    chats = [] if only_families else gate.list_chat_models(provider)
    if as_json:
        documents = [_model_json(m) for m in found] + [_family_json(f) for f in families]
        documents += [_chat_json(c) for c in chats]
        click.echo(json.dumps(documents, indent=2, ensure_ascii=False))
        return
    if not found and not families and not chats:
        where = f" for provider {provider!r}" if provider else ""
        click.echo(f"No models{where}. `imagegate providers` shows what is installed.", err=True)
        return
    tables = []
    if found:
        tables.append(_models_table(found))
    if families:
        rows = [[f.full_id, ", ".join(m.full_id for m in f.members)] for f in families]
        tables.append(table.render(["FAMILY", "MEMBERS"], rows))
    if chats:
        rows = [
            [c.provider.id, c.full_id, table.dash(chat_alias_names(c)), c.display_name]
            for c in chats
        ]
        tables.append(table.render(["PROVIDER", "CHAT MODEL", "ALIASES", "NAME"], rows))
    click.echo("\n\n".join(tables))


def _models_table(found: list[Model]) -> str:
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
    return table.render(headers, rows)


@models.command()
@click.argument("model_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def show(model_id: str, as_json: bool) -> None:
    """Everything known about one model: provider, capabilities, sizes, auth; for a family
    (`any/<family>`), each member and how they differ."""
    gate = factory.make_gate()
    family = gate.get_family(model_id)
    if family is not None:
        if as_json:
            document = _family_json(family)
            document["members"] = [_model_json(m) for m in family.members]
            click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        else:
            click.echo(_describe_family(family, gate))
        return
    try:
        model = gate.get_model(model_id)
    except InvalidModel:
        chat = _chat_named(gate, model_id)
        if chat is None:
            raise
        _show_chat(gate, chat, as_json)
        return
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
    return {**model.model_dump(mode="json"), "type": "image"}


def _chat_json(chat: ChatModel) -> dict[str, Any]:
    """A chat model's fields, `type: chat` (as in the server's /v1/models)."""
    return {**chat.model_dump(mode="json"), "type": "chat"}


def _chat_named(gate: Gate, model_id: str) -> ChatModel | None:
    """The chat model `model_id` names, or None (`models show` takes both kinds)."""
    try:
        return gate.get_chat_model(model_id)
    except InvalidModel:
        return None


def _token_text(provider: Provider, source: str | None, count: int) -> str:
    """How many tokens a provider has and from where, or why none is needed."""
    if source:
        return f"{count} from {source}"
    return "not needed" if provider.auth == "none" else "not configured"


def _show_chat(gate: Gate, chat: ChatModel, as_json: bool) -> None:
    provider = chat.provider
    tokens = gate.tokens_for(provider)
    if as_json:
        document = _chat_json(chat)
        document["token"] = {"configured": bool(tokens), "source": tokens.source}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    token = _token_text(provider, tokens.source, len(tokens.tokens))
    fields: list[tuple[str, object]] = [
        ("kind", "chat (LLM) model"),
        ("name", chat.display_name),
        ("description", chat.description),
        ("provider's id", chat.id),
        ("aliases", chat_alias_names(chat)),
        ("context", f"{chat.context_length:,} tokens" if chat.context_length else None),
        ("provider", f"{provider.display_name} ({provider.id})"),
        ("token", token),
        ("token env", provider.token_env),
        ("use it with", f"imagegate generate --enhance-model {chat.full_id} PROMPT"),
        ("or", "POST /v1/chat/completions on `imagegate serve`"),
    ]
    width = max(len(name) for name, _ in fields)
    lines = [chat.full_id] + [f"  {name.ljust(width)}  {table.dash(v)}" for name, v in fields]
    click.echo("\n".join(lines))


def _base_url(provider: Provider) -> str:
    """The base URL calls go to: the override when set (as the gate reads it), else the
    provider's own; HuggingFace has one host per Space."""
    override = os.environ.get(provider.base_url_env)
    default = provider.base_url or "one host per Space"
    if override:
        return f"{override} (from {provider.base_url_env}; default {default})"
    return default


def _family_json(family: Family) -> dict[str, Any]:
    return {
        "full_id": family.full_id,
        "id": family.id,
        "display_name": family.display_name,
        "family": family.id,
        "members": [m.full_id for m in family.members],
        "capabilities": family.capabilities.model_dump(mode="json"),
    }


def _describe_family(family: Family, gate: Gate) -> str:
    rows = []
    for m in family.members:
        caps, provider = m.capabilities, m.provider
        tokens = gate.tokens_for(provider)
        token = (
            tokens.source
            if tokens
            else ("not needed" if provider.auth != "required" else "not configured")
        )
        sides = (
            f"ratios {', '.join(caps.aspect_ratios)}"
            if caps.aspect_ratios
            else f"{caps.min_side}-{caps.max_side}"
        )
        rows.append(
            [
                m.full_id,
                provider.auth,
                table.dash(caps.negative_prompt),
                table.dash(caps.steps),
                table.dash(caps.guidance),
                table.dash(caps.seed),
                sides,
                table.dash(token),
            ]
        )
    headers = ["MEMBER", "AUTH", "NEGATIVE", "STEPS", "GUIDANCE", "SEED", "SIDES", "TOKEN"]
    shared = family.capabilities
    lines = [
        family.full_id,
        f"  {family.display_name}, served by the best member that can serve now: one with a",
        "  usable token (or none needed) that takes every parameter given, then your",
        "  IMAGEGATE_PREFER order, free before paid, the fastest recently.",
        "",
        table.render(headers, rows),
        "",
        "Every member takes",
        f"  negative prompt  {table.dash(shared.negative_prompt)}",
        f"  steps            {table.dash(shared.steps)}",
        f"  guidance         {table.dash(shared.guidance)}",
        f"  seed             {table.dash(shared.seed)}",
        f"  sides            {shared.min_side}-{shared.max_side} px",
    ]
    return "\n".join(lines)


def _describe(model: Model, token_source: str | None, token_count: int) -> str:
    caps, provider = model.capabilities, model.provider
    prefix = provider.model_prefix
    from imagegate.validation import size_rule

    sizes = size_rule(caps)
    token = _token_text(provider, token_source, token_count)
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
                *(
                    (name, ", ".join(allowed) or "any value")
                    for name, allowed in caps.options.items()
                ),
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
