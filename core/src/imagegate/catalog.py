"""Which models exist, which plugin owns each, and how a model id the user typed resolves.

Ids are `<prefix>/<model>`; the prefix is a provider's model prefix or its id
(`ms/flux-2`, `modelscope/flux-2`). A bare id is a HuggingFace model, as in the spec.
Lookup ignores case and knows each model's aliases; the canonical id is reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

import pluggy

from .errors import InvalidModel, NotInstalled
from .models import Model, Provider

__all__ = ["DEFAULT_MODEL", "FIRST_PARTY", "Catalog", "alias_names"]

DEFAULT_MODEL = "hf/z-image-turbo"
BARE_PREFIX = "hf"

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


@dataclass(frozen=True)
class Entry:
    model: Model
    plugin: object


class Catalog:
    """Every model the registered plugins serve, indexed for lookup."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.entries: list[Entry] = []
        self.providers: dict[str, Provider] = {}
        self.provider_plugins: dict[str, object] = {}
        self.token_prefixes: dict[str, Provider] = {}
        """Lower-cased auth prefix or provider id -> the provider a `prefix:token` is for."""
        self._by_prefix: dict[str, dict[str, Entry]] = {}
        for impl in pm.hook.list_models.get_hookimpls():
            for model in impl.function() or ():
                self._add(Entry(model, impl.plugin))

    def _add(self, entry: Entry) -> None:
        provider = entry.model.provider
        self.entries.append(entry)
        self.providers.setdefault(provider.id, provider)
        self.provider_plugins.setdefault(provider.id, entry.plugin)
        for prefix in (provider.auth_prefix.lower(), provider.id.lower()):
            self.token_prefixes.setdefault(prefix, provider)
        for prefix in {provider.model_prefix.lower(), provider.id.lower()}:
            index = self._by_prefix.setdefault(prefix, {})
            for name in (entry.model.id, *entry.model.aliases):
                index.setdefault(name.lower(), entry)

    def __iter__(self) -> Iterator[Model]:
        return (entry.model for entry in self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def resolve(self, model_id: str | None) -> Entry:
        """The entry for a user-typed id, or `InvalidModel` with the closest known ids."""
        wanted = (model_id or DEFAULT_MODEL).strip()
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
