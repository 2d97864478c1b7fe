"""The request a caller makes, and the problems validation finds in it.

An `ImageRequest` arrives with only what the caller chose. The core resolves it against the
model (see `imagegate.resolve`): fills `width`/`height` from `size`, defaults for steps and
guidance, a seed, and the `n` of one provider call. That resolved copy is what a plugin's
`generate` receives, so plugins read values, never defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from .errors import InvalidRequest

__all__ = [
    "ASPECT_RATIOS",
    "CALL_KEYWORDS",
    "MAX_PROMPT_LENGTH",
    "MAX_SEED",
    "ImageRequest",
    "Problem",
    "build_request",
    "check_one_size",
    "parse_size",
]

MAX_PROMPT_LENGTH = 4000
MAX_SEED = 2**31 - 1
MAX_N = 10

CALL_KEYWORDS = (
    "token",
    "progress",
    "timeout",
    "fallbacks",
    "history",
    "keep_images",
    "resume",
    "enhance",
)
"""What `generate`/`agenerate` take besides the request's own fields."""

# Pixel sizes used when a caller asks for an aspect ratio (about one megapixel each).
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "4:3": (1152, 864),
    "3:4": (864, 1152),
    "3:2": (1152, 768),
    "2:3": (768, 1152),
    "16:9": (1280, 720),
    "9:16": (720, 1280),
}

_PIXELS = re.compile(r"^\s*(\d{1,5})\s*[xX×*]\s*(\d{1,5})\s*$")
_RATIO = re.compile(r"^\s*(\d{1,2})\s*:\s*(\d{1,2})\s*$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: the field it concerns and what to do about it."""

    param: str
    message: str


class ImageRequest(BaseModel):
    """An image-generation request. Unset values are filled from the model's capabilities."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    prompt: str
    model: str | None = None
    negative_prompt: str | None = None
    size: str | None = None
    """`WxH` in pixels, or an aspect ratio from `ASPECT_RATIOS` (`16:9`)."""
    width: int | None = Field(default=None, ge=1)
    height: int | None = Field(default=None, ge=1)
    aspect_ratio: str | None = None
    """Set when the caller asked for a ratio; models that take ratios read it."""
    steps: int | None = Field(
        default=None, validation_alias=AliasChoices("steps", "num_inference_steps")
    )
    guidance_scale: float | None = Field(
        default=None, validation_alias=AliasChoices("guidance_scale", "cfg_scale", "guidance")
    )
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    n: int = Field(default=1, ge=1, le=MAX_N)
    response_format: Literal["url", "b64_json"] = "url"
    quality: str | None = None
    """OpenAI's quality: sent to models that declare it (GPT Image: low, medium, high,
    auto); for the others `hd`/`high` asks for more steps when none are given."""
    style: str | None = None
    background: str | None = None
    """OpenAI's GPT Image fields, sent only to models that declare them
    (`Capabilities.options`): background, moderation, output_format, output_compression."""
    moderation: str | None = None
    output_format: str | None = None
    output_compression: int | None = Field(default=None, ge=0, le=100)
    drop_unsupported: bool | None = None
    """A parameter the model does not take: True drops it with a warning, False is an
    error naming what the model takes; None: as its provider says (`Provider.unsupported`)."""
    user: str | None = None
    """OpenAI's end-user id: accepted for compatibility, never sent to a provider."""

    @field_validator("prompt")
    @classmethod
    def _prompt_is_usable(cls, prompt: str) -> str:
        if not prompt.strip():
            raise ValueError("prompt must not be empty or only whitespace")
        if len(prompt) > MAX_PROMPT_LENGTH:
            raise ValueError(
                f"prompt is {len(prompt)} characters; at most {MAX_PROMPT_LENGTH} are allowed"
            )
        return prompt

    @field_validator("size")
    @classmethod
    def _size_is_parseable(cls, size: str | None) -> str | None:
        if size is None or not size.strip():
            return None
        parse_size(size)
        return size.strip()

    @field_validator("aspect_ratio")
    @classmethod
    def _ratio_is_known(cls, ratio: str | None) -> str | None:
        if ratio is None:
            return None
        _, _, canonical = _parse_ratio(ratio)
        return canonical


