"""`GET /v1/images/history`: what this server generated, for the holders of its API key.

Only a protected server lists its history, and only what it recorded itself (records of
the CLI on the same machine are not its callers' business). An open server has no way to
tell one caller from another, so it lists nothing rather than one caller's prompts to
another. Records are shown as stored, with each kept image's `url` on this server and
without file paths.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from imagegate import Gate
from imagegate.errors import InvalidRequest

from .auth import caller_tokens
from .errors import plain_error

__all__ = ["history_entry", "history_list", "public_record"]

MAX_LIMIT = 100


def _refused() -> Response:
    return plain_error(
        403,
        "this server lists its history only when it is protected by an API key",
        type_="permission_error",
        code="HISTORY_UNAVAILABLE",
    )


async def history_list(request: Request, gate: Gate, api_key: str | None, base: str) -> Any:
    """The newest records first; `limit`, `before`/`after` (unix seconds), `search`,
    `model`, `provider`, `failed` filter them. `has_more` says another page exists (ask
    again with `before` set to the last record's `time`)."""
    if api_key is None:
        return _refused()
    caller_tokens(request, api_key)
    query = request.query_params
    limit = _number(query, "limit", int, 20)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be 1-{MAX_LIMIT} (got {limit})", param="limit")
    failed = query.get("failed")
    if failed not in (None, "true", "false"):
        raise InvalidRequest(f"failed must be true or false (got {failed!r})", param="failed")
    records = await gate.history.list(
        search=query.get("search"),
        model=query.get("model"),
        provider=query.get("provider"),
        failed=None if failed is None else failed == "true",
        before=_number(query, "before", float, None),
        after=_number(query, "after", float, None),
        source="server",
        limit=limit + 1,
    )
    data = [public_record(r, base, gate.clock()) for r in records[:limit]]
    return {"object": "list", "data": data, "has_more": len(records) > limit}


async def history_entry(
    request: Request, gate: Gate, api_key: str | None, base: str, record_id: str
) -> Any:
    if api_key is None:
        return _refused()
    caller_tokens(request, api_key)
    record = await gate.history.get(record_id)
    if record is None or record.get("source") != "server":
        return plain_error(
            404, f"no history record {record_id!r}", type_="invalid_request_error", code="NOT_FOUND"
        )
    return public_record(record, base, gate.clock())


def public_record(record: dict[str, Any], base: str, now: float) -> dict[str, Any]:
    """The record with a `url` for each image still stored here, and no file paths."""
    images = []
    for item in record.get("images", []):
        shown = {k: v for k, v in item.items() if k != "path"}
        expires = item.get("expires_at")
        alive = item.get("media_key") and (expires is None or expires > now)
        shown["url"] = f"{base}/v1/images/files/{item['media_key']}" if alive else None
        images.append(shown)
    return {**record, "object": "image.generation", "images": images}


def _number(query, name: str, kind, default):
    value = query.get(name)
    if value is None or value == "":
        return default
    try:
        return kind(value)
    except ValueError:
        raise InvalidRequest(
            f"{name} must be a {'whole ' if kind is int else ''}number (got {value!r})",
            param=name,
        ) from None
