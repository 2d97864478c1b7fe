"""`channels add`'s work: a channel from its options, a preset and, when no model is given,
the endpoint's `GET /models`; and the checks that keep its name from shadowing a provider."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from .channel_options import capabilities_from, declares_capabilities

if TYPE_CHECKING:
    from imagegate import Gate
    from imagegate.channels import Channel, ChannelChatModel, ChannelModel

_IMAGE_NAMES = re.compile(
    r"image|dall-e|flux|diffusion|sdxl|sd3|stable|kolors|cogview|hidream|imagen|seedream|"
    r"recraft|ideogram|playground|hunyuan-?dit|midjourney",
    re.I,
)
_NOT_MODELS = re.compile(
    r"embed|whisper|tts|audio|speech|moderation|rerank|transcri|realtime", re.I
)
_CHAT_TYPES = {"chat", "language", "code", "llm", "text", "text-generation"}
_DISCOVERY_TIMEOUT = 20.0


def check_free(name: str, auth_prefix: str | None, gate: Gate, channels: set[str]) -> None:
    """A channel's name and token prefix must name nothing else: no installed provider
    (id, model or token prefix), no first-party one, not `any`."""
    from imagegate.catalog import FAMILY_PREFIX, FIRST_PARTY
    from imagegate.channels import check_name

    try:
        check_name(name)
    except Exception as exc:
        raise click.UsageError(getattr(exc, "message", str(exc))) from None
    taken: dict[str, str] = {FAMILY_PREFIX: "the families' prefix (any/<family>)"}
    for prefix, distribution in FIRST_PARTY.items():
        taken[prefix] = f"the provider of {distribution}"
    try:
        providers = gate.catalog.providers.values()
    except Exception:  # a broken plugin must not stop a channel being declared
        providers = []
    for provider in providers:
        if provider.id in channels:
            continue  # a channel of the file (replaced with --replace)
        for key in (provider.id, provider.model_prefix, provider.auth_prefix):
            taken.setdefault(key.lower(), f"the installed provider {provider.id}")
    for label, value in (("name", name), ("--auth-prefix", auth_prefix)):
        if value and value.lower() in taken:
            raise click.UsageError(
                f"channel {label} {value!r} is taken by {taken[value.lower()]}; choose another"
            )


def build_channel(name: str, options: dict[str, Any]) -> tuple[Channel, list[str]]:
    """The channel the options describe, and the notes to tell the user."""
    from imagegate.channels import Channel

    preset = _preset(options.get("preset"))
    base_url = options.get("base_url") or (preset.base_url if preset else None)
    if not base_url:
        raise click.UsageError("give --base-url URL (or --preset openai)")
    try:
        from imagegate.channels import check_base_url

        base_url = check_base_url(base_url)
    except Exception as exc:
        raise click.UsageError(getattr(exc, "message", str(exc))) from None
    notes: list[str] = []
    models, chat_models = _declared(options, preset)
    if not models and not chat_models:
        models, chat_models, notes = _discover(name, base_url, options)
    _check_unique(models, chat_models)
    fields: dict[str, Any] = {
        "name": name,
        "base_url": base_url,
        "display_name": options.get("display_name") or (preset.display_name if preset else None),
        "auth_prefix": options.get("auth_prefix"),
        "token_env": options.get("token_env") or (preset.token_env if preset else None),
        "preset": options.get("preset"),
        "key_url": preset.key_url if preset else None,
        "docs_url": preset.docs_url if preset else None,
        "models": tuple(models),
        "chat_models": tuple(chat_models),
    }
    if options.get("auth"):
        fields["auth"] = options["auth"]
    return Channel(**{k: v for k, v in fields.items() if v is not None}), notes


def _preset(name: str | None) -> Any:
    if not name:
        return None
    try:
        from imagegate_openai.presets import PRESETS
    except ImportError:
        raise click.UsageError(
            "presets come with the imagegate-openai plugin: `pip install imagegate-openai`"
        ) from None
    if name not in PRESETS:
        raise click.UsageError(f"unknown preset {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def _declared(
    options: dict[str, Any], preset: Any
) -> tuple[list[ChannelModel], list[ChannelChatModel]]:
    """The models the options and the preset name (a preset's model given by --model is
    taken as the preset declares it)."""
    from imagegate.channels import ChannelChatModel, ChannelModel

    known = {m.id: m for m in preset.models} if preset else {}
    given = list(options.get("models") or ())
    models: list[ChannelModel] = []
    if preset and not [m for m in given if m not in known]:
        models = [known[m] for m in given] if given else list(preset.models)
        given = []
    elif preset:
        models = [known[m] for m in given if m in known]
        given = [m for m in given if m not in known]
    if given:
        caps = capabilities_from(options)
        models += [
            ChannelModel(
                id=model_id,
                capabilities=caps,
                response_format=not options.get("no_response_format"),
                family=options.get("family"),
            )
            for model_id in given
        ]
    chat = [ChannelChatModel(id=m) for m in options.get("chat_models") or ()]
    if preset and not options.get("chat_models"):
        chat = list(preset.chat_models)
    return models, chat


def _check_unique(models: list[ChannelModel], chat_models: list[ChannelChatModel]) -> None:
    seen: set[str] = set()
    for model_id in [m.id for m in models] + [m.id for m in chat_models]:
        if model_id.lower() in seen:
            raise click.UsageError(f"model {model_id!r} is given twice; give each model once")
        seen.add(model_id.lower())


def _discover(
    name: str, base_url: str, options: dict[str, Any]
) -> tuple[list[ChannelModel], list[ChannelChatModel], list[str]]:
    """The endpoint's models from its `GET /models`, with the options' capabilities (or
    the permissive defaults, said in a note)."""
    import httpx

    from imagegate.channels import ChannelChatModel, ChannelModel
    from imagegate.credentials import find_tokens
    from imagegate.openai_wire import model_list

    provisional = _provisional(name, base_url, options)
    found = find_tokens(provisional)
    headers = {"Accept": "application/json"}
    if found.tokens:
        console_secret(found.tokens[0])
        headers["Authorization"] = f"Bearer {found.tokens[0]}"
    url = f"{base_url}/models"
    try:
        response = httpx.get(url, headers=headers, timeout=_DISCOVERY_TIMEOUT)
        response.raise_for_status()
        listed = model_list(response.json())
    except (httpx.HTTPError, ValueError) as exc:
        why = (
            f"HTTP {exc.response.status_code}"
            if isinstance(exc, httpx.HTTPStatusError)
            else (type(exc).__name__)
        )
        raise click.UsageError(
            f"cannot list the models of {url} ({why}); give them with --model ID "
            "(and --chat-model ID)"
        ) from None
    images, chats, skipped = _classify(listed)
    if not images and not chats:
        raise click.UsageError(f"{url} lists no model; give them with --model ID")
    declared = declares_capabilities(options)
    caps = capabilities_from(options)
    models = [
        ChannelModel(
            id=model_id,
            capabilities=caps,
            response_format=not options.get("no_response_format"),
            family=options.get("family"),
            discovered=not declared,
        )
        for model_id in images
    ]
    notes = []
    if models and not declared:
        notes.append(
            f"channel {name}: {len(models)} image model(s) found through GET /models "
            f"({', '.join(images[:6])}{', ...' if len(images) > 6 else ''}); their limits "
            "are assumed (any size of 64-4096 px per side, one image per call, no negative "
            "prompt, steps, guidance or seed): declare them with --model ID and the "
            "capability options to be exact"
        )
    if skipped:
        notes.append(f"channel {name}: not image or chat models, left out: {', '.join(skipped)}")
    return models, [ChannelChatModel(id=m) for m in chats], notes


def _classify(listed: list[tuple[str, str | None]]) -> tuple[list[str], list[str], list[str]]:
    images, chats, skipped = [], [], []
    for model_id, kind in listed:
        kind = (kind or "").lower()
        if kind in ("image", "text-to-image", "image-generation") or (
            not kind and _IMAGE_NAMES.search(model_id)
        ):
            images.append(model_id)
        elif kind in _CHAT_TYPES or (not kind and not _NOT_MODELS.search(model_id)):
            chats.append(model_id)
        else:
            skipped.append(model_id)
    return images, chats, skipped


def _provisional(name: str, base_url: str, options: dict[str, Any]):
    from imagegate.channels import Channel

    return Channel(name=name, base_url=base_url, token_env=options.get("token_env")).provider()


def console_secret(token: str) -> None:
    from . import console

    console.add_secret(token)
