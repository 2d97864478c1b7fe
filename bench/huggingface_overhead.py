"""What the HuggingFace plugin adds per image over a raw gradio_client call of the same Space.

    uv run python bench/huggingface_overhead.py [--calls 40] [--space-seconds 0 0.5]

Starts the Spaces emulator (real Gradio apps) in this process, then for each Space time T
(the emulator's `delay`, spread over the steps) alternates, call by call, on the same
emulator Space (flux-1-schnell, 256x256, 4 steps):
  raw     `client.predict(...)` on one gradio_client Client built beforehand
          (download_files=False, so neither side downloads the image)
  plugin  `await gate.agenerate(...)` (url response: no byte fetch), with a progress callback
Reports medians, the overhead, and how many Clients the plugin built (config fetches seen
by the emulator): the first call builds one, every later call reuses it.

Target (issue 6): plugin median within 10% of raw; no Client construction after the first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import imagegate
import imagegate_huggingface
from imagegate_huggingface import runner
from tests.emulators.harness import start_emulator

SPACE = "black-forest-labs-flux-1-schnell"
PROMPT, SIZE, STEPS = "a cute cat", 256, 4


def configs(emulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "GET" and r.path.endswith("/config"))


async def main(calls: int, space_seconds: list[float]) -> None:
    from gradio_client import Client

    emulator = start_emulator("spaces")
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cpus"
    )
    started = time.perf_counter()
    raw = await asyncio.to_thread(
        Client,
        f"{emulator.base_url}/{SPACE}/",
        verbose=False,
        download_files=False,
        analytics_enabled=False,
    )
    print(f"raw Client() construction: {(time.perf_counter() - started) * 1000:.1f} ms")
    async with imagegate.Gate(
        plugins=[imagegate_huggingface], base_urls={"huggingface": emulator.base_url}
    ) as gate:

        async def plugin_call(seed: int) -> float:
            began = time.perf_counter()
            result = await gate.agenerate(
                PROMPT,
                model="hf/flux-1-schnell",
                size=f"{SIZE}x{SIZE}",
                steps=STEPS,
                seed=seed,
                progress=lambda event: None,
            )
            assert result.images[0].url and result.images[0].seed == seed
            return time.perf_counter() - began

        async def raw_call(seed: int) -> float:
            began = time.perf_counter()
            # blocking, as a plain gradio_client user calls it (nothing else runs on this loop)
            image, used = raw.predict(PROMPT, seed, False, SIZE, SIZE, STEPS, api_name="/infer")
            assert image["url"] and used == seed
            return time.perf_counter() - began

        before = configs(emulator)
        first = await plugin_call(0)
        built_first = runner.constructed
        print(
            f"plugin first call (builds its Client): {first * 1000:.1f} ms, "
            f"Clients built: {built_first}, config fetches: {configs(emulator) - before}"
        )
        for seconds in space_seconds:
            emulator.control.delay = seconds
            for seed in range(3):  # warm both paths at this setting
                await raw_call(seed)
                await plugin_call(seed)
            fetched = configs(emulator)
            raw_times, plugin_times = [], []
            for seed in range(calls):
                raw_times.append(await raw_call(seed))
                plugin_times.append(await plugin_call(seed))
            raw_median = statistics.median(raw_times) * 1000
            plugin_median = statistics.median(plugin_times) * 1000
            overhead = plugin_median - raw_median
            print(
                f"Space time {seconds:g} s, {calls} calls each: raw median {raw_median:.1f} ms "
                f"(p90 {_p90(raw_times):.1f}), plugin median {plugin_median:.1f} ms "
                f"(p90 {_p90(plugin_times):.1f}); overhead {overhead:+.1f} ms "
                f"({overhead / raw_median * 100:+.1f}%); Clients built since the first call: "
                f"{runner.constructed - built_first}, config fetches: "
                f"{configs(emulator) - fetched}"
            )
    raw.close()
    emulator.stop()


def _p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9) - 1] * 1000


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--space-seconds", type=float, nargs="+", default=[0.0, 0.5])
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.space_seconds))
