"""Key health as people read it: `imagegate keys status` rows and the one word per provider
that `imagegate providers` shows."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import table

if TYPE_CHECKING:
    from imagegate.gate import KeyStatus

__all__ = ["one_word", "render", "row_json", "when"]


def when(at: float | None, *, now: float | None = None) -> str:
    """`2026-12-02 00:00 UTC (in 3 h 12 min)` for a future time, the date alone for a past."""
    if at is None:
        return "-"
    from imagegate.health import describe_wait

    stamp = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    now = time.time() if now is None else now
    if at > now:
        return f"{stamp} (in {describe_wait(at - now)})"
    return f"{stamp} ({describe_wait(now - at)} ago)"


def render(rows: list[KeyStatus]) -> str:
    headers = ["PROVIDER", "TOKEN", "SOURCE", "STATE", "MODEL", "UNTIL", "LAST ERROR"]
    cells = []
    for row in rows:
        until = when(row.until) if row.state == "cooling" else "-"
        last = f"{row.last_error} {when(row.last_error_at)}" if row.last_error else "-"
        cells.append(
            [
                row.provider,
                row.fingerprint,
                row.source or "seen on a call",
                row.state,
                row.model or "all models",
                until,
                last,
            ]
        )
    return table.render(headers, cells)


def row_json(row: KeyStatus) -> dict[str, Any]:
    document = row.as_dict()
    for name in ("until", "last_error_at"):
        value = document[name]
        document[f"{name}_iso"] = (
            datetime.fromtimestamp(value, timezone.utc).isoformat() if value else None
        )
    return document


def one_word(rows: list[KeyStatus], provider: str, *, needs_token: bool) -> str:
    """`healthy`, `limited` (some token or model resting), `cooling`, `invalid`, `no-token`."""
    mine = [r for r in rows if r.provider == provider]
    configured = [r for r in mine if r.source is not None]
    if not configured:
        return "no-token" if needs_token else "healthy"
    by_token: dict[str, list[KeyStatus]] = {}
    for row in configured:
        by_token.setdefault(row.fingerprint, []).append(row)
    whole_ok = [
        fp for fp, states in by_token.items() if all(s.state == "ok" or s.model for s in states)
    ]
    if len(whole_ok) == len(by_token) and all(r.state == "ok" for r in configured):
        return "healthy"
    if whole_ok:
        return "limited"
    return "cooling" if any(r.state == "cooling" for r in configured) else "invalid"
