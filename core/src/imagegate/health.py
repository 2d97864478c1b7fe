"""Key health: which of a provider's tokens can be used now, learnt from its answers.

A token is `ok`, `cooling` until a time, or `invalid` (until the token changes: records are
keyed by the token's fingerprint, so a new token starts healthy). The wait comes from the
answer: Retry-After or a ZeroGPU "try again in H:MM:SS" (the error's `retry_after`), else
the provider's daily `quota_reset` in its own time zone, else a short default. A quota is
per token or per model (`QuotaExceeded.scope`, else the provider's `quota_scope`); a
permission refusal (a free key on a paid model) rests the token for that model only.
Anonymous use (HuggingFace without a token) has a health of its own.

Records live in the state store (namespace `health`), so every process of the machine, and
every replica on Redis, shares what one learnt. Each gate keeps what it read for a second
(`FRESH_FOR`) and what it wrote at once, so the hot path reads the store about once a second
per token instead of on every request; another process's news arrives within that second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    AuthRequired,
    ImagegateError,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
)
from .state import fingerprint

if TYPE_CHECKING:
    from .models import Model, Provider
    from .state import StateStore

__all__ = ["COOLING", "INVALID", "OK", "KeyHealth", "KeyState", "describe_wait", "next_reset"]

NAMESPACE = "health"
OK, COOLING, INVALID = "ok", "cooling", "invalid"
MAX_WAIT = 86400.0
"""A provider asking for more than a day is clamped to a day (and the message says so)."""
MIN_WAIT = 1.0
"""What a Retry-After in the past (or of zero) becomes."""
QUOTA_WAIT = 600.0
"""A spent quota with no wait given and no daily reset (ZeroGPU) rests this long."""
PERMISSION_WAIT = 3600.0
"""A key refused for one model (its plan) is not offered that model again for an hour."""
INVALID_KEEP = 30 * 86400.0
SHOWN_AFTER = 86400.0
"""A past cooling stays visible in `imagegate keys status` (as `ok`, with its last error)."""
FRESH_FOR = 1.0
"""Seconds a record read from the store is trusted before it is read again."""


@dataclass(frozen=True)
class KeyState:
    """What is known of one token (by fingerprint) at one provider, for one model or all."""

    provider: str
    fingerprint: str
    model: str | None
    """None: the whole token; else the full model id the state is limited to."""
    state: str
    until: float | None = None
    code: str | None = None
    """The code of the last error that changed the state."""
    at: float | None = None
    """When that error was seen (unix time)."""
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "fingerprint": self.fingerprint,
            "model": self.model,
            "state": self.state,
            "until": self.until,
            "last_error": self.code,
            "last_error_at": self.at,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Verdict:
    usable: list[str | None]
    blocked: list[KeyState]

    def soonest(self) -> float | None:
        """When the first cooling token is back, or None if none will be (all invalid)."""
        times = [s.until for s in self.blocked if s.state == COOLING and s.until is not None]
        return min(times) if times else None


class KeyHealth:
    """Reads and writes key health in a state store; `clock` is injectable for tests."""

    def __init__(
        self, store: Callable[[], StateStore], clock: Callable[[], float] = time.time
    ) -> None:
        self._store = store
        self.clock = clock
        self._read: dict[str, tuple[dict[str, Any] | None, float]] = {}
        """key -> (record or None for none, monotonic time it was read or written)."""
        self._reading: dict[tuple[str, ...], asyncio.Task[None]] = {}
        """The store reads under way, by their keys: the requests that find the same keys
        stale at once share one read (at concurrency 50 each second's expiry otherwise sent
        50 identical reads to the store)."""

    async def _records(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        now = time.monotonic()
        stale = tuple(k for k in keys if k not in self._read or now - self._read[k][1] > FRESH_FOR)
        if stale:
            read = self._reading.get(stale)
            if read is None or read.get_loop() is not asyncio.get_running_loop():
                read = self._reading[stale] = asyncio.ensure_future(self._fetch(stale))
                read.add_done_callback(lambda done: self._forget(stale, done))
            await asyncio.shield(read)  # one caller leaving does not cancel the others' read
        return {k: record for k in keys if (record := self._read.get(k, (None,))[0]) is not None}

    async def _fetch(self, keys: tuple[str, ...]) -> None:
        asked = time.monotonic()
        fetched = await self._store().get_many(NAMESPACE, list(keys))
        now = time.monotonic()
        for key in keys:
            if key not in self._read or self._read[key][1] <= asked:  # not written meanwhile
                self._read[key] = (fetched.get(key), now)
        if len(self._read) > 4096:  # tokens come and go; keep the memory bounded
            self._read = {k: v for k, v in self._read.items() if now - v[1] <= FRESH_FOR}

    def _forget(self, keys: tuple[str, ...], done: asyncio.Task[None]) -> None:
        if self._reading.get(keys) is done:
            del self._reading[keys]
        if not done.cancelled():
            done.exception()  # seen: each caller still waiting raises it itself

    async def check(
        self, provider: Provider, model: Model, tokens: Sequence[str | None]
    ) -> Verdict:
        """Which of `tokens` (None: anonymous) may be used now for `model`, in their order."""
        prints = {t: fingerprint(t) for t in tokens}  # once each: a hash per token
        keys = {
            t: (f"{provider.id}/{fp}/*", f"{provider.id}/{fp}/{model.full_id}")
            for t, fp in prints.items()
        }
        records = await self._records([k for pair in keys.values() for k in pair])
        now = self.clock()
        usable: list[str | None] = []
        blocked: list[KeyState] = []
        for token, pair in keys.items():
            fp = prints[token]
            states = [
                _state(records[key], now, provider.id, fp, scope)
                for key, scope in zip(pair, (None, model.full_id), strict=True)
                if key in records
            ]
            active = [s for s in states if s.state != OK]
            if active:
                blocked.append(max(active, key=lambda s: (s.state == INVALID, s.until or 0)))
            else:
                usable.append(token)
        return Verdict(usable, blocked)

    async def learn(
        self,
        provider: Provider,
        model: Model,
        token: str | None,
        error: ImagegateError,
        *,
        default_wait: float | None = None,
    ) -> KeyState | None:
        """Record what `error` says of `token`; returns the new state (None: says nothing).

        A wait outside [1 s, 1 day] is clamped, and `error.message` says so.
        """
        now = self.clock()
        scope: str | None = None
        if isinstance(error, AuthRequired) or (isinstance(error, AuthError) and token is None):
            return None  # nothing to learn of a token that was never sent
        if isinstance(error, AuthError):
            state, until, ttl = INVALID, None, INVALID_KEEP
        elif isinstance(error, PermissionDenied):
            state, scope = COOLING, "model"
            until = now + PERMISSION_WAIT
            ttl = PERMISSION_WAIT + SHOWN_AFTER
        elif isinstance(error, RateLimited):
            quota = isinstance(error, QuotaExceeded)
            scope = (error.scope or provider.quota_scope) if quota else (error.scope or "token")
            wait = self._wait(provider, error, quota, now, default_wait)
            state, until = COOLING, now + wait
            ttl = wait + SHOWN_AFTER
        else:
            return None
        limited_to = model.full_id if scope == "model" else None
        record = {
            "state": state,
            "until": until,
            "code": error.code,
            "at": now,
            "reason": error.message[:300],
        }
        key = _key(provider.id, token, limited_to)
        await self._store().put(NAMESPACE, key, record, ttl=ttl)
        self._read[key] = (record, time.monotonic())
        return KeyState(provider.id, fingerprint(token), limited_to, state, until, error.code, now)

    def _wait(
        self,
        provider: Provider,
        error: ImagegateError,
        quota: bool,
        now: float,
        default_wait: float | None,
    ) -> float:
        asked = error.retry_after
        if asked is None:
            if quota and provider.quota_reset:
                return next_reset(provider.quota_reset, now) - now
            return QUOTA_WAIT if quota else (MIN_WAIT if default_wait is None else default_wait)
        if asked <= 0 or asked > MAX_WAIT:
            clamped = min(MAX_WAIT, max(MIN_WAIT, asked))
            asked_for = "a time in the past" if asked <= 0 else f"{describe_wait(asked)}"
            note = (
                f" (the provider asked to wait {asked_for}; imagegate waits "
                f"{describe_wait(clamped)} instead)"
            )
            error.message += note
            error.args = (error.message,)
            error.retry_after = clamped
            return clamped
        return asked

    async def states(self, provider: str | None = None) -> list[KeyState]:
        """Every recorded state (of one provider), for `imagegate keys status`."""
        now = self.clock()
        prefix = f"{provider}/" if provider else ""
        found = []
        for key, record in await self._store().items(NAMESPACE, prefix):
            provider_id, fp, model = key.split("/", 2)
            found.append(_state(record, now, provider_id, fp, None if model == "*" else model))
        return found

    async def reset(self, provider: str | None = None) -> int:
        """Forget what is known (of one provider); returns how many records went."""
        store = self._store()
        self._read.clear()
        if provider is None:
            return await store.delete(NAMESPACE)
        doomed = [key for key, _ in await store.items(NAMESPACE, f"{provider}/")]
        for key in doomed:
            await store.delete(NAMESPACE, key)
        return len(doomed)


def _key(provider_id: str, token: str | None, model: str | None) -> str:
    return f"{provider_id}/{fingerprint(token)}/{model or '*'}"


def _state(
    record: dict[str, Any],
    now: float,
    provider: str = "",
    fp: str = "",
    model: str | None = None,
) -> KeyState:
    state = record.get("state", OK)
    until = record.get("until")
    if state == COOLING and (until is None or until <= now):
        state = OK
    return KeyState(
        provider,
        fp,
        model,
        state,
        until,
        record.get("code"),
        record.get("at"),
        record.get("reason"),
    )


def next_reset(reset: str, now: float) -> float:
    """The next `HH:MM±HH:MM` (a local time of day and its UTC offset) after `now`."""
    clock_part, offset = reset[:5], reset[5:] or "+00:00"
    hours, minutes = (int(p) for p in clock_part.split(":"))
    sign = -1 if offset.startswith("-") else 1
    off_h, off_m = (int(p) for p in offset[1:].split(":"))
    zone = timezone(sign * timedelta(hours=off_h, minutes=off_m))
    local = datetime.fromtimestamp(now, zone)
    target = local.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return target.timestamp()


def describe_wait(seconds: float) -> str:
    """`12 min 34 s`, `3 h 12 min`, `2 days`: a wait as people say it."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    if seconds < 2 * 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"
    return f"{seconds / 86400:.3g} days"
