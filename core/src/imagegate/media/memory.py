"""Images in the process: tests, `open_media("memory:")`, and the fallback of a directory
that cannot be written. Bounded by count and bytes (least recently stored goes first), so a
long-lived fallback cannot eat the machine's memory."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable

from . import MediaStore, StoredImage, key_for

__all__ = ["MemoryMedia"]

CHUNK = 64 * 1024


class MemoryMedia(MediaStore):
    def __init__(
        self,
        *,
        retention: float | None = None,
        clock: Callable[[], float] = time.time,
        max_items: int = 512,
        max_bytes: int = 256 * 2**20,
    ) -> None:
        self.url = "memory:"
        self.retention = retention
        self.max_items = max_items
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[bytes, StoredImage]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, data: bytes, mime_type: str) -> StoredImage:
        sha = hashlib.sha256(data).hexdigest()
        key = key_for(sha, mime_type)
        now = self._clock()
        expires = None if self.retention is None else now + self.retention
        stored = StoredImage(key, sha, len(data), mime_type, now, expires)
        self.keep(data, stored)
        return stored

    def keep(self, data: bytes, stored: StoredImage) -> None:
        """Hold `data` as `stored` says (the directory backend hands over what it could not
        write)."""
        key = stored.key
        with self._lock:
            if key in self._items:
                self._drop(key)
            while self._items and (
                len(self._items) >= self.max_items or self._bytes + len(data) > self.max_bytes
            ):
                self._drop(next(iter(self._items)))
            self._items[key] = (data, stored)
            self._bytes += len(data)

    async def head(self, key: str) -> StoredImage | None:
        found = self._live(key)
        return found[1] if found else None

    async def get(self, key: str) -> bytes | None:
        found = self._live(key)
        return found[0] if found else None

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        found = self._live(key)
        if found is None:
            raise KeyError(key)
        data = found[0]
        stop = len(data) if end is None else min(len(data), end + 1)
        for offset in range(start, stop, CHUNK):
            yield data[offset : min(stop, offset + CHUNK)]

    async def delete(self, keys: Iterable[str], *, stored_before: float | None = None) -> int:
        gone = 0
        with self._lock:
            for key in keys:
                found = self._items.get(key)
                if found and (stored_before is None or found[1].stored_at <= stored_before):
                    self._drop(key)
                    gone += 1
        return gone

    async def sweep(self) -> int:
        now = self._clock()
        with self._lock:
            doomed = [k for k, (_, s) in self._items.items() if _expired(s, now)]
            for key in doomed:
                self._drop(key)
        return len(doomed)

    def _live(self, key: str) -> tuple[bytes, StoredImage] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or _expired(found[1], self._clock()):
                return None
            return found

    def _drop(self, key: str) -> None:
        data, _ = self._items.pop(key)
        self._bytes -= len(data)


def _expired(stored: StoredImage, now: float) -> bool:
    return stored.expires_at is not None and stored.expires_at <= now
