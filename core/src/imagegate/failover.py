"""Failover: one request, several models that can serve it, tried in the best order.

`any/<family>` is served by the best member of the family (`Catalog.families`); a model
with fallbacks (`Gate(fallbacks=...)`, a call's `fallbacks=`, `IMAGEGATE_FALLBACKS`) by
itself, then its fallbacks in the order given. Each model gets the request fitted to its
rules (`imagegate.fit`) and runs through the ordinary per-model path (`pipeline.run`),
all inside one deadline.

Only models that can be used now are tried (a usable token, or none needed: key health
from the state store). A family's members are ranked per request (`imagegate.ranking`):
those that honour every parameter given first (one that would drop a negative prompt is
used only when none that takes it can serve), then by recent failures, the caller's
preference, free before paid, and recent latency.

A failure another provider could fix (quota, rate limit, bad key, provider down, asleep or
slow) moves on to the next model; one it could not (an invalid request, content refused)
ends the request. When no model can serve, one error names each and why.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import pipeline
from .bounds import check_timeout
from .chain import ChainPlan, plan_chain, split_chain_tokens
from .context import Progress, ProgressCallback
from .credentials import TokenSource, split_tokens
from .errors import ImagegateError, InvalidRequest, Timeout
from .fit import DROPPABLE, dropped, fit_request
from .outcomes import (
    blocked_step,
    is_final,
    is_provider_trouble,
    short_reason,
    unavailable_error,
)
from .ranking import rank_key, recall, remember
from .request import ImageRequest, build_request
from .results import ChainStep, ImageResult

if TYPE_CHECKING:
    from .catalog import Entry
    from .gate import Gate
    from .models import Model

__all__ = ["generate"]


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
    resume: Mapping[int, str] | None = None,
) -> ImageResult:
    """`Gate.agenerate`: a family or a model with fallbacks through the chain, any other
    model straight through the per-model pipeline (the only way a run is resumed)."""
    started = time.monotonic()
    deadline = started + (gate.timeout if timeout is None else check_timeout(timeout))
    request = build_request(prompt, model=model, **params)
    plan = None if resume else plan_chain(gate, request.model, fallbacks)
    if plan is None:
        return await pipeline.generate_request(
            gate,
            request,
            token=token,
            progress=progress,
            started=started,
            deadline=deadline,
            resume=resume,
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
                if is_final(exc):
                    raise
                self._failed(candidate, exc)
                await remember(self.gate, model.full_id, failed=is_provider_trouble(exc))
                if isinstance(exc, Timeout) and time.monotonic() >= self.deadline:
                    raise self._timeout() from None
                last = (candidate.entry, exc)
                continue
            await remember(self.gate, model.full_id, latency=time.monotonic() - began)
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
            strict = entry is plan.primary  # the model asked for keeps its strict ranges
            fitted, fit_warnings = (
                (self.request, []) if strict else fit_request(self.request, model)
            )
            try:
                resolved, warnings = pipeline.prepare(gate, fitted, model)
            except InvalidRequest as exc:
                if strict:
                    raise
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
        found = await recall(gate, [c.entry.model.full_id for c in candidates])
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
            ordered += sorted(
                members,
                key=lambda c: rank_key(
                    c.entry.model,
                    c.record,
                    extra_drops=c.extra_drops,
                    prefer=prefer,
                    now=now,
                    position=c.position,
                ),
            )
        return ordered

    # -- what happened --------------------------------------------------------------------

    def _step(
        self,
        model: Model,
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
            # a model without a token is a standing configuration, not news on every request
            if step.outcome == "failed" or step.code != "AUTH_REQUIRED":
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
        event = Progress(
            provider=to.model.provider.id,
            model=to.model.full_id,
            stage="failover",
            message=f"{failed.model.provider.model_prefix}: {short_reason(exc)} -> "
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


def _fields(names: Sequence[str]) -> str:
    return " and ".join(DROPPABLE.get(n, n) for n in names)
