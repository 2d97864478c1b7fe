"""The JSON the API speaks: what a generation request may carry, and every answer's shape.

OpenAI's fields plus the spec's extensions at the top level (where the SDKs put
`extra_body`). Types are strict: `"n": "2"` is a 400, not a guess. What holds for every
model (a prompt that is not blank, `n`, the size's form) is checked here and published in
/openapi.json; ranges that depend on the model (steps, guidance, each side) are the core's to
check, with the model's own limits. The answer models only describe: the routes write JSON
themselves, faster.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from imagegate.models import AuthMode, Capabilities
from imagegate.request import ASPECT_RATIOS, MAX_N, MAX_PROMPT_LENGTH, MAX_SEED
from imagegate.results import ChainStep

__all__ = [
    "IGNORED_OPENAI_FIELDS",
    "SIZE_PATTERN",
    "ChatModelEntry",
    "ErrorResponse",
    "GenerationBody",
    "Health",
    "ImagesResponse",
    "ModelEntry",
    "ModelList",
    "ModelListing",
    "accepted_fields",
]

# Fields of OpenAI's newer image models that no provider here has: accepted, so a client
# written for OpenAI works, and named in the response's warnings. (GPT Image's background,
# moderation, output_format and output_compression go to the core: sent to the models that
# declare them, through a channel, dropped with a warning or refused by the others.)
IGNORED_OPENAI_FIELDS = (
    "safety_identifier",
    "complexity",
    "frame_count",
    "frame_duration_ms",
    "svg",
)

_RATIOS = "|".join(ratio.replace(":", " *: *") for ratio in ASPECT_RATIOS)
SIZE_PATTERN = rf"^ *(?:[Aa][Uu][Tt][Oo]|[0-9]{{1,5}} *[xX×*] *[0-9]{{1,5}}|{_RATIOS}) *$"
"""`auto`, `WxH`, or one of the aspect ratios; whether a size suits the model is the core's
to say (each model has its own limits)."""


_NOT_SENT = frozenset({"stream", "partial_images", *IGNORED_OPENAI_FIELDS})


class GenerationBody(BaseModel):
    """`POST /v1/images/generations`."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, title="GenerationRequest")

    prompt: str = Field(
        min_length=1,
        max_length=MAX_PROMPT_LENGTH,
        pattern=r"\S",
        description=f"What to draw: at most {MAX_PROMPT_LENGTH} characters, not blank.",
    )
    model: str | None = Field(
        default=None,
        description="`gitee/z-image-turbo`, `ms/flux-2`, a bare HuggingFace id "
        "(`flux-1-schnell`); see GET /v1/models. Default: hf/z-image-turbo.",
    )
    n: int | None = Field(default=None, ge=1, le=MAX_N, description="How many images (1-10).")
    size: str | None = Field(
        default=None,
        pattern=SIZE_PATTERN,
        description=f"`WxH` in pixels, an aspect ratio ({', '.join(ASPECT_RATIOS)}) or `auto`; "
        "not together with width/height or aspect_ratio that disagree with it.",
    )
    quality: str | None = Field(
        default=None,
        description="GPT Image models (channels): low, medium, high or auto, as the model "
        "declares. Elsewhere `hd`/`high`: more steps when none are given; `standard`/`auto`: "
        "the model's default; any other value is ignored, with a warning.",
    )
    response_format: Literal["url", "b64_json"] | None = None
    style: str | None = Field(default=None, description="Ignored with a warning: no style here.")
    user: str | None = Field(default=None, description="Accepted; never sent to a provider.")
    negative_prompt: str | None = None
    steps: int | None = Field(
        default=None,
        validation_alias=AliasChoices("steps", "num_inference_steps"),
        description="Inference steps (alias `num_inference_steps`), within the model's range.",
    )
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    guidance_scale: float | None = Field(
        default=None,
        validation_alias=AliasChoices("guidance_scale", "cfg_scale"),
        description="Guidance (alias `cfg_scale`), within the model's range.",
    )
    width: int | None = Field(default=None, ge=1, description="Pixels, with height.")
    height: int | None = Field(default=None, ge=1, description="Pixels, with width.")
    aspect_ratio: str | None = Field(
        default=None, description=f"Instead of a size: {', '.join(ASPECT_RATIOS)}."
    )
    stream: bool | None = Field(
        default=None, description="Answer with Server-Sent Events, as OpenAI's Images API."
    )
    partial_images: int | None = Field(
        default=None,
        ge=0,
        le=3,
        description="Previews to stream before each image, where the provider makes them.",
    )
    background: str | None = None
    moderation: str | None = None
    output_compression: int | None = Field(default=None, ge=0, le=100)
    output_format: str | None = None
    drop_unsupported: bool | None = Field(
        default=None,
        description="true: a parameter the model does not take is dropped with a warning "
        "instead of a 400 (channels refuse them by default).",
    )
    enhance: bool | str | None = Field(
        default=None,
        description="true (or a chat model's id): a chat model rewrites the prompt first; "
        "each image's revised_prompt says what was drawn.",
    )
    safety_identifier: str | None = Field(
        default=None, description="Accepted (OpenAI's abuse tracking); never sent to a provider."
    )
    complexity: str | None = None
    frame_count: int | None = None
    frame_duration_ms: int | None = None
    svg: dict | None = None

    def generate_kwargs(self) -> tuple[dict, list[str]]:
        """Keyword arguments for `Gate.agenerate`, and warnings about ignored fields."""
        # the fields as they are (no serialiser pass: this runs on every request)
        # fields not given are None: only those given are looked at
        given = self.__dict__
        params = {k: given[k] for k in self.model_fields_set - _NOT_SENT if given[k] is not None}
        if params.get("size", "").strip().lower() == "auto":
            del params["size"]
        warnings = [
            f"{name} ignored: no imagegate provider supports it"
            for name in IGNORED_OPENAI_FIELDS
            if getattr(self, name) is not None
        ]
        return params, warnings


