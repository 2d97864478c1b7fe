"""Failover: one request, several models that can serve it, tried in the best order.

`any/<family>` is served by the best member of the family (`Catalog.families`); a model
with fallbacks (`Gate(fallbacks=...)`, a call's `fallbacks=`, `IMAGEGATE_FALLBACKS`) by
itself, then its fallbacks in the order given. Each model gets the request fitted to its
rules (`imagegate.fit`) and runs through the ordinary per-model path (`pipeline.run`),
all inside one deadline.

The order of a family: members that can be used now (a usable token, or none needed;
key health from the state store) and honour every parameter given, then those that would
drop one (used only when no faithful member can serve); among them, members that did not
fail recently, then the caller's preference (`prefer`, `IMAGEGATE_PREFER`), then free before
paid, then the lowest recent latency. Latency and recent failures live in the state store
(namespace `failover`), so every process of the machine, the CLI's included, shares them.

A failure another provider could fix (quota, rate limit, bad key, provider down, asleep or
slow) moves on to the next model; one it could not (an invalid request, content refused)
ends the request. When no model can serve, one error names each and why.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import pipeline
from .chain import ChainPlan, plan_chain, split_chain_tokens
from .context import Progress, ProgressCallback
from .credentials import TokenSource, split_tokens
from .errors import (
    Cancelled,
    GenerationFailed,
    ImagegateError,
    InvalidModel,
    InvalidRequest,
    ProviderError,
    Timeout,
)
from .fit import DROPPABLE, dropped, fit_request
from .health import describe_wait
from .request import ImageRequest, build_request
from .results import ChainStep, ImageResult
from .unavailable import blocked_step, unavailable_error

if TYPE_CHECKING:
    from .catalog import Entry
    from .gate import Gate

__all__ = ["NAMESPACE", "generate"]

NAMESPACE = "failover"
RECENT_FAILURE = 300.0
"""A model that was down or slow is tried after the others for this long (seconds)."""
KEEP = 7 * 86400.0
_CONTENT = re.compile(
    r"inappropriate|sensitive|nsfw|unsafe|safety|moderat|prohibited|violat|"
    r"content (policy|filter|review)|违规|敏感|审核",
    re.IGNORECASE,
)
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


@dataclass
class _Candidate:
    entry: Entry
    position: int
    group: int
    ranked: bool
    tokens: TokenSource
    request: ImageRequest
    warnings: list[str]
    drops: list[str]
    record: dict[str, Any] = field(default_factory=dict)
    extra_drops: int = 0


async def generate(
    gate: Gate,
    prompt: str | ImageRequest,
    *,
    model: str | None,
    token: str | Sequence[str] | None,
    progress: ProgressCallback | None,
    timeout: float | None,
    fallbacks: Sequence[str] | Mapping[str, Sequence[str] | str] | None,
    params: dict[str, Any],
) -> ImageResult:
    """`Gate.agenerate`: a family or a model with fallbacks through the chain, any other
    model straight through the per-model pipeline."""
    started = time.monotonic()
    deadline = started + (timeout or gate.timeout)
    request = build_request(prompt, model=model, **params)
    plan = plan_chain(gate, request.model, fallbacks)
    if plan is None:
        return await pipeline.generate_request(
            gate, request, token=token, progress=progress, started=started, deadline=deadline
        )
    return await _Chain(gate, plan, request, token, progress, started, deadline).run()


class _Chain:
    """One request through the models of a `ChainPlan`."""

    def __init__(
        self,
        gate: Gate,
        plan: ChainPlan,
        request: ImageRequest,
        token: str | Sequence[str] | None,
        progress: ProgressCallback | None,
        started: float,
        deadline: float,
    ) -> None:
        self.gate, self.plan, self.request = gate, plan, request
        self.token, self.progress = token, progress
        self.started, self.deadline = started, deadline
        self.secrets: list[str] = split_tokens(token) if token else []
        self.steps: dict[str, ChainStep] = {}
        self.hints: list[str] = []
        self.drops: dict[int, list[set[str]]] = {}
        """Per group: the fields each model that can take the request would drop."""

    async def run(self) -> ImageResult:
        order = await self._order()
        last: tuple[Entry, ImagegateError] | None = None
        for candidate in order:
            model = candidate.entry.model
            if time.monotonic() >= self.deadline:
                raise self._timeout()
            if last is not None:
                self._handover(last[0], last[1], candidate.entry)
            began = time.monotonic()
            try:
                result = await pipeline.run(
                    self.gate,
                    candidate.entry,
                    candidate.request,
                    candidate.tokens,
                    warnings=list(candidate.warnings),
                    secrets=self.secrets,
                    progress=self.progress,
                    started=self.started,
                    deadline=self.deadline,
                )
            except ImagegateError as exc:
                if _final(exc):
                    raise
                self._failed(candidate, exc)
                await self._remember(model.full_id, failed=_provider_trouble(exc))
                if isinstance(exc, Timeout) and time.monotonic() >= self.deadline:
                    raise self._timeout() from None
                last = (candidate.entry, exc)
                continue
            await self._remember(model.full_id, latency=time.monotonic() - began)
            return self._served(result, candidate, order)
        steps = self._in_order(order)
        raise unavailable_error(self.plan.label, steps, self.hints).redacted(self.secrets)

    # -- the order ------------------------------------------------------------------------

    async def _order(self) -> list[_Candidate]:
        gate, plan = self.gate, self.plan
        explicit = split_chain_tokens(gate, plan, self.token)
        candidates: list[_Candidate] = []
        invalid: list[InvalidRequest] = []
        for position, (entry, group, ranked) in enumerate(plan.entries):
            model = entry.model
            tokens = gate.tokens_for(model.provider, explicit.get(model.provider.id))
            self.secrets += tokens.tokens
            fitted, fit_warnings = fit_request(self.request, model)
            try:
                resolved, warnings = pipeline.prepare(gate, fitted, model)
            except InvalidRequest as exc:
                invalid.append(exc)
                self._step(model, "skipped", f"cannot take this request: {exc.message}", exc.code)
                continue
            drops = dropped(fitted, resolved)
            self.drops.setdefault(group, []).append(set(drops))
            blocked = await blocked_step(gate, model, tokens)
            if blocked is not None:
                self.steps[model.full_id] = blocked.step
                if blocked.hint:
                    self.hints.append(blocked.hint)
                continue
            candidates.append(
                _Candidate(
                    entry,
                    position,
                    group,
                    ranked,
                    tokens,
                    resolved,
                    [*fit_warnings, *warnings],
                    drops,
                )
            )
        if not candidates and invalid and len(invalid) == len(plan.entries):
            raise invalid[0]
        if not candidates:
            return []
        with contextlib.suppress(Exception):  # a preference only: never fail a request for it
            found = await gate.state.get_many(
                NAMESPACE, [c.entry.model.full_id for c in candidates]
            )
            for candidate in candidates:
                candidate.record = found.get(candidate.entry.model.full_id, {})
        return self._ranked(candidates)

    def _ranked(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """Groups in plan order; inside a family's group, the best first (module doc)."""
        now = self.gate.health.clock()
        prefer = self.gate.prefer
        ordered: list[_Candidate] = []
        for group in sorted({c.group for c in candidates}):
            members = [c for c in candidates if c.group == group]
            if not members[0].ranked:
                ordered += members
                continue
            # what no model of the group takes does not count against any
            common = set.intersection(*self.drops[group])
            for c in members:
                c.extra_drops = len(set(c.drops) - common)
            ordered += sorted(members, key=lambda c: _rank(c, prefer, now))
        return ordered

    # -- what happened --------------------------------------------------------------------

    def _step(
        self,
        model: Any,
        outcome: str,
        reason: str | None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> ChainStep:
        step = ChainStep(
            model=model.full_id,
            provider=model.provider.id,
            outcome=outcome,
            reason=reason,
            code=code,
            retry_after=retry_after,
        )
        self.steps[model.full_id] = step
        return step

    def _failed(self, candidate: _Candidate, exc: ImagegateError) -> None:
        exc.redacted(self.secrets)
        self._step(candidate.entry.model, "failed", exc.message, exc.code, exc.retry_after)
        if exc.hint:
            self.hints.append(exc.hint)

    def _served(
        self, result: ImageResult, served: _Candidate, order: list[_Candidate]
    ) -> ImageResult:
        notes: list[str] = []
        for step in self.steps.values():
            if step.outcome == "failed" or (step.outcome == "skipped" and step.retry_after):
                notes.append(f"{step.model} {step.outcome}: {step.reason}")
        self._step(served.entry.model, "served", None)
        past = False
        for candidate in order:
            if candidate is served:
                past = True
            elif past and candidate.ranked and candidate.extra_drops > served.extra_drops:
                reason = f"it would ignore {_fields(candidate.drops)}"
                self._step(candidate.entry.model, "skipped", reason)
                notes.append(f"{candidate.entry.model.full_id} skipped: {reason}")
            elif past:
                self._step(candidate.entry.model, "unused", f"{served.entry.model.full_id} served")
        if served.extra_drops:
            notes.append(
                f"no model of {self.plan.label} that takes {_fields(served.drops)} could serve "
                f"it now, so {served.entry.model.full_id} did, without it"
            )
        result.warnings = [*notes, *result.warnings]
        result.chain = self._in_order(order)
        return result

    def _in_order(self, order: list[_Candidate]) -> list[ChainStep]:
        """The steps as the models were considered: the ranked ones, then the others."""
        first = [c.entry.model.full_id for c in order]
        rest = [e.model.full_id for e, _, _ in self.plan.entries if e.model.full_id not in first]
        return [self.steps[m] for m in (*first, *rest) if m in self.steps]

    def _handover(self, failed: Entry, exc: ImagegateError, to: Entry) -> None:
        """The progress event of moving on: `hf: quota spent, retry in 12 min -> gitee`."""
        if self.progress is None:
            return
        short = _SHORT.get(exc.code, exc.code.lower())
        if exc.retry_after:
            short += f", retry in {describe_wait(exc.retry_after)}"
        event = Progress(
            provider=to.model.provider.id,
            model=to.model.full_id,
            stage="failover",
            message=f"{failed.model.provider.model_prefix}: {short} -> "
            f"{to.model.provider.model_prefix}",
            elapsed=time.monotonic() - self.started,
        )
        with contextlib.suppress(Exception):  # a broken printer must not break generation
            self.progress(event)

    def _timeout(self) -> Timeout:
        allowed = self.deadline - self.started
        tried = "; ".join(
            f"{s.model}: {s.reason}" for s in self.steps.values() if s.outcome == "failed"
        )
        return Timeout(
            f"{self.plan.label} did not finish within {allowed:g}s"
            + (f" ({tried})" if tried else "")
            + "; try again later or allow a longer timeout"
        ).redacted(self.secrets)

    async def _remember(
        self, model_id: str, *, latency: float | None = None, failed: bool = False
    ) -> None:
        """Keep the recent latency (a moving average) or a recent failure of a model."""
        if latency is None and not failed:
            return
        with contextlib.suppress(Exception):  # a preference only: never fail a request for it
            store = self.gate.state
            record = dict(await store.get(NAMESPACE, model_id) or {})
            now = self.gate.health.clock()
            if latency is not None:
                old = record.get("latency")
                record["latency"] = latency if old is None else 0.7 * old + 0.3 * latency
                record.pop("failed_until", None)
            if failed:
                record["failed_until"] = now + RECENT_FAILURE
            record["at"] = now
            await store.put(NAMESPACE, model_id, record, ttl=KEEP)


def _rank(c: _Candidate, prefer: Sequence[str], now: float) -> tuple:
    provider = c.entry.model.provider
    names = {provider.id.lower(), provider.model_prefix.lower(), provider.auth_prefix.lower()}
    preference = next((i for i, name in enumerate(prefer) if name in names), len(prefer))
    return (
        c.extra_drops,
        (c.record.get("failed_until") or 0) > now,
        preference,
        provider.auth == "required",
        c.record.get("latency", math.inf),
        c.position,
    )


def _final(exc: ImagegateError) -> bool:
    """True for a failure no other provider could fix: the request itself is refused."""
    if isinstance(exc, Cancelled):
        return True
    if isinstance(exc, InvalidRequest) and not isinstance(exc, InvalidModel):
        return True
    return isinstance(exc, GenerationFailed) and bool(_CONTENT.search(exc.message))


def _provider_trouble(exc: ImagegateError) -> bool:
    """Down, asleep, slow or broken: not about a token (key health keeps those)."""
    return isinstance(exc, (ProviderError, Timeout, GenerationFailed))


def _fields(names: Sequence[str]) -> str:
    return " and ".join(DROPPABLE.get(n, n) for n in names)
