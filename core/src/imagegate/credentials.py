"""Where tokens come from, first match wins: explicit, environment, keys file.

The keys file is JSON `{"gitee": ["token", ...]}`, readable only by its owner, under the
platform's user config dir (`IMAGEGATE_HOME` moves it). Several tokens rotate.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InvalidRequest
from .models import Provider

__all__ = [
    "TokenSource",
    "find_tokens",
    "keys_path",
    "read_keys",
    "remove_keys",
    "split_tokens",
    "write_keys",
]


@dataclass(frozen=True)
class TokenSource:
    """Tokens for one provider and where they were found (`explicit`, `env:VAR`, `keys file`)."""

    tokens: tuple[str, ...] = field(repr=False)
    source: str | None

    def __bool__(self) -> bool:
        return bool(self.tokens)

    def __repr__(self) -> str:
        return f"TokenSource(count={len(self.tokens)}, source={self.source!r})"


def split_tokens(value: str | Sequence[str]) -> list[str]:
    """Comma-separated (or listed) tokens, stripped, empties dropped."""
    parts = value.split(",") if isinstance(value, str) else [p for v in value for p in v.split(",")]
    return [part.strip() for part in parts if part.strip()]


def strip_auth_prefix(
    token: str, provider: Provider, known_prefixes: Mapping[str, Provider]
) -> str:
    """`gitee:abc` -> `abc` for Gitee; a prefix naming another provider is an error."""
    head, sep, rest = token.partition(":")
    if not sep:
        return token
    owner = known_prefixes.get(head.lower())
    if owner is None:
        return token  # a colon that is part of the token itself
    if owner.id != provider.id:
        raise InvalidRequest(
            f"the token prefix {head!r} is for {owner.display_name}, but the model belongs to "
            f"{provider.display_name}; use the prefix {provider.auth_prefix!r} or none",
            param="authorization",
        )
    return rest


def keys_path() -> Path:
    from .paths import config_dir

    return config_dir() / "keys.json"


_cache: dict[Path, tuple[tuple[int, int, int], dict[str, list[str]]]] = {}


def read_keys() -> dict[str, list[str]]:
    """The stored tokens by provider id; re-read only when the file changes (a server
    looks tokens up on every request)."""
    path = keys_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return {}
    stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return {k: list(v) for k, v in cached[1].items()}
    keys = _read(path)
    _cache[path] = (stamp, keys)
    return {k: list(v) for k, v in keys.items()}


def _read(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidRequest(
            f"the keys file {path} cannot be read ({type(exc).__name__}); fix or delete it",
            param="keys",
        ) from None
    if not isinstance(data, dict):
        return {}
    return {str(k): split_tokens(v) for k, v in data.items() if isinstance(v, (str, list))}


def write_keys(provider_id: str, tokens: Sequence[str]) -> Path:
    """Store `tokens` for a provider, replacing what was there; owner-only permissions."""
    keys = read_keys()
    keys[provider_id] = list(tokens)
    return _save(keys)


def remove_keys(provider_id: str) -> bool:
    keys = read_keys()
    if provider_id not in keys:
        return False
    del keys[provider_id]
    _save(keys)
    return True


def _save(keys: dict[str, list[str]]) -> Path:
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(keys, handle, indent=2)
    os.chmod(temp, 0o600)
    os.replace(temp, path)
    return path


def find_tokens(
    provider: Provider,
    *,
    explicit: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    use_keys_file: bool = True,
) -> TokenSource:
    """The tokens for `provider`, first match wins: explicit, environment, keys file."""
    if explicit:
        return TokenSource(tuple(split_tokens(explicit)), "explicit")
    environ = os.environ if env is None else env
    for name in provider.token_env:
        if environ.get(name, "").strip():
            return TokenSource(tuple(split_tokens(environ[name])), f"env:{name}")
    if use_keys_file:
        stored = read_keys().get(provider.id)
        if stored:
            return TokenSource(tuple(stored), "keys file")
    return TokenSource((), None)
