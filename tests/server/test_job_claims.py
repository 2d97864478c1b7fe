"""A job's claim across processes: a server whose claim lapsed and was taken by another
stops working on the job, records nothing over it, and never takes the claim back."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import openai

import imagegate
from imagegate.paths import data_dir
from imagegate.state.sqlite import SQLiteState
from tests.fakes import FakePlugin

OTHER = {"by": "another-replica"}


def read(namespace: str, key: str) -> dict | None:
    """What a second process sharing the server's SQLite state sees."""

    async def get() -> dict | None:
        store = SQLiteState(data_dir() / "state.db")
        try:
            return await store.get(namespace, key)
        finally:
            await store.close()

    return asyncio.run(get())


def take_over(job_id: str) -> None:
    async def put() -> None:
        store = SQLiteState(data_dir() / "state.db")
        try:
            await store.put("job-claims", job_id, OTHER, ttl=60)
        finally:
            await store.close()

    asyncio.run(put())


def test_a_server_that_lost_its_claim_stops_and_leaves_the_job_to_the_other(live_server, caplog):
    fake = FakePlugin(delay=30)
    gate = imagegate.Gate(plugins=[fake], use_stored_tokens=False, retries=0)
    base = live_server(gate)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="fk:t-1", max_retries=0, timeout=30)
    raw = client.images.with_raw_response.generate(
        model="fake/basic", prompt="a cat", extra_headers={"Prefer": "respond-async"}
    )
    job_id = json.loads(raw.content)["id"]
    deadline = time.monotonic() + 20
    while (read("jobs", job_id) or {}).get("status") != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)

    with caplog.at_level(logging.WARNING, logger="imagegate.server"):
        take_over(job_id)  # as if this server stalled past its claim and another took it
        deadline = time.monotonic() + 20
        while "taken over by another server" not in caplog.text:
            assert time.monotonic() < deadline, "the server kept the job it lost"
            time.sleep(0.05)
        time.sleep(1.5)  # more than a heartbeat: a renewal would show by now

    assert read("job-claims", job_id) == OTHER  # never taken back
    record = read("jobs", job_id)
    assert record is not None and record["status"] == "running"  # not cancelled, not failed
