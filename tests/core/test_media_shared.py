"""A directory several replicas share (`IMAGEGATE_MEDIA_URL=file:///srv/images?shared=1`):
an image is on disk before its answer leaves, so any replica serves it at once, and a
directory that cannot be written is an error, never a private copy in memory."""

from __future__ import annotations

import pytest

from imagegate.media import MediaUnavailable, open_media
from imagegate.media.local import LocalMedia
from tests.fakes import png_bytes

pytestmark = pytest.mark.anyio


async def test_what_one_process_stores_the_other_reads_at_once(tmp_path):
    url = f"file://{tmp_path}/images?shared=1"
    one, other = open_media(url, retention=3600), open_media(url, retention=3600)
    assert isinstance(one, LocalMedia) and one.shared and one.root == tmp_path / "images"
    stored = await one.put(png_bytes(8, 8, 1), "image/png")
    assert await other.get(stored.key) == png_bytes(8, 8, 1)  # no flush needed
    assert other.local_path(stored.key).exists()
    await one.close()
    await other.close()


async def test_a_shared_directory_that_cannot_be_written_is_an_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    media = open_media(f"file://{blocker}/images?shared=1")
    with pytest.raises(MediaUnavailable) as caught:
        await media.put(png_bytes(), "image/png")
    assert caught.value.status == 503 and str(blocker) in caught.value.hint
    assert media.degraded is None
    await media.close()
