"""What became of each model of a failover chain: why one cannot be used now, which failures
move on to the next model, and the one error for a chain none of whose models could serve
(each model and its reason, and when the first is back)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import (
    AuthInvalid,
    AuthRequired,
    Cancelled,
    GenerationFailed,
    ImagegateError,
    InvalidModel,
    InvalidRequest,
    ProviderError,
    QuotaExceeded,
    RateLimited,
    Timeout,
)
from .health import INVALID, describe_wait
from .results import ChainStep

if TYPE_CHECKING:
    from .credentials import TokenSource
    from .gate import Gate
    from .models import Model

__all__ = [
    "Blocked",
    "blocked_step",
    "is_final",
    "is_provider_trouble",
    "short_reason",
    "unavailable_error",
]

_AUTH = {AuthRequired.code, AuthInvalid.code, "AUTH_EXPIRED", "PERMISSION_DENIED"}
_CONTENT = re.compile(
    r"inappropriate|sensitive|nsfw|unsafe|safety|moderat|prohibited|violat|"
    r"content (policy|filter|review)|违规|敏感|审核",
    re.IGNORECASE,
)
"""How providers word a refusal of the content (ModelScope: "Output data may contain
inappropriate content"; Space filters: "NSFW content detected")."""
_SHORT = {
    "QUOTA_EXCEEDED": "quota spent",
    "RATE_LIMITED": "rate limited",
    "AUTH_REQUIRED": "no token",
    "AUTH_INVALID": "token rejected",
    "AUTH_EXPIRED": "token expired",
    "PERMISSION_DENIED": "not allowed",
    "PROVIDER_UNREACHABLE": "unreachable",
    "PROVIDER_ERROR": "failed",
    "TIMEOUT": "timed out",
    "GENERATION_FAILED": "generation failed",
    "INVALID_MODEL": "does not serve it",
}


def is_final(exc: ImagegateError) -> bool:
    """True for a failure no other provider could fix: the request itself is refused (an
    invalid request, content refused) or cancelled. Anything else moves on."""
    if isinstance(exc, Cancelled):
        return True
    if isinstance(exc, InvalidRequest) and not isinstance(exc, InvalidModel):
        return True
    return isinstance(exc, GenerationFailed) and bool(_CONTENT.search(exc.message))


def is_provider_trouble(exc: ImagegateError) -> bool:
    """Down, asleep, slow or broken: not about a token (key health keeps those)."""
    return isinstance(exc, (ProviderError, Timeout, GenerationFailed))


def short_reason(exc: ImagegateError) -> str:
    """A failure for the progress line: `quota spent, retry in 12 min 34 s`."""
    short = _SHORT.get(exc.code, exc.code.lower().replace("_", " "))
    if exc.retry_after:
        short += f", retry in {describe_wait(exc.retry_after)}"
    return short


@dataclass(frozen=True)
class Blocked:
    step: ChainStep
    hint: str | None = None


async def blocked_step(gate: Gate, model: Model, tokens: TokenSource) -> Blocked | None:
    """Why `model` cannot be called now (no token; every token cooling or rejected), from
    the configuration and key health alone; None when it can."""
    provider = model.provider
    keys: list[str | None] = list(tokens.tokens)
    if not keys and provider.auth != "required":
        keys = [None]
    setup = f"set {provider.token_env[0]} or run `imagegate keys set {provider.id}`"
    if not keys:
        step = _step(model, "no token configured", AuthRequired.code)
        return Blocked(step, f"for {model.full_id}, {setup}")
    verdict = await gate.health.check(provider, model, keys)
    if verdict.usable:
        return None
    now = gate.health.clock()
    soonest = verdict.soonest()
    wait = None if soonest is None else max(1.0, soonest - now)
    states = verdict.blocked
    who = "anonymous use is" if not tokens.tokens else _tokens(len(states))
    if wait is not None:
        what = "out of quota" if any(s.code == QuotaExceeded.code for s in states) else "resting"
        reason = f"{who} {what}, usable again in {describe_wait(wait)}"
        code = QuotaExceeded.code if what == "out of quota" else RateLimited.code
        return Blocked(_step(model, reason, code, wait))
    code = next((s.code for s in states if s.state == INVALID and s.code), AuthInvalid.code)
    return Blocked(_step(model, f"{who} rejected ({code})", code), f"for {model.full_id}, {setup}")


def unavailable_error(
    label: str, steps: Sequence[ChainStep], hints: Sequence[str]
) -> ImagegateError:
    """One error for a chain that could not serve: why each model did not, and the soonest
    time one is usable again (its `retry_after`)."""
    reasons = "; ".join(f"{s.model}: {s.reason}" for s in steps)
    message = f"no model of {label} can serve this now ({reasons or 'none installed'})"
    waits = sorted((s.retry_after, s.model) for s in steps if s.retry_after)
    retry_after = None
    if waits:
        retry_after, first = waits[0]
        message += f"; the first usable again is {first}, in {describe_wait(retry_after)}"
    codes = {s.code for s in steps}
    hint = "; ".join(dict.fromkeys(hints)) or None
    kind: type[ImagegateError]
    if waits:
        kind = QuotaExceeded if QuotaExceeded.code in codes else RateLimited
    elif codes and codes <= _AUTH:
        kind = AuthRequired if AuthRequired.code in codes else AuthInvalid
    elif codes == {Timeout.code}:
        kind = Timeout
    else:
        kind = ProviderError
    return kind(message, retry_after=retry_after, hint=hint)


def _step(model: Model, reason: str, code: str, retry_after: float | None = None) -> ChainStep:
    return ChainStep(
        model=model.full_id,
        provider=model.provider.id,
        outcome="skipped",
        reason=reason,
        code=code,
        retry_after=retry_after,
    )


def _tokens(count: int) -> str:
    return "the token is" if count == 1 else f"all {count} tokens are"
