"""Which models exist, which plugin owns each, and how a model id the user typed resolves.

Ids are `<prefix>/<model>`; the prefix is a provider's model prefix or its id
(`ms/flux-2`, `modelscope/flux-2`). A bare id is a HuggingFace model, as in the spec.
Lookup ignores case and knows each model's aliases; the canonical id is reported.

`any/<family>` names a family: every model whose plugin declares the same `Model.family`
(the same open weights at several providers). The index is derived from the models alone,
so a third-party plugin joins a family by declaring it; `imagegate.failover` serves it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import pluggy

from .chat import ChatIndex
from .errors import InvalidModel, NotInstalled
from .models import Capabilities, ChatModel, FloatRange, IntRange, Model, Provider

__all__ = [
    "DEFAULT_MODEL",
    "FAMILY_PREFIX",
    "FIRST_PARTY",
    "Catalog",
    "Family",
    "alias_names",
    "chat_alias_names",
]

DEFAULT_MODEL = "hf/z-image-turbo"
BARE_PREFIX = "hf"
FAMILY_PREFIX = "any"
"""`any/<family>`: the prefix is reserved for families, whatever plugins declare."""

# Prefixes of the first-party providers, for "install this plugin" hints.
FIRST_PARTY: dict[str, str] = {
    "a4f": "imagegate-a4f",
    "gitee": "imagegate-gitee",
    "hf": "imagegate-huggingface",
    "huggingface": "imagegate-huggingface",
    "ms": "imagegate-modelscope",
    "modelscope": "imagegate-modelscope",
}


def alias_names(model: Model) -> list[str]:
    """The other names of `model` as a user types them, the same in `imagegate models`,
    `/v1/models` and the docs: prefixed aliases, and for HuggingFace the bare names too."""
    prefix = model.provider.model_prefix
    names = [f"{prefix}/{alias}" for alias in model.aliases]
    if prefix == BARE_PREFIX:
        names += [model.id, *model.aliases]
    return names


def chat_alias_names(model: ChatModel) -> list[str]:
    """A chat model's other names as a user types them (prefixed), the same in
    `imagegate models` and `/v1/models`."""
    return [f"{model.provider.model_prefix}/{alias}" for alias in model.aliases]


@dataclass(frozen=True)
class Entry:
    model: Model
    plugin: object


@dataclass(frozen=True)
class Family:
    """One open model served by several providers: `any/<id>` picks the best member."""

    id: str
    members: tuple[Model, ...]
    """In the order the plugins were registered (the failover ranks them per request)."""
    capabilities: Capabilities
    """What every member takes: a request within these is honoured by all of them."""

    @property
    def full_id(self) -> str:
        return f"{FAMILY_PREFIX}/{self.id}"

    @property
    def display_name(self) -> str:
        return self.members[0].display_name

    def __str__(self) -> str:
        return self.full_id


class Catalog:
    """Every model the registered plugins serve, indexed for lookup."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.entries: list[Entry] = []
        self.providers: dict[str, Provider] = {}
        self.provider_plugins: dict[str, object] = {}
        self.token_prefixes: dict[str, Provider] = {}
        """Lower-cased auth prefix or provider id -> the provider a `prefix:token` is for."""
        self._by_prefix: dict[str, dict[str, Entry]] = {}
        self._family_entries: dict[str, list[Entry]] = {}
        for impl in pm.hook.list_models.get_hookimpls():
            for model in impl.function() or ():
                self._add(Entry(model, impl.plugin))
        self.chat = ChatIndex()
        """The chat models (the optional `list_chat_models` hook), apart from the images'."""
        for impl in pm.hook.list_chat_models.get_hookimpls():
            for chat_model in impl.function() or ():
                self.chat.add(chat_model, impl.plugin)
                self._add_provider(chat_model.provider, impl.plugin)
        self.families: dict[str, Family] = {
            name: Family(name, tuple(e.model for e in entries), shared_capabilities(entries))
            for name, entries in self._family_entries.items()
        }
        """Family id (lower case) -> its members, for `any/<family>`."""

    def _add(self, entry: Entry) -> None:
        provider = entry.model.provider
        self.entries.append(entry)
        self._add_provider(provider, entry.plugin)
        for prefix in {provider.model_prefix.lower(), provider.id.lower()}:
            index = self._by_prefix.setdefault(prefix, {})
            for name in (entry.model.id, *entry.model.aliases):
                index.setdefault(name.lower(), entry)
        if entry.model.family:
            self._family_entries.setdefault(entry.model.family.strip().lower(), []).append(entry)

    def _add_provider(self, provider: Provider, plugin: object) -> None:
        self.providers.setdefault(provider.id, provider)
        self.provider_plugins.setdefault(provider.id, plugin)
        for prefix in (provider.auth_prefix.lower(), provider.id.lower()):
            self.token_prefixes.setdefault(prefix, provider)

    def __iter__(self) -> Iterator[Model]:
        return (entry.model for entry in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def family(self, model_id: str | None) -> Family | None:
        """The family `any/<family>` names; None for any other id; `InvalidModel` (404,
        listing the families there are) for an unknown family."""
        prefix, sep, rest = (model_id or "").strip().partition("/")
        if not sep or prefix.lower() != FAMILY_PREFIX:
            return None
        found = self.families.get(rest.strip().lower())
        if found is not None:
            return found
        known = ", ".join(f.full_id for f in self.families.values()) or "none is installed"
        raise InvalidModel(
            f"unknown model family {model_id!r}; the families are: {known}. Run "
            "`imagegate models` to list every model and family.",
            param="model",
        )

    def member_entries(self, family: Family) -> list[Entry]:
        """The entries (models and the plugins serving them) of a family of this catalog."""
        return list(self._family_entries[family.id])

    def resolve(self, model_id: str | None) -> Entry:
        """The entry for a user-typed id, or `InvalidModel` with the closest known ids."""
        wanted = (model_id or DEFAULT_MODEL).strip()
        family = self.family(wanted)
        if family is not None:
            members = ", ".join(m.full_id for m in family.members)
            raise InvalidModel(
                f"{family.full_id} is a family of models ({members}), served by whichever "
                "can; it names no single model",
                param="model",
            )
        prefix, _, rest = wanted.partition("/")
        if not self.entries:
            needed = FIRST_PARTY.get(prefix.lower()) if rest else FIRST_PARTY[BARE_PREFIX]
            raise self._not_installed(wanted, needed, nothing_installed=True)
        if rest and prefix.lower() in self._by_prefix:
            found = self._by_prefix[prefix.lower()].get(rest.lower())
            if found:
                return found
            raise self._unknown(wanted, within=prefix.lower())
        if rest and prefix.lower() in FIRST_PARTY:
            raise self._not_installed(wanted, FIRST_PARTY[prefix.lower()])
        bare = self._by_prefix.get(BARE_PREFIX, {}).get(wanted.lower())
        if bare:
            return bare
        if BARE_PREFIX not in self._by_prefix and "/" not in wanted:
            raise self._not_installed(wanted, FIRST_PARTY[BARE_PREFIX])
        raise self._unknown(wanted, within=None)

    def _unknown(self, wanted: str, within: str | None) -> InvalidModel:
        names = {
            entry.model.full_id: entry
            for entry in self.entries
            if within is None
            or within
            in {entry.model.provider.model_prefix.lower(), entry.model.provider.id.lower()}
        }
        candidates = list(names) + [
            f"{e.model.provider.model_prefix}/{alias}"
            for e in names.values()
            for alias in e.model.aliases
        ]
        lowered = {c.lower(): c for c in candidates}
        close = difflib.get_close_matches(wanted.lower(), list(lowered), n=3, cutoff=0.4)
        hint = f" Did you mean: {', '.join(lowered[c] for c in close)}?" if close else ""
        provider = next(iter(names.values())).model.provider if within and names else None
        if provider is not None and provider.model_id_hint:
            hint = f" {provider.model_id_hint}.{hint}"
        return InvalidModel(
            f"unknown model {wanted!r}.{hint} Run `imagegate models` to list every model.",
            param="model",
        )

    def _not_installed(
        self, wanted: str, distribution: str | None, *, nothing_installed: bool = False
    ) -> NotInstalled:
        plugins = ", ".join(sorted(set(FIRST_PARTY.values())))
        suggestion = distribution or "imagegate-huggingface"
        if nothing_installed:
            message = (
                f"no provider plugin is installed, so model {wanted!r} cannot be served. "
                f"Install one: `pip install {suggestion}` (first-party plugins: {plugins})."
            )
        else:
            message = (
                f"model {wanted!r} needs the provider plugin {suggestion}, which is not "
                f"installed: `pip install {suggestion}`."
            )
        return NotInstalled(message, param="model")


def shared_capabilities(entries: Sequence[Entry]) -> Capabilities:
    """What every model of `entries` takes: the intersection of their capabilities."""
    caps = [e.model.capabilities for e in entries]
    first = caps[0]
    low_side = max(c.min_side for c in caps)
    high_side = max(low_side, min(c.max_side for c in caps))
    ratios = [c.aspect_ratios for c in caps if c.aspect_ratios]
    return Capabilities(
        negative_prompt=all(c.negative_prompt for c in caps),
        steps=_common(IntRange, [c.steps for c in caps]),
        guidance=_common(FloatRange, [c.guidance for c in caps]),
        seed=all(c.seed for c in caps),
        min_side=low_side,
        max_side=high_side,
        size_step=math.lcm(*(max(1, c.size_step) for c in caps)),
        default_size=first.default_size,
        aspect_ratios=tuple(r for r in ratios[0] if all(r in o for o in ratios))
        if ratios
        else None,
        max_images_per_call=min(c.max_images_per_call for c in caps),
        sizes=_shared_lists([c.sizes for c in caps if c.sizes]),
        max_ratio=min((c.max_ratio for c in caps if c.max_ratio), default=None),
        min_pixels=max((c.min_pixels for c in caps if c.min_pixels), default=None),
        max_pixels=min((c.max_pixels for c in caps if c.max_pixels), default=None),
        options={
            name: _shared_lists([c.options[name] for c in caps if c.options[name]]) or ()
            for name in first.options
            if all(name in c.options for c in caps)
        },
    )


def _shared_lists(lists: Sequence[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The values every list holds, in the first one's order (None for no lists)."""
    if not lists:
        return None
    return tuple(v for v in lists[0] if all(v in other for other in lists[1:]))


R = TypeVar("R", IntRange, FloatRange)


def _common(kind: type[R], ranges: Sequence[R | None]) -> R | None:
    """The range every member accepts (None when one takes no such value, or none overlap)."""
    given = [r for r in ranges if r is not None]
    if len(given) < len(ranges):
        return None
    low, high = max(r.min for r in given), min(r.max for r in given)
    if low > high:
        return None
    return kind(min=low, max=high, default=min(high, max(low, given[0].default)))
