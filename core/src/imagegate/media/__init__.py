"""Image bytes that outlive a call: content-addressed storage (the sha256 of the bytes).

The same image is stored once, under a key `<sha256>.<ext>` that says where it is in any
backend (a file name in a directory, an object key in a bucket); nothing outside a backend
ever builds a path. Images are kept for a retention period counted from their last `put`
(a second `put` of the same bytes refreshes it); `head`, `get` and `open_range` treat an
image past its retention as gone even before `sweep` removes it.

    put(data, mime)         store (or refresh) an image; its `StoredImage`
    head / get              what is known of one, or its bytes (None: unknown or expired)
    open_range              its bytes from `start` to `end`, in chunks (HTTP Range)
    delete / sweep          remove some (unless stored again since), or all expired ones
    flush / close           wait until every put is durable (a backend may write behind)

Backends: `local.py`, a directory (default `<data dir>/images/`), and `memory.py`, in the
process (tests, and the fallback when the directory cannot be written). `open_media(url)`
picks one: `memory:`, `file:///path` or a plain path, or None for `IMAGEGATE_MEDIA_URL`,
else the data dir. An S3-compatible backend (`s3://bucket/prefix`) implements this same
interface: `put` is PutObject (after a HeadObject for the refresh), `open_range` a ranged
GetObject, `sweep` a listing by LastModified or a bucket lifecycle rule.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImagegateError

__all__ = [
    "MEDIA_URL_ENV",
    "MediaError",
    "MediaStore",
    "MediaUnavailable",
    "StoredImage",
    "key_for",
    "mime_of_key",
    "open_media",
    "valid_key",
]

MEDIA_URL_ENV = "IMAGEGATE_MEDIA_URL"

EXTENSIONS = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpg", "image/gif": "gif"}
_MIMES = {ext: mime for mime, ext in EXTENSIONS.items()}
_KEY = re.compile(r"^[0-9a-f]{64}\.(png|webp|jpg|gif)$")


class MediaError(Exception):
    """The configured media store cannot be opened (unknown or unavailable backend)."""


class MediaUnavailable(ImagegateError):
    """A store that replicas share cannot be used right now (the server answers 503)."""

    code = "MEDIA_UNAVAILABLE"
    status = 503


@dataclass(frozen=True)
class StoredImage:
    """One stored image: its key, what it is, and until when it is kept."""

    key: str
    sha256: str
    size: int
    mime_type: str
    stored_at: float
    """Unix time of the last `put` of these bytes."""
    expires_at: float | None
    """When retention removes it; None when kept until deleted."""


def key_for(sha256: str, mime_type: str) -> str:
    """The key of an image: its hash and the extension of its type (`<sha256>.webp`)."""
    return f"{sha256}.{EXTENSIONS[mime_type]}"


def valid_key(key: str) -> bool:
    """Whether `key` is one `key_for` can make (anything else is unknown, never a path)."""
    return bool(_KEY.match(key))


def mime_of_key(key: str) -> str:
    return _MIMES[key.rpartition(".")[2]]


class MediaStore(ABC):
    """The interface every media backend implements."""

    url: str = ""
    retention: float | None = None
    """Seconds an image is kept after its last `put`; None keeps it until deleted."""
    degraded: str | None = None
    """Why this store is not the one asked for (it fell back to memory), or None."""

    @abstractmethod
    async def put(self, data: bytes, mime_type: str) -> StoredImage:
        """Store `data` (a checked image of `mime_type`) once; a new put refreshes it."""

    @abstractmethod
    async def head(self, key: str) -> StoredImage | None: ...

    @abstractmethod
    async def get(self, key: str) -> bytes | None: ...

    @abstractmethod
    def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes `start` to `end` (inclusive; None: to the end) in chunks; KeyError on
        the first chunk when the image is unknown or expired."""

    @abstractmethod
    async def delete(self, keys: Iterable[str], *, stored_before: float | None = None) -> int:
        """Remove these images (only those last stored before `stored_before`, when given:
        an image stored again since belongs to a newer generation); how many went."""

    @abstractmethod
    async def sweep(self) -> int:
        """Remove every image past its retention; how many went."""

    async def flush(self) -> None:
        """Wait until every `put` so far is durable (backends that write behind)."""
        return None

    async def check(self) -> None:
        """Raise `MediaUnavailable` when the store cannot be reached now (/health asks);
        a store on this machine's disk or in memory is always reachable."""
        return None

    async def link(self, key: str) -> str | None:
        """A URL a client may fetch `key` from directly (a presigned object URL), or None:
        the server sends the bytes itself."""
        return None

    def local_path(self, key: str) -> Path | None:
        """The file holding `key` when this backend is a local directory (for sendfile)."""
        return None

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"


def open_media(url: str | None = None, *, retention: float | None = None, clock=None) -> MediaStore:
    """The store `url` names; None reads IMAGEGATE_MEDIA_URL, else `<data dir>/images`.

    Opening is lazy: no directory is made until the first `put`.
    """
    import time

    clock = clock or time.time
    url = (url or os.environ.get(MEDIA_URL_ENV) or "").strip()
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if url in ("memory", "memory:"):
        from .memory import MemoryMedia

        return MemoryMedia(retention=retention, clock=clock)
    if not url or scheme == "file" or not scheme:
        from .local import LocalMedia

        if not url:
            from ..paths import data_dir

            root: Path = data_dir() / "images"
            return LocalMedia(root, retention=retention, clock=clock)
        path, _, query = url.removeprefix("file://").partition("?")
        shared = "shared=1" in query.split("&") or "shared=true" in query.split("&")
        root = Path(os.path.expanduser(path))
        return LocalMedia(root, retention=retention, clock=clock, shared=shared)
    if scheme == "s3":
        try:
            from .s3 import S3Media
        except ImportError as exc:
            raise MediaError(
                f"{MEDIA_URL_ENV} names S3, whose backend is not installed here: "
                "pip install 'imagegate[s3]'"
            ) from exc
        return S3Media(url, retention=retention, clock=clock)
    raise MediaError(f"{MEDIA_URL_ENV}: unknown media store {scheme!r}: use a path or memory:")
