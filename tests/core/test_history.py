"""The generation history through the library: what `Gate(history=True)` records, the
filters, deletion, and the same behaviour from the memory and SQLite stores."""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest

import imagegate
from imagegate import errors
from imagegate.state.sqlite import SQLiteState
from tests.fakes import FakePlugin, png_bytes

pytestmark = pytest.mark.anyio

TOKEN = "fk:very-secret-token-123"


@pytest.fixture(params=["memory", "sqlite", "redis"])
def state(request, tmp_path):
    if request.param == "redis":
        return request.getfixturevalue("redis_server").unique_url()
    return "memory:" if request.param == "memory" else SQLiteState(tmp_path / "state.db")


def gate_with(state, **kwargs) -> imagegate.Gate:
    return imagegate.Gate(
        plugins=[FakePlugin()], state=state, use_stored_tokens=False, retries=0, **kwargs
    )


async def test_a_generation_is_recorded_with_its_parameters_seeds_and_hashes(state):
    async with gate_with(state, history=True) as gate:
        result = await gate.agenerate(
            "a red fox", model="fake/b", n=2, seed=7, negative_prompt="blurry", steps=12
        )
        records = await gate.history.list()
    (record,) = records
    assert record["id"] == result.history_id
    assert record["status"] == "ok" and record["source"] == "library"
    assert (record["prompt"], record["negative_prompt"]) == ("a red fox", "blurry")
    assert (record["model"], record["provider"]) == ("fake/basic", "fake")
    params = record["parameters"]
    assert (params["steps"], params["seed"], params["n"], params["width"]) == (12, 7, 2, 1024)
    assert [i["seed"] for i in record["images"]] == [7, 8]
    assert [i["mime_type"] for i in record["images"]] == ["image/png", "image/png"]
    import hashlib

    assert [i["sha256"] for i in record["images"]] == [
        hashlib.sha256(png_bytes(8, 8, shade)).hexdigest() for shade in (7, 8)
    ]
    assert record["timings"]["generation"] >= 0
    assert record["error"] is None


async def test_nothing_is_recorded_unless_asked(state):
    async with gate_with(state) as gate:
        result = await gate.agenerate("a cat", model="fake/basic")
        assert result.history_id is None
        await gate.agenerate("a dog", model="fake/basic", history=True)
        assert [r["prompt"] for r in await gate.history.list()] == ["a dog"]


async def test_a_failure_is_recorded_with_its_code_and_never_the_token(state):
    plugin = FakePlugin()
    plugin.failures.append(errors.QuotaExceeded("quota gone for very-secret-token-123"))
    gate = imagegate.Gate(plugins=[plugin], state=state, history=True, retries=0)
    async with gate:
        with pytest.raises(errors.QuotaExceeded):
            await gate.agenerate("a cat", model="fake/b", token=TOKEN, seed=3)
        (record,) = await gate.history.list(failed=True)
        assert await gate.history.list(failed=False) == []
    assert record["status"] == "failed"
    assert record["error"]["code"] == "QUOTA_EXCEEDED"
    assert (record["model"], record["provider"], record["parameters"]["seed"]) == (
        "fake/basic",
        "fake",
        3,
    )
    assert "very-secret-token-123" not in json.dumps(record)


async def test_records_never_hold_base64(state):
    async with gate_with(state, history=True) as gate:
        result = await gate.agenerate("a cat", model="fake/basic", response_format="b64_json")
        (record,) = await gate.history.list()
    text = json.dumps(record)
    assert result.images[0].b64_json() not in text
    assert base64.b64encode(png_bytes(8, 8, result.images[0].seed)).decode() not in text


async def test_filters_newest_first(state):
    clock = [1_000_000.0]
    gate = gate_with(state, history=True, clock=lambda: clock[0])
    async with gate:
        for prompt, model in [
            ("a Red fox", "fake/basic"),
            ("a cat", "fake/plain"),
            ("a dog", "fake/basic"),
        ]:
            clock[0] += 10
            await gate.agenerate(prompt, model=model)
        history = gate.history
        assert [r["prompt"] for r in await history.list()] == ["a dog", "a cat", "a Red fox"]
        assert [r["prompt"] for r in await history.list(limit=2)] == ["a dog", "a cat"]
        assert [r["prompt"] for r in await history.list(search="RED")] == ["a Red fox"]
        assert [r["prompt"] for r in await history.list(model="fake/plain")] == ["a cat"]
        assert len(await history.list(provider="fake")) == 3
        assert await history.list(provider="other") == []
        assert [r["prompt"] for r in await history.list(before=1_000_030)] == [
            "a cat",
            "a Red fox",
        ]
        assert [r["prompt"] for r in await history.list(after=1_000_020)] == ["a dog", "a cat"]


