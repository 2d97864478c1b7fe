"""Stored images and retention through the library: `Gate(keep_images=True)`, the local
directory backend and its faults, and the cleanup that removes what is old and nothing else."""

from __future__ import annotations

import errno
import hashlib
import os
import time
from pathlib import Path

import pytest

import imagegate
import imagegate_gitee
from imagegate.media import open_media
from imagegate.media.local import LocalMedia
from imagegate.state.sqlite import SQLiteState
from tests.emulators.control import VALID_TOKEN
from tests.fakes import FakePlugin, png_bytes

pytestmark = pytest.mark.anyio


def gate_with(tmp_path: Path, **kwargs) -> imagegate.Gate:
    kwargs.setdefault("media", LocalMedia(tmp_path / "images", retention=3600))
    return imagegate.Gate(
        plugins=[FakePlugin()],
        state=SQLiteState(tmp_path / "state.db"),
        use_stored_tokens=False,
        **kwargs,
    )


def image_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_kept_images_are_stored_once_under_their_hash(tmp_path):
    async with gate_with(tmp_path, keep_images=True, history=True) as gate:
        first = await gate.agenerate("a cat", model="fake/basic", seed=5)
        again = await gate.agenerate("a cat", model="fake/basic", seed=5)
        stored = first.images[0].stored
        assert stored is not None and again.images[0].stored.key == stored.key
        assert stored.sha256 == hashlib.sha256(png_bytes(8, 8, 5)).hexdigest()
        assert stored.key == f"{stored.sha256}.png"
        assert await gate.media.get(stored.key) == png_bytes(8, 8, 5)
        (record, _) = await gate.history.list()
        assert record["images"][0]["media_key"] == stored.key
    assert [p.name for p in image_files(tmp_path / "images")] == [stored.key]


async def test_a_provider_link_is_fetched_once_checked_and_stored(tmp_path, gitee_emulator):
    gate = imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": gitee_emulator.base_url},
        tokens={"gitee": VALID_TOKEN},
        use_stored_tokens=False,
        media=LocalMedia(tmp_path / "images", retention=3600),
        keep_images=True,
    )
    async with gate:
        result = await gate.agenerate("a cat", model="gitee/z-image-turbo", size="256x256")
        image = result.images[0]
        assert image.url.startswith(gitee_emulator.base_url.split("/v1")[0])
        assert image.stored is not None
        assert await gate.media.get(image.stored.key) == image.data
    assert image.data.startswith(b"\x89PNG")


async def test_pass_links_leaves_that_providers_links_alone(tmp_path, gitee_emulator):
    gate = imagegate.Gate(
        plugins=[imagegate_gitee],
        base_urls={"gitee": gitee_emulator.base_url},
        tokens={"gitee": VALID_TOKEN},
        use_stored_tokens=False,
        media=LocalMedia(tmp_path / "images", retention=3600),
        keep_images=True,
        pass_links=["gitee"],
    )
    async with gate:
        result = await gate.agenerate("a cat", model="gitee/z-image-turbo", size="256x256")
    assert result.images[0].stored is None and result.images[0].data is None
    assert image_files(tmp_path / "images") == []


