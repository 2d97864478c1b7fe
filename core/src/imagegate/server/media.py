"""Images that came back as bytes, kept briefly so a `url` response can point at them.

A provider that returns bytes (HuggingFace, some Gitee answers) has no URL to give; the
server keeps the bytes in memory under an unguessable id and serves them at
`/v1/images/files/<id>.<ext>`. Bounded by count and bytes (least recently used goes first)
and by age, so a busy server cannot grow without limit.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["MediaStore", "StoredImage"]

_EXTENSIONS = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpg", "image/gif": "gif"}


@dataclass(frozen=True)
class StoredImage:
    data: bytes
    mime_type: str
    expires: float


class MediaStore:
    """An LRU of image bytes with a size budget and a time to live."""

    def __init__(
        self, *, max_items: int = 512, max_bytes: int = 256 * 2**20, ttl: float = 3600.0
    ) -> None:
        self.max_items = max_items
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._items: OrderedDict[str, StoredImage] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, data: bytes, mime_type: str | None) -> str:
        """Keep `data`; returns its file name (`<id>.<ext>`) for the URL."""
        mime = mime_type or "application/octet-stream"
        key = secrets.token_urlsafe(18)
        self._evict(now=time.monotonic(), incoming=len(data))
        self._items[key] = StoredImage(data, mime, time.monotonic() + self.ttl)
        self._bytes += len(data)
        ext = _EXTENSIONS.get(mime)
        return f"{key}.{ext}" if ext else key

    def get(self, name: str) -> StoredImage | None:
        """The image for a file name from `put`, or None when unknown, evicted or expired."""
        key = name.partition(".")[0]
        item = self._items.get(key)
        if item is None:
            return None
        if item.expires <= time.monotonic():
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return item

    def _evict(self, *, now: float, incoming: int) -> None:
        # Expired entries first (oldest-used at the front), then by budget.
        for key in [k for k, item in self._items.items() if item.expires <= now]:
            self._drop(key)
        while self._items and (
            len(self._items) >= self.max_items or self._bytes + incoming > self.max_bytes
        ):
            self._drop(next(iter(self._items)))

    def _drop(self, key: str) -> None:
        item = self._items.pop(key)
        self._bytes -= len(item.data)
