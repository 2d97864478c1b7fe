"""Each configured channel as imagegate declarations: a `Provider` named after it, its
image `Model`s and its `ChatModel`s. Rebuilt only when the channels file changes."""

from __future__ import annotations

from dataclasses import dataclass, field

from imagegate import ChatModel, Model
from imagegate.channels import Channel, ChannelModel, load_channels

__all__ = ["Declared", "declared"]


@dataclass
class Declared:
    models: list[Model] = field(default_factory=list)
    chat_models: list[ChatModel] = field(default_factory=list)
    wire: dict[str, ChannelModel] = field(default_factory=dict)
    """Full model id -> its channel entry (what the endpoint takes beyond the request)."""


_built: tuple[dict[str, Channel], Declared] | None = None


def declared() -> Declared:
    """The declarations of every channel in the file as it is now."""
    global _built
    channels = load_channels()
    if _built is not None and _built[0] == channels:
        return _built[1]
    found = Declared()
    for channel in channels.values():
        provider = channel.provider()
        for entry in channel.models:
            model = Model(
                id=entry.id,
                display_name=entry.display_name or entry.id,
                provider=provider,
                capabilities=entry.capabilities,
                family=entry.family,
                description=(
                    "found through GET /models; its limits are assumed, not declared"
                    if entry.discovered
                    else None
                ),
            )
            found.models.append(model)
            found.wire[model.full_id] = entry
        for chat in channel.chat_models:
            found.chat_models.append(
                ChatModel(id=chat.id, display_name=chat.display_name or chat.id, provider=provider)
            )
    _built = (channels, found)
    return found