async def test_a_full_disk_keeps_answering_from_memory_and_leaves_no_half_image(
    tmp_path, monkeypatch, capfd
):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("imagegate.media.local.os.replace", full)
    async with gate_with(tmp_path, keep_images=True) as gate:
        first = await gate.agenerate("a cat", model="fake/basic", seed=1)
        second = await gate.agenerate("a dog", model="fake/basic", seed=2)
        await gate.media.flush()  # the writes happen behind the answers
        assert gate.media.degraded and "No space left" in gate.media.degraded
        for result, shade in ((first, 1), (second, 2)):
            assert await gate.media.get(result.images[0].stored.key) == png_bytes(8, 8, shade)
    assert image_files(tmp_path / "images") == []  # no final name, no .part left behind
    warnings = [line for line in capfd.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "in memory" in warnings[0]


async def test_an_unwritable_data_dir_still_answers(tmp_path, monkeypatch, capfd):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data dir should be")
    monkeypatch.setenv("IMAGEGATE_HOME", str(blocked))
    gate = imagegate.Gate(
        plugins=[FakePlugin()], history=True, keep_images=True, use_stored_tokens=False
    )
    async with gate:
        result = await gate.agenerate("a cat", model="fake/basic", seed=3)
        assert await gate.media.get(result.images[0].stored.key) == png_bytes(8, 8, 3)
        assert (await gate.history.get(result.history_id))["prompt"] == "a cat"
        await gate.media.flush()
        assert gate.state.degraded and gate.media.degraded
    err = capfd.readouterr().err
    assert err.count("warning") == 2  # one for history, one for images


async def test_retention_removes_old_records_and_images_and_nothing_else(tmp_path):
    clock = [time.time() - 3 * 86400]
    saved = tmp_path / "mine.png"
    gate = gate_with(
        tmp_path,
        keep_images=True,
        history=True,
        retention="1d",
        media=str(tmp_path / "images"),
        clock=lambda: clock[0],
    )
    async with gate:
        old = await gate.agenerate("an old cat", model="fake/basic", seed=1)
        await old.images[0].asave(saved)
        await gate.history.saved(old, [saved])
        await gate.state.put("health", "fake:abc", {"state": "ok"})
        stray = tmp_path / "images" / "notes.txt"
        stray.write_text("not ours")
        clock[0] += 2 * 86400  # the old generation is now two days old
        new = await gate.agenerate("a new cat", model="fake/basic", seed=2)
    async with gate_with(tmp_path, media=open_media(str(tmp_path / "images"))) as fresh:
        assert [r["prompt"] for r in await fresh.history.list()] == ["a new cat"]
        assert await fresh.media.get(old.images[0].stored.key) is None
        assert await fresh.media.get(new.images[0].stored.key) == png_bytes(8, 8, 2)
        assert await fresh.state.get("health", "fake:abc") == {"state": "ok"}
    assert saved.read_bytes() == png_bytes(8, 8, 1)  # a saved file is the user's
    assert stray.read_text() == "not ours"
    names = {p.name for p in image_files(tmp_path / "images")}
    assert names == {new.images[0].stored.key, "notes.txt"}


async def test_an_expired_image_is_gone_before_any_sweep(tmp_path):
    clock = [time.time()]
    media = LocalMedia(tmp_path / "images", retention=60, clock=lambda: clock[0])
    stored = await media.put(png_bytes(), "image/png")
    assert (await media.head(stored.key)).expires_at == pytest.approx(clock[0] + 60)
    clock[0] += 61
    assert await media.head(stored.key) is None
    assert await media.get(stored.key) is None
    await media.flush()
    assert os.path.exists(media.local_path(stored.key))  # until the sweep
    assert await media.sweep() == 1
    assert not os.path.exists(media.local_path(stored.key))


async def test_keys_are_never_paths(tmp_path):
    media = LocalMedia(tmp_path / "images")
    (tmp_path / "secret.png").write_bytes(png_bytes())
    for key in ("../secret.png", "../../etc/passwd", "x.png", "A" * 64 + ".png"):
        assert await media.head(key) is None
        assert await media.get(key) is None
        assert media.local_path(key) is None


def test_a_media_store_serves_one_event_loop_after_another(tmp_path):
    import asyncio

    media = LocalMedia(tmp_path / "images", retention=3600)

    async def store(shade: int):
        return await media.put(png_bytes(8, 8, shade), "image/png")

    first = asyncio.run(store(1))  # this loop is gone before its write is awaited
    second = asyncio.run(store(2))

    async def read():
        await media.flush()
        return [await media.get(s.key) for s in (first, second)]

    assert asyncio.run(read()) == [png_bytes(8, 8, 1), png_bytes(8, 8, 2)]
    assert len(image_files(tmp_path / "images")) == 2


async def test_deleting_a_record_deletes_its_images_unless_stored_again_since(tmp_path):
    clock = [time.time() - 100]
    gate = gate_with(
        tmp_path, keep_images=True, history=True, media=str(tmp_path / "images"),
        clock=lambda: clock[0],
    )  # fmt: skip
    async with gate:
        first = await gate.agenerate("a cat", model="fake/basic", seed=1)
        clock[0] += 10
        again = await gate.agenerate("a cat", model="fake/basic", seed=1)  # the same bytes
        other = await gate.agenerate("a dog", model="fake/basic", seed=2)
        await gate.history.delete([first.history_id], images=True)
        assert await gate.media.get(again.images[0].stored.key) == png_bytes(8, 8, 1)
        await gate.history.delete([again.history_id, other.history_id], images=True)
        assert await gate.media.get(again.images[0].stored.key) is None
        assert await gate.media.get(other.images[0].stored.key) is None
        assert await gate.history.list() == []
