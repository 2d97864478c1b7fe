"""The state store's contract, on every backend, and its behaviour across processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import imagegate
from imagegate.state import StateError, open_state
from imagegate.state.memory import MemoryState
from imagegate.state.sqlite import SQLiteState
from tests.fakes import FakePlugin

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store_and_clock(request, tmp_path):
    clock = Clock()
    if request.param == "memory":
        store = MemoryState(clock)
    elif request.param == "sqlite":
        store = SQLiteState(tmp_path / "state.db", clock=clock)
    else:
        from imagegate.state.redis import RedisState

        store = RedisState(request.getfixturevalue("redis_server").unique_url(), clock=clock)
    yield store, clock
    await store.close()


async def test_records_are_json_objects_that_expire(store_and_clock):
    store, clock = store_and_clock
    await store.put("health", "a", {"state": "cooling", "n": [1, 2]}, ttl=60)
    await store.put("health", "b", {"state": "invalid"})
    assert await store.get("health", "a") == {"state": "cooling", "n": [1, 2]}
    assert await store.get_many("health", ["a", "b", "c"]) == {
        "a": {"state": "cooling", "n": [1, 2]},
        "b": {"state": "invalid"},
    }
    clock.now += 61
    assert await store.get("health", "a") is None
    assert [key for key, _ in await store.items("health")] == ["b"]
    assert await store.get("other", "b") is None  # namespaces are apart


async def test_add_is_put_if_absent_and_returns_what_was_there(store_and_clock):
    store, clock = store_and_clock
    assert await store.add("idem", "k", {"first": True}, ttl=10) is None
    assert await store.add("idem", "k", {"first": False}) == {"first": True}
    clock.now += 11
    assert await store.add("idem", "k", {"second": True}) is None


async def test_items_by_prefix_and_delete(store_and_clock):
    store, _ = store_and_clock
    for key in ("gitee/a/*", "gitee/b/*", "modelscope/a/*"):
        await store.put("health", key, {"k": key})
    assert [k for k, _ in await store.items("health", "gitee/")] == ["gitee/a/*", "gitee/b/*"]
    assert await store.delete("health", "gitee/a/*") == 1
    assert await store.delete("health") == 2
    assert await store.items("health") == []


async def test_hit_counts_in_a_fixed_window_and_refuses_past_the_limit(store_and_clock):
    store, clock = store_and_clock
    results = [await store.hit("rate", "key", window=60, limit=2) for _ in range(3)]
    assert [r.allowed for r in results] == [True, True, False]
    assert results[-1].remaining == 0 and results[-1].reset_at == clock.now + 60
    clock.now += 61
    assert (await store.hit("rate", "key", window=60, limit=2)).allowed


def test_state_urls_pick_the_backend(tmp_path, monkeypatch):
    assert isinstance(open_state("memory:"), MemoryState)
    for url in (f"sqlite://{tmp_path}/s.db", f"sqlite:///{tmp_path}/s.db"):  # /abs, //abs
        store = open_state(url)
        assert isinstance(store, SQLiteState) and store.path == tmp_path / "s.db"
    monkeypatch.setenv("IMAGEGATE_STATE_URL", "memory:")
    assert isinstance(open_state(), MemoryState)
    monkeypatch.delenv("IMAGEGATE_STATE_URL")
    default = open_state()
    assert isinstance(default, SQLiteState)
    assert default.path == Path(os.environ["IMAGEGATE_HOME"]) / "state.db"
    with pytest.raises(StateError, match="unknown state store 'postgres'"):
        open_state("postgres://db/x")


WRITER = """
import asyncio, sys
from imagegate.state.sqlite import SQLiteState

async def main(path, name):
    store = SQLiteState(path)
    for i in range(40):
        await store.put("health", f"{name}-{i}", {"by": name})
        await store.hit("rate", "shared", window=3600, limit=10_000)
    await store.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_several_processes_write_at_once_and_lose_nothing(tmp_path):
    path = str(tmp_path / "state.db")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, path, f"p{n}"], env=env) for n in range(4)
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0, 0, 0]
    check = (
        "import asyncio, json, sys\n"
        "from imagegate.state.sqlite import SQLiteState\n"
        "async def main():\n"
        "    s = SQLiteState(sys.argv[1])\n"
        "    keys = [k for k, _ in await s.items('health')]\n"
        "    window = await s.hit('rate', 'shared', window=3600, limit=10_000)\n"
        "    print(json.dumps([len(keys), window.count]))\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", check, path], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == [160, 161]  # every record, and every counted hit


def test_an_unusable_state_file_warns_once_and_generation_goes_on(tmp_path, capsys):
    bad = tmp_path / "state.db"
    bad.write_bytes(b"this is not a database " * 100)
    plugin = FakePlugin()
    with imagegate.Gate(plugins=[plugin], state=f"sqlite:///{bad}") as gate:
        gate.generate("a cat", model="fake/basic")
        gate.generate("a dog", model="fake/basic")
        assert "cannot be used" in (gate.state.degraded or "")
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(bad) in warnings[0]
    assert "memory for this process only" in warnings[0]
    assert len(plugin.calls) == 2


def test_a_state_dir_that_cannot_be_created_degrades_too(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with imagegate.Gate(plugins=[FakePlugin()], state=f"sqlite:///{blocker}/state.db") as gate:
        result = gate.generate("a cat", model="fake/basic")
    assert result.images
    assert "cannot be used" in capsys.readouterr().err
