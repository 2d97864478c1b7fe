"""What a provider plugin declares: its `Provider` and the `Model`s it serves.

These are plain data, written straight from the spec's tables; the core derives defaults,
validation ranges and routing from them, so a plugin never repeats that logic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

__all__ = ["Capabilities", "ChatModel", "FloatRange", "IntRange", "Model", "Provider"]

AuthMode = Literal["required", "optional", "none"]
QuotaScope = Literal["token", "model"]
Unsupported = Literal["drop", "reject"]

OPTION_FIELDS = (
    "quality",
    "style",
    "background",
    "moderation",
    "output_format",
    "output_compression",
)
"""The request fields a model may declare in `Capabilities.options` (OpenAI's GPT Image
fields and DALL-E's style): sent to the provider only by models that declare them."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class IntRange(_Frozen):
    """An inclusive integer range with the value used when the caller gives none."""

    min: int
    max: int
    default: int

    def __str__(self) -> str:
        return f"{self.min}-{self.max} (default {self.default})"


class FloatRange(_Frozen):
    """An inclusive float range with the value used when the caller gives none."""

    min: float
    max: float
    default: float

    def __str__(self) -> str:
        return f"{self.min:g}-{self.max:g} (default {self.default:g})"


class Capabilities(_Frozen):
    """What a model accepts. `None` for steps/guidance means the model takes no such value."""

    negative_prompt: bool = False
    steps: IntRange | None = None
    guidance: FloatRange | None = None
    seed: bool = True
    min_side: int = 256
    max_side: int = 2048
    size_step: int = 1
    """Width and height must be multiples of this (16 for Z-Image's pipeline); 1: any."""
    default_size: str = "1024x1024"
    aspect_ratios: tuple[str, ...] | None = None
    """Set when the model takes an aspect ratio instead of a pixel size (qwen-image-fast)."""
    max_images_per_call: int = 1
    """How many images one provider call can return; the core fans `n` out beyond that."""
    sizes: tuple[str, ...] | None = None
    """Set when the model makes only these pixel sizes (`1024x1024`, `1536x1024`, ...)."""
    max_ratio: float | None = None
    """The longest side may be at most this many times the shortest (3.0: 3:1)."""
    min_pixels: int | None = None
    max_pixels: int | None = None
    """Bounds on width x height, for models limited by area as well as by side."""
    options: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Further request fields the model takes (names from `OPTION_FIELDS`) and the values
    it accepts (empty: any value the request allows): `{"quality": ("low", "high")}`."""

    @field_validator("options")
    @classmethod
    def _known_options(cls, options: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        unknown = sorted(set(options) - set(OPTION_FIELDS))
        if unknown:
            raise ValueError(f"unknown option {unknown[0]!r}; known: {', '.join(OPTION_FIELDS)}")
        return options


class Provider(_Frozen):
    """A service that generates images; one plugin declares one provider."""

    id: str
    """Stable id: `a4f`, `gitee`, `huggingface`, `modelscope`."""
    display_name: str
    model_prefix: str
    """Prefix of full model ids: `gitee` in `gitee/z-image-turbo`."""
    auth_prefix: str
    """Prefix of a token meant for this provider: `gitee` in `Bearer gitee:<token>`."""
    auth: AuthMode = "required"
    image_format: str = "png"
    base_url: str | None = None
    """The real service's base URL; `IMAGEGATE_<ID>_BASE_URL` overrides it."""
    key_url: str | None = None
    docs_url: str | None = None
    extra_token_env: tuple[str, ...] = ()
    """Environment variables read after `IMAGEGATE_<ID>_TOKEN` (HuggingFace: `HF_TOKEN`)."""
    distribution: str | None = None
    """The distribution that ships the plugin, for install hints: `imagegate-gitee`."""
    model_id_hint: str | None = None
    """Said when an id under this provider's prefix is unknown (how its ids are formed)."""
    quota_reset: str | None = "00:00+00:00"
    """When a spent daily quota comes back: local time of day with its UTC offset
    (`00:00+08:00` is midnight in Asia/Shanghai). None: quotas refill continuously (ZeroGPU),
    so a spent one waits only as long as the provider's answer says."""
    quota_scope: QuotaScope = "token"
    """What one quota answer spends: the whole token (`token`) or only the model (`model`,
    A4F's per-model free tier); an error's own `scope` overrides it."""
    unsupported: Unsupported = "drop"
    """A parameter a model does not take: dropped with a warning (`drop`), or a 400 naming
    what the model takes (`reject`, for endpoints declared by the user, where a parameter
    the model lacks is more likely a mistake); a request's `drop_unsupported` overrides."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def token_env(self) -> tuple[str, ...]:
        """The environment variables a token is read from, first match wins."""
        return (f"IMAGEGATE_{self._env_name}_TOKEN", *self.extra_token_env)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def base_url_env(self) -> str:
        return f"IMAGEGATE_{self._env_name}_BASE_URL"

    @property
    def _env_name(self) -> str:
        return self.id.upper().replace("-", "_")


class Model(_Frozen):
    """One model of one provider. `id` is the provider's own id (`Qwen/Qwen-Image-2512`)."""

    id: str
    display_name: str
    provider: Provider
    aliases: tuple[str, ...] = ()
    """Short names within the provider's prefix: `flux-2` for `ms/flux-2`."""
    capabilities: Capabilities = Field(default_factory=Capabilities)
    description: str | None = None
    family: str | None = None
    """The open model this is, shared by every provider serving the same weights
    (`z-image-turbo`, `flux-1-schnell`): `any/<family>` picks the best of them."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def full_id(self) -> str:
        """The id with its provider prefix: `ms/Qwen/Qwen-Image-2512`."""
        return f"{self.provider.model_prefix}/{self.id}"

    def __str__(self) -> str:
        return self.full_id


class ChatModel(_Frozen):
    """A chat (LLM) model of a provider, served by a plugin's optional `chat` hook; it
    shares its `Provider` (and so its tokens) with the provider's image models."""

    id: str
    display_name: str
    provider: Provider
    aliases: tuple[str, ...] = ()
    description: str | None = None
    context_length: int | None = None
    """Tokens of context, when the provider publishes it."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def full_id(self) -> str:
        """The id with its provider prefix: `a4f/provider-3/deepseek-v3`."""
        return f"{self.provider.model_prefix}/{self.id}"

    def __str__(self) -> str:
        return self.full_id
