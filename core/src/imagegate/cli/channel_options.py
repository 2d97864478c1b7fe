"""The options of `imagegate channels add` that declare what a channel's models take, and
how `channels show` says it back."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from imagegate import Capabilities
    from imagegate.channels import ChannelModel

_RANGE = re.compile(r"^\s*(-?[\d.]+)\s*-\s*(-?[\d.]+)\s*:\s*(-?[\d.]+)\s*$")

CAPABILITY_OPTIONS = (
    "negative_prompt",
    "steps",
    "guidance",
    "seed",
    "sizes",
    "min_side",
    "max_side",
    "size_step",
    "max_images",
    "no_response_format",
    "family",
)


def capability_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The capability options, for the image models given with --model (or found)."""
    options = [
        click.option("--negative-prompt", is_flag=True, help="The models take a negative prompt."),
        click.option("--steps", metavar="MIN-MAX:DEFAULT", help="Steps they take, e.g. 1-20:9."),
        click.option("--guidance", metavar="MIN-MAX:DEFAULT", help="Guidance, e.g. 0-20:4.5."),
        click.option("--seed", is_flag=True, help="The models take a seed."),
        click.option("--sizes", metavar="WxH,...", help="The only sizes they make."),
        click.option("--min-side", type=int, metavar="PX", help="Smallest side (default 64)."),
        click.option("--max-side", type=int, metavar="PX", help="Largest side (default 4096)."),
        click.option("--size-step", type=int, metavar="PX", help="Sides are multiples of it."),
        click.option(
            "--max-images", type=int, metavar="N", help="Images one call returns (default 1)."
        ),
        click.option(
            "--no-response-format",
            is_flag=True,
            help="The endpoint refuses response_format (answers base64 anyway).",
        ),
        click.option("--family", metavar="ID", help="The open model served (z-image-turbo)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def declares_capabilities(options: dict[str, Any]) -> bool:
    return any(options.get(name) for name in CAPABILITY_OPTIONS)


def capabilities_from(options: dict[str, Any]) -> Capabilities:
    """The capabilities the options declare, over the permissive defaults."""
    from imagegate import FloatRange, IntRange
    from imagegate.channels import DISCOVERED
    from imagegate.request import parse_size

    update: dict[str, Any] = {}
    if options.get("negative_prompt"):
        update["negative_prompt"] = True
    if options.get("seed"):
        update["seed"] = True
    if options.get("steps"):
        low, high, default = _range(options["steps"], "--steps", int)
        update["steps"] = IntRange(min=low, max=high, default=default)
    if options.get("guidance"):
        low, high, default = _range(options["guidance"], "--guidance", float)
        update["guidance"] = FloatRange(min=low, max=high, default=default)
    if options.get("sizes"):
        sizes = [s.strip() for s in options["sizes"].split(",") if s.strip()]
        try:
            parsed = [parse_size(s) for s in sizes]
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sizes") from None
        if any(ratio is not None for _, _, ratio in parsed) or not parsed:
            raise click.BadParameter("give pixel sizes, e.g. 1024x1024,1536x1024", "--sizes")
        update["sizes"] = tuple(f"{w}x{h}" for w, h, _ in parsed)
        update["default_size"] = update["sizes"][0]
        update["min_side"] = min(min(w, h) for w, h, _ in parsed)
        update["max_side"] = max(max(w, h) for w, h, _ in parsed)
    for option, field in (("min_side", "min_side"), ("max_side", "max_side")):
        if options.get(option):
            update[field] = options[option]
    if options.get("size_step"):
        update["size_step"] = options["size_step"]
    if options.get("max_images"):
        if not 1 <= options["max_images"] <= 10:
            raise click.BadParameter("must be 1-10", param_hint="--max-images")
        update["max_images_per_call"] = options["max_images"]
    caps = DISCOVERED.model_copy(update=update)
    if caps.min_side > caps.max_side:
        raise click.BadParameter(
            f"--min-side {caps.min_side} is larger than --max-side {caps.max_side}"
        )
    return type(caps).model_validate(caps.model_dump())  # validated, not only copied


def declared_capabilities(model: ChannelModel) -> str:
    """One line: what a channel's model takes, and whether that was declared or assumed."""
    from imagegate import Model, Provider
    from imagegate.resolve import describe_takes

    provider = Provider(id="x", display_name="x", model_prefix="x", auth_prefix="x")
    takes = describe_takes(
        Model(
            id=model.id, display_name=model.id, provider=provider, capabilities=model.capabilities
        )
    )
    caps = model.capabilities
    extra = [f"up to {caps.max_images_per_call} image(s) a call"]
    if not model.response_format:
        extra.append("answers base64 (no response_format)")
    if model.family:
        extra.append(f"family {model.family}")
    if model.discovered:
        extra.append("assumed: found through GET /models")
    return f"{takes}; {'; '.join(extra)}"


def _range(text: str, option: str, kind: type) -> tuple[Any, Any, Any]:
    match = _RANGE.match(text)
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not MIN-MAX:DEFAULT (e.g. 1-20:9)", param_hint=option
        )
    try:
        low, high, default = (kind(match[i]) for i in (1, 2, 3))
    except ValueError:
        raise click.BadParameter(f"{text!r}: give numbers", param_hint=option) from None
    if not low <= default <= high:
        raise click.BadParameter(
            f"{text!r}: the default must lie within MIN-MAX", param_hint=option
        )
    return low, high, default
