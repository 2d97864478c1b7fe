"""What /health says of the state store: `ok`, `degraded` (SQLite fell back to memory:
this replica alone, still serving) or `unavailable` (shared state unreachable: 503, so a
load balancer sends traffic elsewhere until it is back)."""

from __future__ import annotations

from imagegate.state import StateError, StateStore

__all__ = ["state_health"]


async def state_health(state: StateStore) -> tuple[str, int, str | None]:
    """(status word, HTTP status, what is wrong or None) for /health."""
    try:
        await state.check()
    except StateError as exc:
        return "unavailable", 503, exc.message
    if state.degraded:
        return "degraded", 200, state.degraded
    return "ok", 200, None