def parse_size(size: str) -> tuple[int, int, str | None]:
    """`(width, height, ratio)` for `1024x768` or `16:9`; ratio is None for pixel sizes."""
    if match := _PIXELS.match(size):
        return int(match[1]), int(match[2]), None
    if _RATIO.match(size):
        return _parse_ratio(size)
    allowed = ", ".join(ASPECT_RATIOS)
    raise ValueError(f"size {size!r} is neither WxH (e.g. 1024x1024) nor a ratio ({allowed})")


def _parse_ratio(text: str) -> tuple[int, int, str]:
    match = _RATIO.match(text)
    canonical = f"{match[1]}:{match[2]}" if match else text
    if canonical not in ASPECT_RATIOS:
        raise ValueError(
            f"aspect ratio {text!r} is not one of {', '.join(ASPECT_RATIOS)}; "
            "give a pixel size WxH instead"
        )
    width, height = ASPECT_RATIOS[canonical]
    return width, height, canonical


def check_one_size(request: ImageRequest) -> ImageRequest:
    """`size`, `width`/`height` and `aspect_ratio` say the same thing: values a caller gave
    that disagree are an error, never one of them silently winning. (Checked on what the
    caller gave only: a resolved request carries the size and the pixels it became.)"""
    given = request.size or request.aspect_ratio
    if not given:
        return request
    width, height, ratio = parse_size(given)
    clash = [
        f"{name}={value!r}"
        for name, value, implied in (
            ("width", request.width, width),
            ("height", request.height, height),
            ("aspect_ratio", request.aspect_ratio if request.size else None, ratio),
        )
        if value is not None and value != implied
    ]
    if clash:
        name = "size" if request.size else "aspect_ratio"
        raise InvalidRequest(
            f"{name} {given!r} and {' and '.join(clash)} disagree; give the size one way: "
            "size, width and height, or aspect_ratio",
            param=name,
        )
    return request


def build_request(prompt: str | ImageRequest, **params: Any) -> ImageRequest:
    """An `ImageRequest` from keyword arguments, or `InvalidRequest` naming the bad field."""
    params = {key: value for key, value in params.items() if value is not None}
    try:
        if isinstance(prompt, ImageRequest):
            # a request given back (`result.request`) is resolved already: its pixels are
            # what its size became, so only the caller's new values are checked
            if not params:
                return prompt
            request = ImageRequest.model_validate(
                {**prompt.model_dump(exclude_none=True), **params}
            )
            return check_one_size(request) if _size_fields(params) else request
        return check_one_size(ImageRequest.model_validate({"prompt": prompt, **params}))
    except ValidationError as exc:
        raise invalid_request_from(exc) from None


def _size_fields(params: dict[str, Any]) -> bool:
    return any(name in params for name in ("size", "width", "height", "aspect_ratio"))


def invalid_request_from(exc: ValidationError) -> InvalidRequest:
    """The first pydantic error as an `InvalidRequest` with `param` set to the field."""
    error = exc.errors(include_url=False)[0]
    param = ".".join(str(part) for part in error["loc"]) or "request"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = f"unknown keyword {param!r}; allowed: {', '.join(accepted_keywords())}"
    elif error["type"] == "literal_error":
        message = f"{param}: {message}"
    elif not message.startswith(param):
        message = f"{param}: {message} (got {error.get('input')!r})"
    return InvalidRequest(message, param=param)


def accepted_keywords() -> list[str]:
    """Every keyword `generate` takes, aliases in parentheses: `steps (num_inference_steps)`."""
    names = []
    for name, field in ImageRequest.model_fields.items():
        choices = getattr(field.validation_alias, "choices", None) or ()
        aliases = [c for c in choices if isinstance(c, str) and c != name]
        names.append(f"{name} ({', '.join(aliases)})" if aliases else name)
    return [*names, *CALL_KEYWORDS]
