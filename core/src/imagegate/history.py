"""The generation history: one record per generation, in the gate's state store.

`Gate.agenerate` runs through `recorded`: when the gate keeps images (the server), their
bytes go to the media store first (a provider link is fetched once, checked, stored), then
one record is written, success or failure. A record holds what is needed to understand and
repeat a generation, and never base64 or a token:

    id, time, status ("ok"/"failed"), source ("cli"/"server"/"library"), prompt,
    negative_prompt, model, provider, parameters (as resolved), images (seed, width,
    height, mime_type, bytes, sha256, path or media_key, expires_at), timings, warnings,
    error ({code, message} on failure), chain (for `any/<family>` and fallbacks: each model
    considered and what became of it)

Records and stored images are kept for the gate's retention (`imagegate.retention`). The
CLI records unless `imagegate history off` left its marker in the config dir.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Awaitable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ImagegateError
from .records import failure, image_entry, new_id, success
from .state import HistoryQuery

if TYPE_CHECKING:
    from .gate import Gate
    from .request import ImageRequest
    from .results import GeneratedImage, ImageResult

__all__ = [
    "NEVER_PASSED",
    "History",
    "cli_history_enabled",
    "pass_links",
    "recorded",
    "set_cli_history",
]

log = logging.getLogger("imagegate")

MARKER = "history-off"
NEVER_PASSED = {
    "huggingface": "a Space's file URL lives only until the Space's cache sweep or restart, "
    "and names the Space"
}
"""Providers whose links are always stored and replaced, whatever `pass_links` says."""


def pass_links(providers: Iterable[str]) -> frozenset[str]:
    """The providers whose links may pass through; ValueError for one that never may."""
    chosen = frozenset(p.strip().lower() for p in providers if p.strip())
    for provider in chosen & NEVER_PASSED.keys():
        raise ValueError(f"{provider} links are always stored: {NEVER_PASSED[provider]}")
    return chosen


def cli_history_enabled() -> bool:
    """Whether the CLI records (`imagegate history off` leaves a marker file)."""
    from .paths import config_dir

    try:
        return not (config_dir() / MARKER).exists()
    except OSError:
        return True


def set_cli_history(enabled: bool) -> Path:
    from .paths import config_dir

    marker = config_dir() / MARKER
    if enabled:
        marker.unlink(missing_ok=True)
    else:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("imagegate records no history while this file exists\n")
    return marker


async def recorded(
    gate: Gate,
    run: Awaitable[ImageResult],
    *,
    prompt: str | ImageRequest,
    model: str | None,
    params: dict[str, Any],
    record: bool | None,
    keep: bool | None,
    timeout: float | None = None,
) -> ImageResult:
    """Await the generation, store its images when keeping, and record it when asked.
    Fetching provider links to store them counts against the call's `timeout`."""
    record = gate.record_history if record is None else record
    keep = gate.keep_images if keep is None else keep
    if not record and not keep:
        return await run
    started = time.monotonic()
    allowed = timeout or gate.timeout
    try:
        result = await run
        generated = time.monotonic()
        if keep and _to_store(gate, result):  # nothing to store: no task to time it
            await _within(store_images(gate, result), started + allowed - generated, allowed)
    except ImagegateError as exc:
        if record:
            at = gate.clock()
            entry = failure(gate, prompt, model, params, exc, time.monotonic() - started)
            await _append(gate, {"id": new_id(at), "time": at, **entry}, at)
        raise
    timings = {"generation": round(result.elapsed, 4)}
    if keep:
        timings["storage"] = round(time.monotonic() - generated, 4)
    if record:
        at = gate.clock()
        result.history_id = new_id(at)
        entry = {"id": result.history_id, "time": at, **success(gate, result, timings)}
        await _append(gate, entry, at)
    gate.janitor.poke()
    return result


async def _within(work: Awaitable[None], remaining: float, allowed: float) -> None:
    from .errors import Timeout

    try:
        await asyncio.wait_for(work, timeout=max(0.001, remaining))
    except asyncio.TimeoutError:
        raise Timeout(
            f"downloading the images to store them did not finish within {allowed:g}s"
        ) from None


