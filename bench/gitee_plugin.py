"""The Gitee AI plugin end to end against its emulator: what one image costs through imagegate.

    uv run python bench/gitee_plugin.py

Measures, through `Gate.agenerate` (url answers, 256x256, nothing downloaded):
- sync path, concurrency 1: median latency, vs the bare emulator round trip (plain httpx on
  the same aiohttp transport), so the difference is the core plus the plugin;
- sync path, concurrency 50: images per second;
- task API with a 2 s task: wall time per image and the number of polls (the cadence cost).
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imagegate
import imagegate_gitee
from imagegate.http import new_async_client
from tests.emulators.control import VALID_TOKEN
from tests.emulators.harness import start_emulator

BODY = {
    "model": "z-image-turbo",
    "prompt": "bench",
    "width": 256,
    "height": 256,
    "seed": 1,
    "num_inference_steps": 9,
    "response_format": "url",
}


async def bare(base_url: str, count: int) -> list[float]:
    headers = {"Authorization": f"Bearer {VALID_TOKEN}"}
    times = []
    async with new_async_client() as client:
        for _ in range(count):
            start = time.perf_counter()
            response = await client.post(
                f"{base_url}/images/generations", json=BODY, headers=headers
            )
            response.json()
            times.append(time.perf_counter() - start)
    return times


async def through_gate(gate: imagegate.Gate, count: int, concurrency: int) -> list[float]:
    times: list[float] = []
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            start = time.perf_counter()
            await gate.agenerate("bench", model="gitee/z-image-turbo", size="256x256", seed=1)
            times.append(time.perf_counter() - start)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return times


async def main() -> None:
    emulator = start_emulator("gitee")
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
    )
    try:
        async with imagegate.Gate(
            plugins=[imagegate_gitee],
            base_urls={"gitee": emulator.base_url},
            tokens={"gitee": VALID_TOKEN},
            max_concurrency=100,
        ) as gate:
            await through_gate(gate, 50, 1)  # warm-up
            await bare(emulator.base_url, 50)
            raw = statistics.median(await bare(emulator.base_url, 500)) * 1000
            one = statistics.median(await through_gate(gate, 500, 1)) * 1000
            print(
                f"sync, c=1: bare emulator {raw:.2f} ms, through imagegate {one:.2f} ms "
                f"(+{one - raw:.2f} ms core and plugin)"
            )
            emulator.control.requests.clear()
            start = time.perf_counter()
            await through_gate(gate, 3000, 50)
            wall = time.perf_counter() - start
            print(f"sync, c=50: {3000 / wall:.0f} images/s")

            os.environ["IMAGEGATE_GITEE_MODE"] = "async"
            emulator.control.task_seconds = 2.0
            emulator.control.requests.clear()
            start = time.perf_counter()
            await through_gate(gate, 5, 5)
            wall = time.perf_counter() - start
            polls = sum(1 for r in emulator.control.requests if r.method == "GET")
            print(f"task API, 2 s tasks, 5 at once: {wall:.2f} s wall, {polls / 5:.1f} polls each")
    finally:
        emulator.stop()


if __name__ == "__main__":
    asyncio.run(main())
