"""Images in a directory: `<root>/<first two hex digits>/<sha256>.<ext>`.

A file's modification time is when its bytes were last stored, which is all retention
needs, so there is no index to keep in step. `put` hashes the bytes and hands the write to
a worker thread, so an answer never waits for the disk: until the file is in place the
bytes are served from memory, and `flush`/`close` (a server's shutdown, a gate's
`aclose`) wait for every write. Writes go to a temporary name in the same directory and
are renamed into place: an interrupted write (a crash, a full disk) leaves at most a
`.part` file, which `sweep` removes, never half an image under a final name.

A directory that cannot be written (read-only, full, not a directory) does not stop
generation: the store says so once on stderr, marks itself `degraded`, and keeps new images
in memory (bounded) for the rest of the process; images already on disk stay readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from . import MediaStore, MediaUnavailable, StoredImage, key_for, mime_of_key, valid_key
from .memory import CHUNK, MemoryMedia

__all__ = ["LocalMedia"]

STALE_PART = 3600.0
"""A temporary file this old is the remains of an interrupted write."""
MAX_PENDING = 64 * 2**20
"""Bytes waiting for the disk beyond which `put` waits for its own write."""

log = logging.getLogger("imagegate")


class LocalMedia(MediaStore):
    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        retention: float | None = None,
        clock: Callable[[], float] = time.time,
        shared: bool = False,
    ) -> None:
        self.root = Path(root)
        self.url = f"file://{self.root}" + ("?shared=1" if shared else "")
        self.shared = shared
        """Several processes (replicas) serve this directory: a `put` returns once the file
        is in place, so another replica can serve it at once, and a directory that cannot
        be written is an error (MediaUnavailable), never a private copy in memory."""
        self.retention = retention
        self._clock = clock
        self._fallback: MemoryMedia | None = None
        self._guard = threading.Lock()
        self._shards: set[str] = set()
        """Shard directories known to exist (a mkdir costs as much as the write)."""
        self._pending: dict[str, tuple[bytes, StoredImage]] = {}
        self._pending_bytes = 0
        self._writer: ThreadPoolExecutor | None = None
        self._inflight: set[Future[None]] = set()

    def local_path(self, key: str) -> Path | None:
        return self.root / key[:2] / key if valid_key(key) else None

    # -- writing --------------------------------------------------------------------------

    async def put(self, data: bytes, mime_type: str) -> StoredImage:
        """Hash now, write in the background: the answer waits for no disk. Until the file
        is in place the bytes are served from memory; `flush` (and `close`) wait for it."""
        if self._fallback is not None:
            return await self._fallback.put(data, mime_type)
        sha = hashlib.sha256(data).hexdigest()
        key = key_for(sha, mime_type)
        stored = self._stored(key, len(data), self._clock())
        with self._guard:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="imagegate-media")
            refresh = key in self._pending  # stored again while its first write waits
            self._pending[key] = (data, stored)
            if refresh:
                future = self._writer.submit(self._touch, key, stored.stored_at)
            else:
                self._pending_bytes += len(data)
                future = self._writer.submit(self._write, key, data, stored.stored_at)
            self._inflight.add(future)
            behind = self._pending_bytes > MAX_PENDING
        # Outside the lock (a done future calls back at once); else in the writer thread,
        # so no event loop is needed, whichever loop put it.
        if refresh:
            future.add_done_callback(self._forget)
            if self.shared:  # after the first write in the one writer thread: on disk then
                with contextlib.suppress(OSError):  # a touch that fails leaves the write's
                    await asyncio.wrap_future(future)
            return stored
        future.add_done_callback(functools.partial(self._written, key))
        if self.shared:  # other replicas serve this file as soon as the answer leaves
            waiting = asyncio.wrap_future(future)
            await asyncio.wait([waiting])
            failure = None if waiting.cancelled() else waiting.exception()  # retrieved
            if failure is not None:
                raise MediaUnavailable(
                    "the shared image store is unavailable; try again shortly",
                    hint=f"the image directory {self.root} cannot be written "
                    f"({type(failure).__name__}: {failure})",
                )
        elif behind:  # the disk is behind: wait for it
            await asyncio.wrap_future(future)
        return stored

    async def flush(self) -> None:
        while self._inflight:
            with self._guard:
                waiting = list(self._inflight)
            await asyncio.gather(*(asyncio.wrap_future(f) for f in waiting), return_exceptions=True)

    async def close(self) -> None:
        await self.flush()
        with self._guard:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=False)

    def _forget(self, future: Future[None]) -> None:
        with self._guard:
            self._inflight.discard(future)

    def _written(self, key: str, future: Future[None]) -> None:
        with self._guard:
            self._inflight.discard(future)
            data, stored = self._pending.pop(key)
            self._pending_bytes -= len(data)
        exc = None if future.cancelled() else future.exception()
        if isinstance(exc, OSError) and self.shared:
            pass  # `put` raises it: replicas must not keep images the others cannot serve
        elif isinstance(exc, OSError):
            self._degrade(exc)
            assert self._fallback is not None
            self._fallback.keep(data, stored)
        elif exc is not None:
            log.warning("imagegate: storing an image failed (%s)", type(exc).__name__)

    def _touch(self, key: str, now: float) -> None:
        with contextlib.suppress(OSError):  # not written (the disk failed): memory has it
            os.utime(self.root / key[:2] / key, (now, now))

    def _write(self, key: str, data: bytes, now: float) -> None:
        path = self.root / key[:2] / key
        try:
            if path.stat().st_size == len(data):  # stored before: refresh its time
                os.utime(path, (now, now))
                return
        except FileNotFoundError:
            pass
        temp = path.parent / f".{key}.{secrets.token_hex(4)}.part"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        if key[:2] not in self._shards:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._shards.add(key[:2])
        try:
            fd = os.open(temp, flags, 0o600)
        except FileNotFoundError:  # the shard went away under us (a manual clean-up)
            self._shards.discard(key[:2])
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(temp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.utime(temp, (now, now))
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def _degrade(self, exc: BaseException) -> None:
        with self._guard:
            if self._fallback is not None:
                return
            self._fallback = MemoryMedia(retention=self.retention, clock=self._clock)
            self.degraded = (
                f"the image directory {self.root} cannot be written "
                f"({type(exc).__name__}: {exc}); new images are kept in memory for this "
                f"process only (at most {self._fallback.max_items})"
            )
        print(f"imagegate: warning: {self.degraded}", file=sys.stderr)

    # -- reading --------------------------------------------------------------------------

    async def head(self, key: str) -> StoredImage | None:
        if not valid_key(key):
            return None
        pending = self._pending.get(key)
        if pending is not None:
            return None if self._expired(pending[1]) else pending[1]
        found = await asyncio.to_thread(self._head, key)
        if found is None and self._fallback is not None:
            return await self._fallback.head(key)
        return found

    def _head(self, key: str) -> StoredImage | None:
        try:
            stat = (self.root / key[:2] / key).stat()
        except OSError:
            return None
        stored = self._stored(key, stat.st_size, stat.st_mtime)
        return None if self._expired(stored) else stored

    async def get(self, key: str) -> bytes | None:
        pending = self._pending.get(key)
        if pending is not None:
            return None if self._expired(pending[1]) else pending[0]
        if await self.head(key) is None:
            return None
        if self._fallback is not None and (data := await self._fallback.get(key)) is not None:
            return data
        try:
            return await asyncio.to_thread((self.root / key[:2] / key).read_bytes)
        except OSError:
            return None

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        data = await self.get(key)
        if data is None:
            raise KeyError(key)
        stop = len(data) if end is None else min(len(data), end + 1)
        for offset in range(start, stop, CHUNK):
            yield data[offset : min(stop, offset + CHUNK)]

    # -- removing -------------------------------------------------------------------------

    async def delete(self, keys: Iterable[str], *, stored_before: float | None = None) -> int:
        await self.flush()
        wanted = [k for k in keys if valid_key(k)]
        gone = await asyncio.to_thread(self._delete, wanted, stored_before)
        if self._fallback is not None:
            gone += await self._fallback.delete(wanted, stored_before=stored_before)
        return gone

    def _delete(self, keys: list[str], stored_before: float | None) -> int:
        gone = 0
        for key in keys:
            path = self.root / key[:2] / key
            try:
                if stored_before is not None and path.stat().st_mtime > stored_before:
                    continue
                path.unlink()
                gone += 1
            except OSError:
                continue
        return gone

    async def sweep(self) -> int:
        await self.flush()
        gone = await asyncio.to_thread(self._sweep)
        if self._fallback is not None:
            gone += await self._fallback.sweep()
        return gone

    def _sweep(self) -> int:
        now = self._clock()
        cutoff = None if self.retention is None else now - self.retention
        gone = 0
        try:
            shards = [e for e in os.scandir(self.root) if e.is_dir() and len(e.name) == 2]
        except OSError:
            return 0
        for shard in shards:
            try:
                entries = list(os.scandir(shard.path))
            except OSError:
                continue
            for entry in entries:
                try:
                    mtime = entry.stat().st_mtime
                    if entry.name.endswith(".part"):
                        if mtime < now - STALE_PART:
                            os.unlink(entry.path)
                    elif cutoff is not None and valid_key(entry.name) and mtime <= cutoff:
                        os.unlink(entry.path)
                        gone += 1
                except OSError:
                    continue
        return gone

    # -- helpers --------------------------------------------------------------------------

    def _stored(self, key: str, size: int, stored_at: float) -> StoredImage:
        expires = None if self.retention is None else stored_at + self.retention
        return StoredImage(key, key.partition(".")[0], size, mime_of_key(key), stored_at, expires)

    def _expired(self, stored: StoredImage) -> bool:
        return stored.expires_at is not None and stored.expires_at <= self._clock()
