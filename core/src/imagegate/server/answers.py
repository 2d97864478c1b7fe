"""The body of a generation answer, built in one place for every way it is given.

A synchronous call renders it straight from the `ImageResult`. What must outlive the call (a
job's result, an answer kept for an `Idempotency-Key` replay) is kept as a *record*: the
same body with each `b64_json` replaced by the name of its image in the media store, since
base64 never goes into the state store. `from_record` turns a record back into the body, so
a job's result and a replay are byte for byte what the synchronous call returned.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from imagegate import ImageResult

    from .media import MediaStore

__all__ = ["ImagesGone", "from_record", "render"]

_B64_REF = "b64_media"


class ImagesGone(LookupError):
    """A record names an image the media store no longer holds."""


async def render(
    result: ImageResult,
    warnings: list[str],
    store: MediaStore,
    base: str | Callable[[], str],
    *,
    record: bool = False,
) -> dict[str, Any]:
    """The answer's body (`record=True`: its record, base64 kept in the media store).

    `base` is where this server's image files are (a callable: worked out only if needed).
    """
    data = []
    as_b64 = result.request.response_format == "b64_json"
    for image in result.images:
        item: dict[str, Any] = {}
        if as_b64:
            raw = image.data or await image.aread()
            if record:
                item[_B64_REF] = store.put(raw, image.mime_type)
            else:
                item["b64_json"] = base64.b64encode(raw).decode()
        elif image.url:
            item["url"] = image.url
        else:
            root = base() if callable(base) else base
            item["url"] = f"{root}/v1/images/files/{store.put(image.data or b'', image.mime_type)}"
        item["seed"] = image.seed
        revised = image.metadata.get("revised_prompt")
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


def from_record(record: dict[str, Any], store: MediaStore) -> dict[str, Any]:
    """The body a record stands for; `ImagesGone` if one of its images has expired."""
    if not any(_B64_REF in item for item in record.get("data", ())):
        return record
    data = []
    for item in record["data"]:
        if _B64_REF in item:
            stored = store.get(item[_B64_REF])
            if stored is None:
                raise ImagesGone(item[_B64_REF])
            rest = {k: v for k, v in item.items() if k != _B64_REF}
            item = {"b64_json": base64.b64encode(stored.data).decode(), **rest}
        data.append(item)
    return {**record, "data": data}
