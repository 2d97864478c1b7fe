"""Models as OpenAI's `/v1/models` lists them, with imagegate's facts as extension fields.

One entry per model, under its full id (`ms/black-forest-labs/FLUX.2-dev`); the short names
that also work (`ms/flux-2`, bare `flux-1-schnell` for HuggingFace) are in `aliases`, so a
model picker shows each model once. Families (`any/z-image-turbo`) follow, with the
capabilities every member shares and the list of members, then the chat models. `type`
says which is which: `image` (models and families) or `chat`.
"""

from __future__ import annotations

from imagegate.catalog import Family, alias_names, chat_alias_names
from imagegate.models import ChatModel, Model

__all__ = ["CREATED", "chat_entry", "family_entry", "model_entry"]

CREATED = 1700000000
"""OpenAI lists a creation time; providers publish none, so a fixed one (as the reference)."""


def model_entry(model: Model) -> dict:
    provider = model.provider
    return {
        "id": model.full_id,
        "object": "model",
        "created": CREATED,
        "owned_by": provider.id,
        "type": "image",
        "display_name": model.display_name,
        "provider": provider.display_name,
        "aliases": alias_names(model),
        "auth": provider.auth,
        "image_format": provider.image_format,
        "capabilities": model.capabilities.model_dump(mode="json"),
    }


def family_entry(family: Family) -> dict:
    members = family.members
    free = [m for m in members if m.provider.auth != "required"]
    formats = {m.provider.image_format for m in members}
    return {
        "id": family.full_id,
        "object": "model",
        "created": CREATED,
        "owned_by": "imagegate",
        "type": "image",
        "display_name": family.display_name,
        "provider": "any",
        "aliases": [],
        "auth": "required" if not free else ("optional" if len(free) < len(members) else "none"),
        "image_format": formats.pop() if len(formats) == 1 else None,
        "capabilities": family.capabilities.model_dump(mode="json"),
        "family": family.id,
        "members": [
            {"id": m.full_id, "provider": m.provider.id, "auth": m.provider.auth} for m in members
        ],
    }


def chat_entry(model: ChatModel) -> dict:
    """A chat model, for `POST /v1/chat/completions` (and the `enhance` extension)."""
    provider = model.provider
    return {
        "id": model.full_id,
        "object": "model",
        "created": CREATED,
        "owned_by": provider.id,
        "type": "chat",
        "display_name": model.display_name,
        "provider": provider.display_name,
        "aliases": chat_alias_names(model),
        "auth": provider.auth,
        "context_length": model.context_length,
    }
