"""Images in S3-compatible object storage, shared by every replica (`imagegate[s3]`).

    IMAGEGATE_MEDIA_URL=s3://bucket/prefix?endpoint=http://minio:9000&presign=3600

Credentials and the rest come from the standard AWS environment (`AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
`AWS_ALLOW_HTTP`), or from the URL's query: `endpoint` (any S3-compatible store: MinIO,
Ceph, R2, Wasabi...; an `http://` endpoint allows plain HTTP), `region`, and `presign`
(seconds: the server redirects image downloads to a presigned URL valid that long, so the
bytes never pass through it).

The client is obstore (Rust's `object_store`, the one DataFusion, Polars and delta-rs use):
native asyncio without a thread per call, ranged and streamed reads, presigning, retries
with backoff, and a single small wheel, where aioboto3/aiobotocore bring botocore's large
dependency tree and its version pins, and boto3 blocks the event loop.

Objects are `<prefix>/<sha256>.<ext>`. An object's LastModified is when its bytes were
last stored, which is all retention needs: a `put` of bytes already there re-uploads them
only when the copy is older than `REFRESH_AFTER` (or a tenth of the retention), so the same
image generated often costs one HeadObject. A store that fails answers with
`MediaUnavailable` (503 on the server), never a silent private copy the other replicas
cannot serve.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import obstore
from obstore.store import S3Store

from . import MediaStore, MediaUnavailable, StoredImage, key_for, mime_of_key, valid_key

__all__ = ["MediaUnavailable", "S3Media"]

REFRESH_AFTER = 3600.0
"""Seconds after which a `put` of bytes already stored re-uploads them (retention)."""
CHUNK = 256 * 1024
PROBE_KEY = "imagegate-health-probe"
"""What `check` asks the bucket about: no image is ever stored under this name."""


class S3Media(MediaStore):
    def __init__(
        self,
        url: str,
        *,
        retention: float | None = None,
        clock: Callable[[], float] = time.time,
        **config: Any,
    ) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.url = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.retention = retention
        self._clock = clock
        presign = query.pop("presign", None)
        self.presign = float(presign) if presign else None
        """Seconds a presigned download link is valid; None: the server sends the bytes."""
        settings: dict[str, Any] = {}
        if "endpoint" in query:
            settings["endpoint"] = query.pop("endpoint")
        if "region" in query:
            settings["region"] = query.pop("region")
        settings.update(config)
        client: dict[str, Any] = {"connect_timeout": "5s", "timeout": "60s"}
        endpoint = str(settings.get("endpoint") or os.environ.get("AWS_ENDPOINT_URL") or "")
        allowed = os.environ.get("AWS_ALLOW_HTTP", "").lower() in ("1", "true", "yes")
        if endpoint.startswith("http://") or allowed:
            client["allow_http"] = True  # client options replace the environment's
        self._store = S3Store(
            self.bucket,
            prefix=self.prefix or None,
            config=settings or None,
            client_options=client,
            retry_config={"max_retries": 2, "retry_timeout": timedelta(seconds=10)},
        )

    # -- writing --------------------------------------------------------------------------

    async def put(self, data: bytes, mime_type: str) -> StoredImage:
        sha = hashlib.sha256(data).hexdigest()
        key = key_for(sha, mime_type)
        now = self._clock()
        existing = await self._meta(key)
        slack = REFRESH_AFTER if self.retention is None else min(REFRESH_AFTER, self.retention / 10)
        if existing is not None and existing["size"] == len(data):
            stored_at = existing["last_modified"].timestamp()
            if self.retention is None or now - stored_at < slack:
                return self._stored(key, len(data), stored_at)
        try:
            await obstore.put_async(self._store, key, data, attributes={"Content-Type": mime_type})
        except Exception as exc:  # obstore's errors: network, credentials, bucket
            raise self._unavailable("storing", exc) from None
        return self._stored(key, len(data), now)

    async def delete(self, keys: Iterable[str], *, stored_before: float | None = None) -> int:
        gone = 0
        for key in keys:
            if not valid_key(key):
                continue
            meta = await self._meta(key)
            if meta is None:
                continue
            if stored_before is not None and meta["last_modified"].timestamp() > stored_before:
                continue  # stored again since: a newer generation's
            await self._delete(key)
            gone += 1
        return gone

    async def sweep(self) -> int:
        """Every image past retention (a bucket lifecycle rule can do the same for free)."""
        if self.retention is None:
            return 0
        cutoff = self._clock() - self.retention
        doomed = []
        try:
            async for batch in obstore.list(self._store, chunk_size=1000):
                for meta in batch:
                    if meta["last_modified"].timestamp() <= cutoff:
                        doomed.append(meta["path"])
        except Exception as exc:
            raise self._unavailable("listing", exc) from None
        for path in doomed:
            await self._delete(path)
        return len(doomed)

    # -- reading --------------------------------------------------------------------------

    async def head(self, key: str) -> StoredImage | None:
        meta = await self._meta(key) if valid_key(key) else None
        if meta is None:
            return None
        stored = self._stored(key, meta["size"], meta["last_modified"].timestamp())
        if stored.expires_at is not None and stored.expires_at <= self._clock():
            return None
        return stored

    async def get(self, key: str) -> bytes | None:
        if await self.head(key) is None:
            return None
        try:
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._unavailable("reading", exc) from None

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if await self.head(key) is None:
            raise KeyError(key)
        options: dict[str, Any] = {}
        if end is not None:
            options["range"] = (start, end + 1)
        elif start:
            options["range"] = {"offset": start}
        try:
            result = await obstore.get_async(self._store, key, options=options or None)
        except FileNotFoundError:
            raise KeyError(key) from None
        except Exception as exc:
            raise self._unavailable("reading", exc) from None
        async for chunk in result.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)

    async def link(self, key: str) -> str | None:
        """A presigned GET URL for `key` when `presign` is set, else None."""
        if self.presign is None:
            return None
        seconds = self.presign
        if self.retention is not None:
            stored = await self.head(key)
            if stored is None or stored.expires_at is None:
                return None
            seconds = max(1.0, min(seconds, stored.expires_at - self._clock()))
        try:
            return await obstore.sign_async(self._store, "GET", key, timedelta(seconds=seconds))
        except Exception as exc:
            raise self._unavailable("signing a link for", exc) from None

    async def check(self) -> None:
        """One metadata read of a key that is never written: "not found" is an answer from
        the bucket (reachable, credentials accepted), anything else is `MediaUnavailable`."""
        await self._meta(PROBE_KEY)

    # -- helpers --------------------------------------------------------------------------

    async def _meta(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(await obstore.head_async(self._store, key))
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise self._unavailable("reading", exc) from None

    async def _delete(self, key: str) -> None:
        try:
            await obstore.delete_async(self._store, key)
        except FileNotFoundError:
            pass
        except Exception as exc:
            raise self._unavailable("deleting", exc) from None

    def _stored(self, key: str, size: int, stored_at: float) -> StoredImage:
        expires = None if self.retention is None else stored_at + self.retention
        sha = key.partition(".")[0]
        return StoredImage(key, sha, size, mime_of_key(key), stored_at, expires)

    def _unavailable(self, doing: str, exc: BaseException) -> MediaUnavailable:
        detail = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        return MediaUnavailable(
            "the shared image store is unavailable; try again shortly",
            hint=f"{doing} {self.url} failed ({type(exc).__name__}: {detail}); check "
            "IMAGEGATE_MEDIA_URL, the endpoint and the AWS_* credentials",
        )