def accepted_fields() -> list[str]:
    """The body's fields, aliases in parentheses, for the unknown-field message."""
    names = []
    for name, field in GenerationBody.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None) or ()
        aliases = [c for c in choices if isinstance(c, str) and c != name]
        names.append(f"{name} ({', '.join(aliases)})" if aliases else name)
    return names


# -- answers (documentation only) ------------------------------------------------------------


class _Answer(BaseModel):
    # every field published: an answer with one more than described fails the schema test
    model_config = ConfigDict(extra="forbid")


class ImageData(_Answer):
    url: str | None = Field(default=None, description="Absent with b64_json.")
    b64_json: str | None = Field(default=None, description="Absent with url.")
    seed: int | None = Field(description="The seed used; null for a model that takes none.")
    expires_at: int | None = Field(
        default=None,
        description="With url: unix time until which the stored image is served (the "
        "retention period); null for a provider's own link passed through. Absent with "
        "b64_json.",
    )
    revised_prompt: str | None = None


class ImagesResponse(_Answer):
    created: int
    data: list[ImageData]
    model: str = Field(description="The full id of the model that drew the images.")
    provider: str
    warnings: list[str] | None = Field(
        default=None, description="Every value dropped or changed; absent when none."
    )
    chain: list[ChainStep] | None = Field(
        default=None,
        description="With failover (`any/<family>`, fallbacks): what became of each model "
        "tried; absent otherwise.",
    )


class ErrorDetail(_Answer):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorResponse(_Answer):
    """OpenAI's error envelope."""

    error: ErrorDetail


class FamilyMember(_Answer):
    id: str
    provider: str
    auth: AuthMode


class _ModelFields(_Answer):
    """What every entry of GET /v1/models has, image or chat."""

    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    display_name: str
    aliases: list[str] = Field(description="Other names that work in a request.")
    auth: AuthMode


class ModelEntry(_ModelFields):
    """An image model, or a family of them (`any/<family>`)."""

    type: Literal["image"] = Field(description="`image`: for POST /v1/images/generations.")
    provider: str = Field(description="The provider's name; `any` for a family.")
    image_format: str | None = Field(description="null for a family whose members differ.")
    capabilities: Capabilities = Field(description="For a family: what every member takes.")
    family: str | None = Field(default=None, description="Set on a family (`any/<family>`).")
    members: list[FamilyMember] | None = Field(
        default=None, description="A family's models, in no particular order."
    )


class ChatModelEntry(_ModelFields):
    """A chat model, for POST /v1/chat/completions and the `enhance` extension."""

    type: Literal["chat"] = Field(description="`chat`: for POST /v1/chat/completions.")
    provider: str = Field(description="The provider's name.")
    context_length: int | None = Field(description="Tokens of context; null when unknown.")


ModelListing = Annotated[ModelEntry | ChatModelEntry, Field(discriminator="type")]
"""One entry of GET /v1/models: `type` says which kind."""


class ModelList(_Answer):
    object: Literal["list"]
    data: list[ModelListing]


class StateHealth(_Answer):
    backend: str = Field(description="Where key health lives: `sqlite`, `memory`, `redis`.")
    degraded: str | None = Field(
        description="Why the store is not the one configured (it fell back), or null."
    )


class StorageHealth(_Answer):
    history: bool = Field(description="Whether this server records a history.")
    images: str = Field(description="Where stored images live: `local`, `memory`, `s3`.")
    retention_seconds: float = Field(description="How long images and records are kept.")
    pass_links: list[str] = Field(description="Providers whose own links are passed through.")
    degraded: list[str] | None = Field(
        default=None,
        description="What does not persist now (images kept in memory, an image store that "
        "cannot be reached).",
    )


class Health(_Answer):
    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="`degraded`: the state store or the image store is not the one "
        "configured; `unavailable` (with HTTP 503): the shared state store or the shared "
        "image store (S3) cannot be reached."
    )
    version: str
    providers: list[str]
    models: int
    protected: bool
    state: StateHealth
    storage: StorageHealth


def schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(ref_template="#/components/schemas/{model}")
