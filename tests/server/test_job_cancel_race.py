"""A cancel asked through one server while another runs the job holds even when the
runner's progress write lands after it (two processes sharing one state store)."""

from __future__ import annotations

import asyncio
import json
import time

import openai

import imagegate
from imagegate.paths import data_dir
from imagegate.state.sqlite import SQLiteState
from tests.fakes import FakePlugin


def shared_state(work):
    """Run `work(store)` on the SQLite state the servers share, as a third process would."""

    async def run():
        store = SQLiteState(data_dir() / "state.db")
        try:
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(run())


def sdk(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key="fk:t-1", max_retries=0, timeout=30)


def test_a_cancel_from_the_other_server_survives_a_late_progress_write(live_server):
    runner = live_server(imagegate.Gate(plugins=[FakePlugin(delay=30)], use_stored_tokens=False))
    other = live_server(imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False))
    raw = sdk(runner).images.with_raw_response.generate(
        model="fake/basic", prompt="a cat", extra_headers={"Prefer": "respond-async"}
    )
    job_id = json.loads(raw.content)["id"]
    deadline = time.monotonic() + 20
    while (stale := shared_state(lambda s: s.get("jobs", job_id)))["status"] != "running":
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)

    cancelled = sdk(other).delete(f"/images/jobs/{job_id}", cast_to=object)
    assert cancelled["status"] == "cancelled"
    # the runner's keeper read the record before the cancel and writes its progress after it
    shared_state(lambda s: s.put("jobs", job_id, {**stale, "progress": {"stage": "running"}}))

    deadline = time.monotonic() + 20
    while (job := sdk(other).get(f"/images/jobs/{job_id}", cast_to=object))["status"] in (
        "queued",
        "running",
    ):
        assert time.monotonic() < deadline, "the cancelled job went on running"
        time.sleep(0.1)
    assert job["status"] == "cancelled", job
    assert job["error"]["code"] == "CANCELLED"
