"""The S3 media backend against a real S3-compatible server (moto's, on loopback), through
obstore over HTTP: what the directory backend does, shared by every replica."""

from __future__ import annotations

import hashlib

import httpx
import pytest

import imagegate
from imagegate.media import MediaUnavailable, open_media
from imagegate.media.s3 import S3Media
from tests.fakes import FakePlugin, png_bytes

pytestmark = pytest.mark.anyio


@pytest.fixture
def s3_url(s3_server, monkeypatch) -> str:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.bucket()}/images"


async def test_images_are_stored_once_by_hash_and_read_whole_or_in_ranges(s3_url):
    media = open_media(s3_url, retention=3600)
    assert isinstance(media, S3Media)
    data = png_bytes(64, 64, 3)
    stored = await media.put(data, "image/png")
    assert stored.key == f"{hashlib.sha256(data).hexdigest()}.png"
    assert (stored.size, stored.mime_type) == (len(data), "image/png")
    again = await media.put(data, "image/png")  # already there: one HeadObject, no upload
    assert again.stored_at == pytest.approx(stored.stored_at, abs=1.0)
    assert await media.get(stored.key) == data
    head = await media.head(stored.key)
    assert head is not None and head.expires_at == pytest.approx(head.stored_at + 3600)
    assert b"".join([c async for c in media.open_range(stored.key, 8, 15)]) == data[8:16]
    assert b"".join([c async for c in media.open_range(stored.key, 10)]) == data[10:]
    assert await media.head("0" * 64 + ".png") is None
    assert await media.get("../../etc/passwd") is None
    with pytest.raises(KeyError):
        [c async for c in media.open_range("0" * 64 + ".png")]
    assert await media.delete([stored.key], stored_before=stored.stored_at - 60) == 0
    assert await media.delete([stored.key]) == 1
    assert await media.head(stored.key) is None


async def test_retention_hides_and_sweeps_old_images(s3_url):
    media = S3Media(s3_url, retention=3600)
    kept = await media.put(png_bytes(8, 8, 1), "image/png")
    later = S3Media(s3_url, retention=3600, clock=lambda: kept.stored_at + 7200)
    assert await later.head(kept.key) is None  # past retention: gone before the sweep
    assert await later.sweep() == 1
    assert await media.head(kept.key) is None


async def test_a_presigned_link_fetches_the_bytes_from_the_store_itself(s3_url):
    media = S3Media(s3_url + "?presign=600")
    data = png_bytes(16, 16, 9)
    stored = await media.put(data, "image/png")
    link = await media.link(stored.key)
    assert link and "X-Amz-Signature=" in link
    assert httpx.get(link).content == data
    assert await S3Media(s3_url).link(stored.key) is None  # not configured: no link


async def test_a_gate_keeps_its_images_in_the_bucket(s3_url):
    async with imagegate.Gate(plugins=[FakePlugin()], media=s3_url, keep_images=True) as gate:
        result = await gate.agenerate("a cat", model="fake/basic", seed=4)
    stored = result.images[0].stored
    assert stored is not None
    assert await S3Media(s3_url).get(stored.key) == png_bytes(8, 8, 4)


async def test_an_unreachable_store_is_a_clear_error_naming_it(s3_server, monkeypatch):
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    media = S3Media("s3://bucket/images?endpoint=http://127.0.0.1:1")
    with pytest.raises(MediaUnavailable) as caught:
        await media.put(png_bytes(), "image/png")
    assert caught.value.status == 503
    assert caught.value.message == "the shared image store is unavailable; try again shortly"
    assert "s3://bucket/images" in caught.value.hint
    assert s3_server.secret_key not in str(caught.value)


def test_without_the_extra_the_url_says_what_to_install(monkeypatch):
    import sys

    from imagegate.media import MediaError

    monkeypatch.setitem(sys.modules, "imagegate.media.s3", None)
    with pytest.raises(MediaError, match=r"pip install 'imagegate\[s3\]'"):
        open_media("s3://bucket/prefix")
