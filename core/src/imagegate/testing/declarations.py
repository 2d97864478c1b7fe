"""What `check_plugin` can tell without calling a provider: hooks, models, providers.

Each function returns problems as sentences that say what is wrong and what to change.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterable
from typing import Any

from .. import hookspecs
from ..catalog import FIRST_PARTY
from ..models import Capabilities, Model, Provider
from ..request import ASPECT_RATIOS, parse_size

__all__ = ["HOOKS", "check_hooks", "check_models"]

HOOKS = tuple(name for name, spec in vars(hookspecs).items() if hasattr(spec, "imagegate_spec"))
"""Every hook of `imagegate.hookspecs`: list_models, validate, generate, then the optional
close, list_chat_models and chat."""
_MARK = "imagegate_impl"  # the attribute pluggy's HookimplMarker("imagegate") sets
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PREFIX = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_FAMILY = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_RESET = re.compile(r"^([01]\d|2[0-3]):[0-5]\d[+-]([01]\d|2[0-3]):[0-5]\d$")
_FORMATS = {"png", "webp", "jpeg", "jpg", "gif"}


def check_hooks(plugin: object) -> list[str]:
    """Hook functions that pluggy would ignore or refuse, before registering the plugin."""
    problems: list[str] = []
    if inspect.isclass(plugin):
        name = plugin.__name__
        return [f"{name} is a class: pass an instance, `check_plugin({name}())`"]
    marked = {}
    for name in dir(plugin):
        if name.startswith("__"):
            continue
        try:
            value = getattr(plugin, name)
        except Exception:
            continue
        if callable(value) and hasattr(value, _MARK):
            marked[name] = value
        elif callable(value) and name in HOOKS:
            problems.append(
                f"{name} is not marked as a hook: put `@imagegate.hookimpl` above `def {name}`"
            )
    for name in marked:
        if name not in HOOKS:
            close = [h for h in HOOKS if _similar(h, name)]
            also = f" (did you mean {close[0]}?)" if close else ""
            problems.append(
                f"{name} is marked @imagegate.hookimpl but is no imagegate hook{also}; "
                f"the hooks are {', '.join(HOOKS)}"
            )
    for name in ("list_models", "generate"):
        if name not in marked and not any(name in p for p in problems):
            problems.append(
                f"no {name} hook: a provider plugin implements list_models and generate"
            )
    lister = marked.get("list_models")
    if lister is not None and inspect.iscoroutinefunction(lister):
        problems.append(
            "list_models is `async def`: make it a plain `def` (it runs at start-up, "
            "offline, and returns the models at once)"
        )
    checker = marked.get("validate")
    if checker is not None and inspect.iscoroutinefunction(checker):
        problems.append("validate is `async def`: make it a plain `def` returning the problems")
    chat_lister = marked.get("list_chat_models")
    if chat_lister is not None and inspect.iscoroutinefunction(chat_lister):
        problems.append(
            "list_chat_models is `async def`: make it a plain `def` (like list_models, it runs "
            "at start-up, offline)"
        )
    for have, lack in (("chat", "list_chat_models"), ("list_chat_models", "chat")):
        if have in marked and lack not in marked:
            problems.append(
                f"{have} without {lack}: a plugin that serves chat models implements both "
                "(chat is called only on the plugin that listed the model)"
            )
    closer = marked.get("close")
    if closer is not None and inspect.iscoroutinefunction(closer):
        problems.append(
            "close is `async def`: make it a plain `def` (a gate calls it while closing, at "
            "interpreter exit too, and it must return within about a second)"
        )
    return problems


def check_models(models: Iterable[Any]) -> list[str]:
    """Declarations that would route, validate or authenticate wrongly."""
    problems: list[str] = []
    found = list(models)
    if not found:
        return ["list_models returned no models: return the Model objects the plugin serves"]
    providers: dict[str, Provider] = {}
    names: dict[tuple[str, str], str] = {}
    for index, model in enumerate(found):
        if not isinstance(model, Model):
            problems.append(
                f"list_models item {index} is a {type(model).__name__}, not an imagegate.Model"
            )
            continue
        provider = model.provider
        known = providers.setdefault(provider.id, provider)
        if known != provider:
            problems.append(
                f"{model.full_id}: its Provider differs from another model's with id "
                f"{provider.id!r}; declare one Provider and share it"
            )
        where = model.full_id
        if not model.id.strip() or model.id != model.id.strip():
            problems.append(f"{where}: model id {model.id!r} is empty or has spaces around it")
        if not model.display_name.strip():
            problems.append(f"{where}: display_name is empty; give the model a readable name")
        for name in (model.id, *model.aliases):
            key = (provider.model_prefix.lower(), name.lower())
            if names.get(key) == where:
                continue  # an alias that only repeats the model's own id
            if key in names:
                problems.append(
                    f"{where}: {provider.model_prefix}/{name} also names {names[key]} "
                    "(ids and aliases are compared ignoring case); rename one"
                )
            else:
                names[key] = where
        if model.family is not None and not _FAMILY.match(model.family):
            problems.append(
                f"{where}: family {model.family!r} is not a lower-case name like "
                "`flux-1-schnell` (letters, digits, `.`, `-`)"
            )
        problems += [f"{where}: {p}" for p in capability_problems(model.capabilities)]
    for provider in providers.values():
        problems += [f"provider {provider.id!r}: {p}" for p in provider_problems(provider)]
    return problems


def provider_problems(provider: Provider) -> list[str]:
    problems = []
    if not _ID.match(provider.id):
        problems.append(
            "id must be lower-case letters, digits and `-` (it names IMAGEGATE_<ID>_TOKEN)"
        )
    for attribute in ("model_prefix", "auth_prefix"):
        value = getattr(provider, attribute)
        if not _PREFIX.match(value):
            problems.append(
                f"{attribute} {value!r} must be lower-case letters, digits, `.`, `_` or `-` "
                "(no `/`, `:` or spaces: it is written before them)"
            )
    if "any" in (provider.id, provider.model_prefix):
        problems.append("the prefix `any/` is reserved for model families: choose another")
    for attribute in ("id", "model_prefix", "auth_prefix"):
        owner = FIRST_PARTY.get(getattr(provider, attribute).lower())
        if owner and provider.distribution != owner:
            problems.append(
                f"{attribute} {getattr(provider, attribute)!r} belongs to {owner}: choose "
                "your own (or set distribution=... if this is that plugin)"
            )
    if not provider.display_name.strip():
        problems.append("display_name is empty; give the provider a readable name")
    if provider.auth == "required" and not provider.key_url:
        problems.append("auth is required but key_url is unset: say where users get a key")
    if provider.image_format not in _FORMATS:
        problems.append(
            f"image_format {provider.image_format!r} is not one of {', '.join(sorted(_FORMATS))}"
        )
    if provider.base_url is not None and not provider.base_url.startswith(("https://", "http://")):
        problems.append(f"base_url {provider.base_url!r} is not an http(s) URL")
    if provider.quota_reset is not None and not _RESET.match(provider.quota_reset):
        problems.append(
            f"quota_reset {provider.quota_reset!r} is not HH:MM with a UTC offset "
            "(`00:00+08:00`), nor None"
        )
    return problems


def capability_problems(caps: Capabilities) -> list[str]:
    problems = []
    for name in ("steps", "guidance"):
        span = getattr(caps, name)
        if span is not None and not span.min <= span.default <= span.max:
            problems.append(
                f"{name} default {span.default} is outside {span.min}..{span.max}; "
                "make min <= default <= max"
            )
    if caps.steps is not None and caps.steps.min < 1:
        problems.append(f"steps min {caps.steps.min} is below 1")
    if caps.min_side < 1 or caps.min_side > caps.max_side:
        problems.append(
            f"min_side {caps.min_side} and max_side {caps.max_side} allow no size; "
            "make 1 <= min_side <= max_side"
        )
    step = getattr(caps, "size_step", 1)
    if step < 1:
        problems.append(f"size_step {step} must be 1 (any size) or more")
    try:
        width, height, _ = parse_size(caps.default_size)
    except ValueError as exc:
        problems.append(f"default_size: {exc}")
    else:
        for side in (width, height):
            if not caps.min_side <= side <= caps.max_side:
                problems.append(
                    f"default_size {caps.default_size} is outside the sides this model takes "
                    f"({caps.min_side}..{caps.max_side}); change one of them"
                )
                break
            if step >= 1 and side % step:
                problems.append(
                    f"default_size {caps.default_size} is not a multiple of size_step {step}"
                )
                break
    for ratio in caps.aspect_ratios or ():
        if ratio not in ASPECT_RATIOS:
            problems.append(f"aspect ratio {ratio!r} is not one of {', '.join(ASPECT_RATIOS)}")
    if caps.max_images_per_call < 1:
        problems.append(f"max_images_per_call {caps.max_images_per_call} must be 1 or more")
    return problems


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() > 0.7
