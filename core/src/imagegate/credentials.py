"""Where tokens come from, first match wins: explicit, environment, keys file.

The keys file is JSON `{"gitee": ["token", ...]}`, readable only by its owner, under the
platform's user config dir (`IMAGEGATE_HOME` moves it). Several tokens rotate. Every token
is printable ASCII without spaces (what an HTTP header can carry), and one request brings
at most `MAX_TOKENS`: each can cost an upstream call.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .bounds import MAX_TOKENS
from .errors import InvalidRequest
from .models import Provider

__all__ = [
    "TokenSource",
    "check_tokens",
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


_PRINTABLE = re.compile(r"[\x21-\x7e]+")
TOKEN_RULE = "a token is printable ASCII, without spaces or control characters"


def check_tokens(
    tokens: Sequence[str], *, limit: int | None = None, where: str | None = None
) -> None:
    """InvalidRequest (naming the rule, never the token) for a token an HTTP header could
    not carry, or for more than `limit` tokens; `where` says where they were found."""
    if limit is not None and len(tokens) > limit:
        raise InvalidRequest(
            f"at most {limit} tokens per request (got {len(tokens)})", param="authorization"
        )
    for number, token in enumerate(tokens, 1):
        if not _PRINTABLE.fullmatch(token):
            which = f"token {number}" if len(tokens) > 1 else "the token"
            raise InvalidRequest(
                f"{which} has a character it may not have: {TOKEN_RULE}",
                param="authorization",
                hint=f"fix the token in {where}" if where else None,
            )


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
    if os.name != "nt" and stat.st_mode & 0o077:
        print(
            f"imagegate: warning: the keys file {path} can be read by other users "
            f"(mode {stat.st_mode & 0o777:o}); run `chmod 600 {path}`",
            file=sys.stderr,
        )
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
    """Write the whole file anew, atomically: a temporary file made by mkstemp (a fresh
    random name, O_EXCL, owner-only, never through a planted symlink) in the same
    directory, then renamed over keys.json."""
    path = keys_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(prefix=".keys-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(keys, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return path


def find_tokens(
    provider: Provider,
    *,
    explicit: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    use_keys_file: bool = True,
) -> TokenSource:
    """The tokens for `provider`, first match wins: explicit (at most `MAX_TOKENS`),
    environment, keys file; InvalidRequest for a token that breaks `TOKEN_RULE`."""
    if explicit:
        tokens = split_tokens(explicit)
        check_tokens(tokens, limit=MAX_TOKENS)
        return TokenSource(tuple(tokens), "explicit")
    environ = os.environ if env is None else env
    for name in provider.token_env:
        if environ.get(name, "").strip():
            tokens = split_tokens(environ[name])
            check_tokens(tokens, where=f"the environment variable {name}")
            return TokenSource(tuple(tokens), f"env:{name}")
    if use_keys_file:
        stored = read_keys().get(provider.id)
        if stored:
            check_tokens(
                stored, where=f"the keys file (`imagegate keys set {provider.id}` replaces it)"
            )
            return TokenSource(tuple(stored), "keys file")
    return TokenSource((), None)
