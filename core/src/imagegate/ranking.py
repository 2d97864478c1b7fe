"""The order of a family's members, and what the failover remembers to choose it.

Best first: members that keep every parameter given, then those that did not fail
recently, then the caller's preference (`prefer`, `IMAGEGATE_PREFER`), then free before
paid, then the lowest recent latency, then the order the plugins came in. Latency (a moving
average of successful calls) and recent failures (down, asleep, slow) live in the state
store, namespace `failover`, one record per model: every process of the machine shares them,
the CLI's one-shot runs included. A record that cannot be read or written changes the order
only, never the request.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .gate import Gate
    from .models import Model

__all__ = ["NAMESPACE", "RECENT_FAILURE", "rank_key", "recall", "remember"]

NAMESPACE = "failover"
RECENT_FAILURE = 300.0
"""A model that was down or slow is tried after the others for this long (seconds)."""
KEEP = 7 * 86400.0
_WEIGHT = 0.3
"""How much the latest call moves the average latency."""


def rank_key(
    model: Model,
    record: dict[str, Any],
    *,
    extra_drops: int,
    prefer: Sequence[str],
    now: float,
    position: int,
) -> tuple:
    """Sorts the best member first (the module's order)."""
    provider = model.provider
    names = {provider.id.lower(), provider.model_prefix.lower(), provider.auth_prefix.lower()}
    preference = next((i for i, name in enumerate(prefer) if name in names), len(prefer))
    return (
        extra_drops,
        (record.get("failed_until") or 0) > now,
        preference,
        provider.auth == "required",
        record.get("latency", math.inf),
        position,
    )


async def recall(gate: Gate, model_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What is remembered of each model (empty when nothing, or the store fails)."""
    with contextlib.suppress(Exception):
        return await gate.state.get_many(NAMESPACE, list(model_ids))
    return {}


async def remember(
    gate: Gate, model_id: str, *, latency: float | None = None, failed: bool = False
) -> None:
    """Fold a successful call's latency into the average, or mark a recent failure."""
    if latency is None and not failed:
        return
    with contextlib.suppress(Exception):  # a preference only: never fail a request for it
        store = gate.state
        record = dict(await store.get(NAMESPACE, model_id) or {})
        now = gate.health.clock()
        if latency is not None:
            old = record.get("latency")
            record["latency"] = latency if old is None else (1 - _WEIGHT) * old + _WEIGHT * latency
            record.pop("failed_until", None)
        if failed:
            record["failed_until"] = now + RECENT_FAILURE
        record["at"] = now
        await store.put(NAMESPACE, model_id, record, ttl=KEEP)
