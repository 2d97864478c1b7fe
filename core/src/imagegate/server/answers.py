"""The body of a generation answer, built in one place for every way it is given.

A synchronous call renders it straight from the `ImageResult`. What must outlive the call (a
job's result, an answer kept for an `Idempotency-Key` replay) is kept as a *record*: the
same body with each image named by its key in the media store — base64 never goes into the
state store, and a URL is made for the address the record is read from (a server restarted
on another port, or reached through another proxy, still gives working links).
`from_record` turns a record back into the body, so a job's result and a replay are what
the synchronous call returned.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .files import file_url

if TYPE_CHECKING:
    from imagegate import ImageResult
    from imagegate.media import MediaStore

__all__ = ["ImagesGone", "from_record", "render"]

_B64_REF = "b64_media"
_FILE_REF = "file"


class ImagesGone(LookupError):
    """A record names an image the media store no longer holds."""


async def render(
    result: ImageResult,
    warnings: list[str],
    base: str | Callable[[], str],
    *,
    record: MediaStore | None = None,
) -> dict[str, Any]:
    """The answer's body; with `record` (the media store), its record instead.

    `base` is where this server's image files are (a callable: worked out only if needed).
    """
    data = []
    as_b64 = result.request.response_format == "b64_json"
    for image in result.images:
        item: dict[str, Any] = {}
        stored = image.stored
        if as_b64:
            raw = image.data or await image.aread()
            if record is not None:
                kept = stored or await record.put(raw, image.mime_type or "image/png")
                item[_B64_REF] = kept.key
            else:
                item["b64_json"] = base64.b64encode(raw).decode()
        elif stored is not None and record is not None:
            item[_FILE_REF] = stored.key
            item["expires_at"] = None if stored.expires_at is None else int(stored.expires_at)
        else:  # stored here, or a provider link `pass_links` lets through (expiry unknown)
            item["url"] = (
                file_url(base() if callable(base) else base, stored) if stored else image.url
            )
            expires = stored.expires_at if stored else None
            item["expires_at"] = None if expires is None else int(expires)
        item["seed"] = image.seed
        revised = image.metadata.get("revised_prompt") or result.revised_prompt
        if revised:
            item["revised_prompt"] = revised
        data.append(item)
    body: dict[str, Any] = {
        "created": result.created,
        "data": data,
        "model": result.model,
        "provider": result.provider,
    }
    all_warnings = [*warnings, *result.warnings]
    if all_warnings:
        body["warnings"] = all_warnings
    if result.chain:
        body["chain"] = [step.model_dump(mode="json") for step in result.chain]
    return body


async def from_record(
    record: dict[str, Any], media: MediaStore, base: str, *, check: bool = True
) -> dict[str, Any]:
    """The body a record stands for, its links under `base`; `ImagesGone` if an image has
    expired or is not in this server's media store (another replica's own disk): a link
    this server cannot serve is never handed out. `check=False` for images just stored."""
    data = []
    for item in record.get("data", ()):
        if _FILE_REF in item:
            key = item[_FILE_REF]
            if check and await media.head(key) is None:
                raise ImagesGone(key)
            rest = {k: v for k, v in item.items() if k != _FILE_REF}
            item = {"url": f"{base}/v1/images/files/{key}", **rest}
        elif _B64_REF in item:
            raw = await media.get(item[_B64_REF])
            if raw is None:
                raise ImagesGone(item[_B64_REF])
            rest = {k: v for k, v in item.items() if k != _B64_REF}
            item = {"b64_json": base64.b64encode(raw).decode(), **rest}
        data.append(item)
    return {**record, "data": data}
