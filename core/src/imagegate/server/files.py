"""The images this server stores, served at `/v1/images/files/<sha256>.<ext>`.

Every `url` answer points here, whether the provider gave bytes or a link (the core fetched,
checked and stored it: `Gate(keep_images=True)`), so links keep working for the retention
period and across restarts, and never name the provider. The name is the image's sha256:
unguessable without the image, and its own strong ETag; the bytes never change, so answers
are `immutable`. HEAD, conditional GET and single byte ranges work on every backend; the
local directory is sent with Starlette's `FileResponse` (sendfile, any ranges).
"""

from __future__ import annotations

import os
import re

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from imagegate.media import MediaStore, StoredImage, valid_key

from .errors import plain_error

__all__ = ["file_url", "image_file", "not_found"]

FOREVER = 365 * 86400
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def file_url(base: str, stored: StoredImage) -> str:
    return f"{base}/v1/images/files/{stored.key}"


def not_found() -> Response:
    return plain_error(
        404,
        "no such image: it expired or was never here; generate it again",
        type_="invalid_request_error",
        code="NOT_FOUND",
    )


async def image_file(request: Request, media: MediaStore) -> Response:
    """GET or HEAD of one stored image (404 in OpenAI's envelope when unknown or expired)."""
    name = request.path_params["name"]
    stored = await media.head(name) if valid_key(name) else None
    if stored is None:
        return not_found()
    headers = _headers(stored)
    if request.headers.get("if-none-match") in (headers["etag"], "*"):
        return Response(status_code=304, headers=headers)
    link = await media.link(stored.key)
    if link is not None:  # object storage serves it, presigned: the bytes skip this server
        return RedirectResponse(link, status_code=307, headers={"cache-control": "no-store"})
    path = media.local_path(stored.key)
    if path is not None:
        try:
            stat = await anyio.to_thread.run_sync(os.stat, path)
        except OSError:
            stat = None  # kept in memory (the directory could not be written)
        if stat is not None:
            return FileResponse(
                path, stat_result=stat, media_type=stored.mime_type, headers=headers
            )
    return _ranged(request, media, stored, headers)


def _headers(stored: StoredImage) -> dict[str, str]:
    expires = stored.expires_at
    max_age = FOREVER if expires is None else max(0, int(expires - _now()))
    return {
        "etag": f'"{stored.sha256}"',
        "cache-control": f"private, max-age={max_age}, immutable",
        "accept-ranges": "bytes",
    }


def _ranged(
    request: Request, media: MediaStore, stored: StoredImage, headers: dict[str, str]
) -> Response:
    """Any backend: the whole image, or one byte range (several ranges get the whole)."""
    size = stored.size
    start, end, status = 0, size - 1, 200
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if wanted and (if_range is None or if_range == headers["etag"]):
        match = _RANGE.match(wanted.strip())
        if match and (match[1] or match[2]):
            if match[1]:
                start = int(match[1])
                end = min(int(match[2]), size - 1) if match[2] else size - 1
            else:  # the last N bytes
                start = max(0, size - int(match[2]))
            if start >= size or start > end:
                return Response(
                    status_code=416, headers={**headers, "content-range": f"bytes */{size}"}
                )
            status = 206
            headers = {**headers, "content-range": f"bytes {start}-{end}/{size}"}
    headers = {**headers, "content-length": str(end - start + 1)}
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=stored.mime_type)
    return StreamingResponse(
        media.open_range(stored.key, start, end),
        status_code=status,
        headers=headers,
        media_type=stored.mime_type,
    )


def _now() -> float:
    import time

    return time.time()
