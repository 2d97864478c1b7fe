"""Which models may serve a request: a family's members, or a model and its fallbacks.

Settings come from `Gate(prefer=..., fallbacks=...)` or the environment:

    IMAGEGATE_PREFER=hf,gitee,ms,a4f          providers (id or prefix), best first
    IMAGEGATE_FALLBACKS="gitee/FLUX.1-dev=ms/flux-1,a4f/provider-4/flux-schnell;hf/z-image-turbo=any/z-image-turbo"

A fallback may be a family (`any/<family>`), which stands for its members, best first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .bounds import MAX_TOKENS
from .credentials import check_tokens, split_tokens
from .errors import InvalidModel, InvalidRequest

if TYPE_CHECKING:
    from .catalog import Catalog, Entry
    from .gate import Gate

__all__ = [
    "FALLBACKS_ENV",
    "PREFER_ENV",
    "ChainPlan",
    "check_fallbacks",
    "parse_fallbacks",
    "parse_prefer",
    "plan_chain",
    "split_chain_tokens",
]

PREFER_ENV = "IMAGEGATE_PREFER"
FALLBACKS_ENV = "IMAGEGATE_FALLBACKS"

Fallbacks = Mapping[str, Sequence[str] | str]


@dataclass(frozen=True)
class ChainPlan:
    label: str
    """How messages name the whole chain: `any/z-image-turbo`, `gitee/FLUX.1-dev and its
    fallbacks`."""
    entries: list[tuple[Entry, int, bool]]
    """Every model, with its group (the request's model or family is group 0, each
    fallback the next) and whether the group is a family (ranked per request) or explicit
    (kept in the order given)."""
    primary: Entry | None
    """The model asked for, when it is one model: an unprefixed token is for its provider."""


def parse_prefer(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """`hf,gitee` (or a list) as lower-case provider names, best first."""
    if value is None:
        return ()
    return tuple(name.lower() for name in split_tokens(value))


def parse_fallbacks(value: str | Fallbacks | None) -> dict[str, tuple[str, ...]]:
    """`A=B,C;D=E` (or a mapping of model -> models) as a dict; InvalidRequest naming the
    setting when it cannot be read."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k).strip(): tuple(split_tokens(v)) for k, v in value.items() if str(k).strip()}
    chains: dict[str, tuple[str, ...]] = {}
    for part in value.replace("\n", ";").split(";"):
        if not part.strip():
            continue
        model, sep, rest = part.partition("=")
        if not sep or not model.strip() or not split_tokens(rest):
            raise InvalidRequest(
                f"fallbacks: {part.strip()!r} is not MODEL=FALLBACK[,FALLBACK...] "
                "(e.g. gitee/FLUX.1-dev=ms/flux-1; several separated by ';')",
                param="fallbacks",
                hint=f"check {FALLBACKS_ENV} or the --fallback options",
            )
        chains[model.strip()] = chains.get(model.strip(), ()) + tuple(split_tokens(rest))
    return chains


def check_fallbacks(gate: Gate, fallbacks: str | Fallbacks | None = None) -> None:
    """InvalidModel (naming the setting) unless every model of `fallbacks` and of the
    gate's own fallbacks is known: a server checks its setting once, at start."""
    catalog = gate.catalog
    for chains in (gate.fallbacks, parse_fallbacks(fallbacks)):
        for model, extra in chains.items():
            key = _canonical(catalog, model)
            for wanted in extra:
                _expand(catalog, wanted, 1, key)


def plan_chain(
    gate: Gate, model_id: str | None, fallbacks: Sequence[str] | str | Fallbacks | None
) -> ChainPlan | None:
    """The chain for a request's model, or None when it is one model without fallbacks."""
    catalog = gate.catalog
    family = catalog.family(model_id)
    head: Entry | None = None
    if family is None:
        if not fallbacks and not gate.fallbacks:
            return None
        head = catalog.resolve(model_id)
        key = head.model.full_id
    else:
        key = family.full_id
    if isinstance(fallbacks, (str, Sequence)) and not isinstance(fallbacks, Mapping):
        extra = tuple(split_tokens(fallbacks))
    else:
        extra = _lookup(catalog, parse_fallbacks(fallbacks), key) or _lookup(
            catalog, gate.fallbacks, key
        )
    if head is not None and not extra:
        return None
    entries: list[tuple[Entry, int, bool]] = []
    if family is not None:
        entries += [(e, 0, True) for e in catalog.member_entries(family)]
    else:
        assert head is not None
        entries.append((head, 0, False))
    for group, wanted in enumerate(extra, start=1):
        entries += _expand(catalog, wanted, group, key)
    seen: set[str] = set()
    unique = []
    for item in entries:
        if item[0].model.full_id not in seen:
            seen.add(item[0].model.full_id)
            unique.append(item)
    label = key if head is None else f"{key} and its fallbacks"
    return ChainPlan(label, unique, head)


def split_chain_tokens(
    gate: Gate, plan: ChainPlan, token: str | Sequence[str] | None
) -> dict[str, list[str]]:
    """The caller's tokens by provider id: a prefixed one (`gitee:...`) for its provider,
    an unprefixed one for the model asked for; never one provider's token to another."""
    if not token:
        return {}
    owners = gate.catalog.token_prefixes
    providers = {entry.model.provider.id: entry.model.provider for entry, _, _ in plan.entries}
    found: dict[str, list[str]] = {}
    values = split_tokens(token)
    check_tokens(values, limit=MAX_TOKENS)  # per request, whichever providers they are for
    for value in values:
        head, sep, _ = value.partition(":")
        owner = owners.get(head.lower()) if sep else None
        if owner is None:
            if plan.primary is None and len(providers) > 1:
                prefixes = ", ".join(f"{p.auth_prefix}:<token>" for p in providers.values())
                raise InvalidRequest(
                    f"a token for {plan.label} must say which provider it is for ({prefixes}): "
                    "its models are served by several",
                    param="token",
                )
            owner = plan.primary.model.provider if plan.primary else next(iter(providers.values()))
        elif owner.id not in providers:
            raise InvalidRequest(
                f"the token prefix {head!r} is for {owner.display_name}, which serves no model "
                f"of {plan.label}; send tokens for {', '.join(sorted(providers))}",
                param="token",
            )
        found.setdefault(owner.id, []).append(value)
    return found


def _lookup(catalog: Catalog, chains: Mapping[str, Sequence[str]], key: str) -> tuple[str, ...]:
    """The fallbacks configured for `key` (a model's full id or a family's `any/` id)."""
    for model, extra in chains.items():
        if _canonical(catalog, model) == key:
            return tuple(extra)
    return ()


def _canonical(catalog: Catalog, model: str) -> str:
    """The full id of a model or family named in the fallbacks setting."""
    try:
        family = catalog.family(model)
        return family.full_id if family else catalog.resolve(model).model.full_id
    except InvalidModel as exc:
        raise InvalidModel(
            f"fallbacks: {exc.message}", param="fallbacks", hint=f"check {FALLBACKS_ENV}"
        ) from None


def _expand(catalog: Catalog, wanted: str, group: int, key: str) -> list[tuple[Entry, int, bool]]:
    try:
        family = catalog.family(wanted)
        if family is not None:
            return [(e, group, True) for e in catalog.member_entries(family)]
        return [(catalog.resolve(wanted), group, False)]
    except InvalidModel as exc:
        raise InvalidModel(f"fallback of {key}: {exc.message}", param="fallbacks") from None
