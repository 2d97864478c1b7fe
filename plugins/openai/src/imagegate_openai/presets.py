"""Presets: channels whose models are known, so `channels add NAME --preset P` needs no more.

OpenAI's own API, from its Images reference (the `openai` SDK 3.57's image parameters):
the GPT Image models take `quality` low/medium/high/auto (the 2.5 models also xhigh and
max), `background` transparent/opaque/auto, `output_format` png/webp/jpeg,
`output_compression` 0-100 (for webp and jpeg), `moderation` low/auto, `n` 1-10, and never
`response_format` (they always answer with base64). Sizes: gpt-image-2 and the 2.5 models
take any WxH with both sides multiples of 16, the long side at most 3 times the short one,
at most 3840x2160 (8,294,400 pixels) and at least 655,360 pixels; gpt-image-1.5,
gpt-image-1-mini and chatgpt-image-latest take only 1024x1024, 1536x1024 and 1024x1536.
gpt-image-1 (shut down 2026-10-23) and DALL-E 2 and 3 (retired 2026-05-12) are not listed.
"""

from __future__ import annotations

from imagegate import Capabilities
from imagegate.channels import ChannelChatModel, ChannelModel

__all__ = ["PRESETS", "Preset"]

_COMMON = {
    "background": ("transparent", "opaque", "auto"),
    "output_format": ("png", "webp", "jpeg"),
    "output_compression": (),
    "moderation": ("low", "auto"),
}
_QUALITY = ("low", "medium", "high", "auto")

_FLEXIBLE = Capabilities(
    seed=False,
    min_side=480,  # the shortest side 655,360 pixels allow at 3:1
    max_side=3840,
    size_step=16,
    max_ratio=3.0,
    min_pixels=655_360,
    max_pixels=8_294_400,
    max_images_per_call=10,
    options={"quality": _QUALITY, **_COMMON},
)
_LISTED = Capabilities(
    seed=False,
    min_side=1024,
    max_side=1536,
    sizes=("1024x1024", "1536x1024", "1024x1536"),
    max_images_per_call=10,
    options={"quality": _QUALITY, **_COMMON},
)


def _gpt_image(model_id: str, name: str, caps: Capabilities) -> ChannelModel:
    return ChannelModel(id=model_id, display_name=name, capabilities=caps, response_format=False)


class Preset:
    """What a preset fills in; the user's own options win over it."""

    def __init__(
        self,
        *,
        display_name: str,
        base_url: str,
        token_env: str | None,
        key_url: str | None,
        docs_url: str | None,
        models: tuple[ChannelModel, ...],
        chat_models: tuple[ChannelChatModel, ...],
    ) -> None:
        self.display_name = display_name
        self.base_url = base_url
        self.token_env = token_env
        self.key_url = key_url
        self.docs_url = docs_url
        self.models = models
        self.chat_models = chat_models


PRESETS: dict[str, Preset] = {
    "openai": Preset(
        display_name="OpenAI",
        base_url="https://api.openai.com/v1",
        token_env="OPENAI_API_KEY",
        key_url="https://platform.openai.com/api-keys",
        docs_url="https://platform.openai.com/docs/api-reference/images",
        models=(
            _gpt_image("gpt-image-2", "GPT Image 2", _FLEXIBLE),
            _gpt_image(
                "gpt-image-2.5-sunburst",
                "GPT Image 2.5 Sunburst",
                _FLEXIBLE.model_copy(
                    update={"options": {"quality": (*_QUALITY, "xhigh", "max"), **_COMMON}}
                ),
            ),
            _gpt_image(
                "gpt-image-2.5-flare",
                "GPT Image 2.5 Flare",
                _FLEXIBLE.model_copy(
                    update={"options": {"quality": (*_QUALITY, "xhigh", "max"), **_COMMON}}
                ),
            ),
            _gpt_image("gpt-image-1.5", "GPT Image 1.5", _LISTED),
            _gpt_image("gpt-image-1-mini", "GPT Image 1 mini", _LISTED),
            _gpt_image("chatgpt-image-latest", "ChatGPT Image (latest)", _LISTED),
        ),
        chat_models=(
            ChannelChatModel(id="gpt-5.4-mini", display_name="GPT-5.4 mini"),
            ChannelChatModel(id="gpt-5.4-nano", display_name="GPT-5.4 nano"),
        ),
    ),
}
