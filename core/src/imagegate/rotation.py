"""Which tokens are spent: a token that hit its quota is skipped until 00:00 UTC.

Process-wide, so every Gate (and every concurrent request) learns at once; tokens are
held only as hashes here.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timezone

__all__ = ["available", "mark_exhausted", "reset"]

_lock = threading.Lock()
_exhausted: dict[str, str] = {}  # token hash -> UTC date it was spent on


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def mark_exhausted(token: str) -> None:
    with _lock:
        _exhausted[_key(token)] = _today()


def available(tokens: tuple[str, ...] | list[str]) -> list[str]:
    """The tokens not spent today, in order."""
    today = _today()
    with _lock:
        for key in [k for k, day in _exhausted.items() if day != today]:
            del _exhausted[key]
        return [t for t in tokens if _exhausted.get(_key(t)) != today]


def reset() -> None:
    """Forget every spent token (tests, and `imagegate keys` after a new key)."""
    with _lock:
        _exhausted.clear()