async def test_delete_by_id_and_clear_before(state):
    clock = [2_000_000.0]
    gate = gate_with(state, history=True, clock=lambda: clock[0])
    async with gate:
        ids = []
        for prompt in ("one", "two", "three"):
            clock[0] += 100
            ids.append((await gate.agenerate(prompt, model="fake/basic")).history_id)
        gone = await gate.history.delete([ids[1], "no-such-id"])
        assert [r["prompt"] for r in gone] == ["two"]
        assert await gate.history.get(ids[1]) is None
        gone = await gate.history.clear(before=2_000_250)
        assert [r["prompt"] for r in gone] == ["one"]
        assert [r["prompt"] for r in await gate.history.list()] == ["three"]


async def test_a_corrupt_database_still_answers_and_warns_once(tmp_path, capfd):
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database" * 100)
    async with gate_with(SQLiteState(path), history=True) as gate:
        first = await gate.agenerate("a cat", model="fake/basic")
        await gate.agenerate("a dog", model="fake/basic")
        assert first.images[0].data == png_bytes(8, 8, first.images[0].seed)
        assert [r["prompt"] for r in await gate.history.list()] == ["a dog", "a cat"]
        assert gate.state.degraded
    warnings = [line for line in capfd.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "history" in warnings[0]


async def test_sqlite_keeps_history_in_a_table_of_its_own(tmp_path):
    path = tmp_path / "state.db"
    async with gate_with(SQLiteState(path), history=True) as gate:
        await gate.agenerate("a cat", model="fake/basic")
    with sqlite3.connect(path) as db:
        (count,) = db.execute("SELECT count(*) FROM history").fetchone()
        indexes = {row[1] for row in db.execute("PRAGMA index_list(history)")}
    assert count == 1
    assert {"history_at", "history_model"} <= indexes


async def test_history_persists_across_gates(tmp_path):
    path = tmp_path / "state.db"
    async with gate_with(SQLiteState(path), history=True) as gate:
        result = await gate.agenerate("a cat", model="fake/basic")
    async with gate_with(SQLiteState(path)) as gate:
        record = await gate.history.get(result.history_id)
    assert record is not None and record["prompt"] == "a cat"


def test_sync_gate_records_too(tmp_path):
    import asyncio

    with gate_with(SQLiteState(tmp_path / "s.db"), history=True) as gate:
        result = gate.generate("a cat", model="fake/basic")

    async def read():
        async with gate_with(SQLiteState(tmp_path / "s.db")) as gate:
            return await gate.history.get(result.history_id)

    assert asyncio.run(read())["prompt"] == "a cat"


def test_bad_settings_name_the_setting():
    with pytest.raises(ValueError, match="retention"):
        imagegate.Gate(plugins=[FakePlugin()], retention="soon")
    with pytest.raises(ValueError, match="huggingface links are always stored"):
        imagegate.Gate(plugins=[FakePlugin()], pass_links=["huggingface"])


async def test_a_family_generation_records_the_model_that_served_and_the_chain():
    from tests.core.test_failover import Member

    alpha, beta = Member("alpha"), Member("beta")
    alpha.failures.append(errors.ProviderError("alpha is down", provider="alpha"))
    gate = imagegate.Gate(
        plugins=[alpha, beta], state="memory", retries=0, history=True, prefer="alpha,beta"
    )
    async with gate:
        result = await gate.agenerate("a cat", model="any/toy")
        (record,) = await gate.history.list()
    assert record["model"] == result.model == "beta/toy-model"
    assert [(s["model"], s["outcome"]) for s in record["chain"]] == [
        ("alpha/toy-model", "failed"),
        ("beta/toy-model", "served"),
    ]