def _to_store(gate: Gate, result: ImageResult) -> list[GeneratedImage]:
    """The images `store_images` stores: all not stored yet but links `pass_links` passes."""
    passing = gate.pass_links if result.request.response_format == "url" else frozenset()
    return [
        image
        for image in result.images
        if image.stored is None and not (image.data is None and image.provider in passing)
    ]


async def store_images(gate: Gate, result: ImageResult) -> None:
    """Every image into the media store, except links `pass_links` lets through."""
    from .pipeline import gather_or_cancel

    kept = _to_store(gate, result)
    await gather_or_cancel([image.aread() for image in kept if image.data is None])
    media = gate.media
    stored = await asyncio.gather(
        *(media.put(image.data or b"", image.mime_type or "image/png") for image in kept)
    )
    for image, where in zip(kept, stored, strict=True):
        image.stored = where


class History:
    """A gate's history: list, show, forget. Times are unix seconds or datetimes."""

    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    async def list(
        self,
        *,
        search: str | None = None,
        model: str | None = None,
        provider: str | None = None,
        failed: bool | None = None,
        source: str | None = None,
        before: float | datetime | None = None,
        after: float | datetime | None = None,
        limit: int | None = 50,
    ) -> list[dict[str, Any]]:
        """Records, newest first, that match every filter given."""
        query = HistoryQuery(
            search=search or None,
            model=model,
            provider=provider,
            source=source,
            failed=failed,
            before=_seconds(before),
            after=_seconds(after),
            limit=limit,
        )
        return await self._gate.state.history_list(query)

    async def get(self, record_id: str) -> dict[str, Any] | None:
        return await self._gate.state.history_get(record_id)

    async def saved(self, result: ImageResult, paths: Sequence[os.PathLike[str] | str]) -> None:
        """Add where the images were saved (and their hashes) to the result's record."""
        if result.history_id is None:
            return
        entry = await self.get(result.history_id)
        if entry is None:
            return
        for item, image, path in zip(entry["images"], result.images, paths, strict=False):
            item.update(image_entry(image), path=str(Path(path).resolve()))
        await _append(self._gate, entry, entry["time"])

    async def delete(self, ids: Iterable[str], *, images: bool = False) -> list[dict[str, Any]]:
        """Remove these records (and, with `images`, the images they stored or saved)."""
        gone = await self._gate.state.history_delete(list(ids))
        if images:
            await self._delete_images(gone)
        return gone

    async def clear(
        self, *, before: float | datetime | None, images: bool = False
    ) -> list[dict[str, Any]]:
        """Remove the records older than `before` (None: every record)."""
        cutoff = _seconds(before)
        gone = await self._gate.state.history_delete(before=cutoff or float("inf"))
        if images:
            await self._delete_images(gone)
        return gone

    async def _delete_images(self, records: list[dict[str, Any]]) -> None:
        """Stored images unless stored again since; saved files only while they still hold
        the bytes recorded (a file replaced by something else is left alone)."""
        for entry in records:
            keys = [i["media_key"] for i in entry.get("images", []) if i.get("media_key")]
            if keys:
                await self._gate.media.delete(keys, stored_before=entry["time"])
            for item in entry.get("images", []):
                if item.get("path") and item.get("sha256"):
                    await asyncio.to_thread(_remove_if_same, item["path"], item["sha256"])


def _remove_if_same(path: str, sha256: str) -> None:
    try:
        if hashlib.sha256(Path(path).read_bytes()).hexdigest() == sha256:
            os.unlink(path)
    except OSError:
        pass


async def _append(gate: Gate, entry: dict[str, Any], at: float) -> None:
    try:
        await gate.state.history_append(entry, at=at)
    except Exception as exc:  # a record is never worth a failed generation
        log.warning("imagegate: the history record was not written (%s)", type(exc).__name__)


def _seconds(value: float | datetime | None) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    return value
