"""How `imagegate history` shows records: the table, one record in full, CSV, dates."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from . import table

PROMPT_WIDTH = 48
_AGE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seconds))


def table_text(records: list[dict[str, Any]]) -> str:
    rows = []
    for record in records:
        images = record.get("images") or []
        seeds = [str(i["seed"]) for i in images if i.get("seed") is not None]
        status = record.get("status") or "ok"
        if status == "failed":
            status = f"failed {(record.get('error') or {}).get('code', '')}".strip()
        prompt = " ".join(str(record.get("prompt", "")).split())
        if len(prompt) > PROMPT_WIDTH:
            prompt = prompt[: PROMPT_WIDTH - 1] + "…"
        rows.append(
            [
                record["id"],
                when(record.get("time"))[:16],
                record.get("model") or "-",
                str(len(images)),
                ",".join(seeds) or "-",
                status,
                prompt,
            ]
        )
    return table.render(["ID", "TIME", "MODEL", "IMAGES", "SEEDS", "STATUS", "PROMPT"], rows)


def details(record: dict[str, Any]) -> str:
    """Everything about one record, as `key: value` lines and one block per image."""
    params = record.get("parameters") or {}
    lines = [
        f"id: {record['id']}",
        f"time: {when(record.get('time'))}",
        f"status: {record.get('status')}",
        f"recorded by: {record.get('source') or '-'}",
        f"model: {record.get('model')} ({record.get('provider') or '-'})",
        f"prompt: {record.get('prompt')}",
    ]
    if record.get("negative_prompt"):
        lines.append(f"negative prompt: {record['negative_prompt']}")
    shown = {k: v for k, v in params.items() if v is not None}
    lines.append("parameters: " + (", ".join(f"{k}={v}" for k, v in shown.items()) or "-"))
    timings = record.get("timings") or {}
    if timings:
        lines.append("timings: " + ", ".join(f"{k} {v:.3f}s" for k, v in timings.items()))
    for warning in record.get("warnings") or []:
        lines.append(f"warning: {warning}")
    error = record.get("error")
    if error:
        lines.append(f"error: {error.get('code')}: {error.get('message')}")
    for number, image in enumerate(record.get("images") or [], start=1):
        lines.append(f"image {number}:")
        size = f"{image.get('width')}x{image.get('height')}"
        lines.append(f"  seed {table.dash(image.get('seed'))}, {size}, {image.get('mime_type')}")
        if image.get("path"):
            there = "" if Path(image["path"]).exists() else " (no longer there)"
            lines.append(f"  file: {image['path']}{there}")
        if image.get("media_key"):
            until = image.get("expires_at")
            lines.append(f"  stored: {image['media_key']} (until {when(until)})")
        if image.get("sha256"):
            lines.append(f"  sha256: {image['sha256']} ({image.get('bytes')} bytes)")
    return "\n".join(lines)


def rerun_parameters(
    record: dict[str, Any], *, seed: int | None, n: int | None, model: str
) -> dict[str, Any]:
    """`generate` keywords that repeat the record: the same size, seed and count, and its
    steps and guidance while the model is the same (another model has its own ranges)."""
    params = dict(record.get("parameters") or {})
    chosen: dict[str, Any] = {
        "negative_prompt": record.get("negative_prompt"),
        "seed": seed if seed is not None else params.get("seed"),
        "n": n if n is not None else params.get("n") or 1,
    }
    if params.get("aspect_ratio"):
        chosen["aspect_ratio"] = params["aspect_ratio"]
    elif params.get("width") and params.get("height"):
        chosen["size"] = f"{params['width']}x{params['height']}"
    elif params.get("size"):
        chosen["size"] = params["size"]
    if model == record.get("model"):
        for name in ("steps", "guidance_scale", "quality"):
            chosen[name] = params.get(name)
    return chosen


_CSV_COLUMNS = [
    "id", "time", "status", "source", "model", "provider", "prompt", "negative_prompt",
    "width", "height", "steps", "guidance_scale", "seed", "n", "images", "files", "sha256",
    "error_code", "generation_seconds", "warnings",
]  # fmt: skip


def csv_text(records: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_CSV_COLUMNS)
    for record in records:
        params = record.get("parameters") or {}
        images = record.get("images") or []
        writer.writerow(
            [
                record["id"],
                datetime.fromtimestamp(record["time"]).astimezone().isoformat(),
                record.get("status"),
                record.get("source"),
                record.get("model"),
                record.get("provider"),
                record.get("prompt"),
                record.get("negative_prompt") or "",
                *(_cell(params.get(k)) for k in ("width", "height", "steps", "guidance_scale")),
                _cell(params.get("seed")),
                _cell(params.get("n")),
                len(images),
                ";".join(i.get("path") or i.get("media_key") or "" for i in images),
                ";".join(i.get("sha256") or "" for i in images),
                (record.get("error") or {}).get("code", ""),
                _cell((record.get("timings") or {}).get("generation")),
                " | ".join(record.get("warnings") or []),
            ]
        )
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def parse_date(text: str) -> float:
    """Unix time from `2026-11-01`, `2026-11-01T12:00[:00][Z|+01:00]` (local time unless
    a zone is given) or an age (`30d`, `12h`, `90m`, `2w`: that long ago)."""
    import click

    if match := _AGE.match(text):
        return time.time() - int(match[1]) * _UNITS[match[2].lower()]
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date: give 2026-11-01, 2026-11-01T12:00 or an age like 30d",
            param_hint="--before",
        ) from None
    return parsed.timestamp()


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "forever"
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit if count != 1 else unit[:-1]}"
    return f"{seconds:g} seconds"


def removed(records: list[dict[str, Any]], images: bool) -> str:
    count = len(records)
    text = f"removed {count} record{'s' if count != 1 else ''}"
    if images:
        text += " and their images"
    return text
