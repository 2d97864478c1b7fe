"""The JSON bodies of the API: what a generation request may carry.

OpenAI's fields plus the spec's extensions at the top level (where the SDKs put
`extra_body`). Types are strict: `"n": "2"` is a 400, not a guess. Ranges that depend on the
model (steps, guidance, size) are the core's to check, with the model's own limits.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from imagegate.request import MAX_N, MAX_SEED

__all__ = ["IGNORED_OPENAI_FIELDS", "GenerationBody"]

# Fields of OpenAI's newer image models that no provider here has: accepted, so a client
# written for OpenAI works, and named in the response's warnings.
IGNORED_OPENAI_FIELDS = ("background", "moderation", "output_compression", "output_format")


_NOT_SENT = frozenset({"stream", "partial_images", *IGNORED_OPENAI_FIELDS})


class GenerationBody(BaseModel):
    """`POST /v1/images/generations`."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    prompt: str = Field(description="What to draw; at most 4000 characters.")
    model: str | None = Field(
        default=None,
        description="`gitee/z-image-turbo`, `ms/flux-2`, a bare HuggingFace id "
        "(`flux-1-schnell`); see GET /v1/models. Default: hf/z-image-turbo.",
    )
    n: int | None = Field(default=None, ge=1, le=MAX_N)
    size: str | None = Field(default=None, description="`WxH` or an aspect ratio like `16:9`.")
    quality: str | None = Field(default=None, description="`hd`/`high`: more steps by default.")
    response_format: Literal["url", "b64_json"] | None = None
    style: str | None = None
    user: str | None = Field(default=None, description="Accepted; never sent to a provider.")
    negative_prompt: str | None = None
    steps: int | None = Field(
        default=None, validation_alias=AliasChoices("steps", "num_inference_steps")
    )
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    guidance_scale: float | None = Field(
        default=None, validation_alias=AliasChoices("guidance_scale", "cfg_scale")
    )
    width: int | None = None
    height: int | None = None
    aspect_ratio: str | None = None
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
    output_compression: int | None = None
    output_format: str | None = None

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
