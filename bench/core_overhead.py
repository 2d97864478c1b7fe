"""The core's own overhead per generated image, against an in-process plugin that answers
at once; and how n=8 compares with n=1 when every provider call takes 200 ms.

    uv run python bench/core_overhead.py

Targets (issue 2): under 1 ms per image at n=1; n=8 within 1.2x of n=1 at 200 ms a call.
"""

from __future__ import annotations

import asyncio
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imagegate
from tests.fakes import FakePlugin, png_bytes

PNG = png_bytes(64, 64)


class Instant(FakePlugin):
    """Answers at once with the same small PNG: what is left to measure is the core."""

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        return [imagegate.GeneratedImage(data=PNG) for _ in range(request.n)]


class Sleepy(FakePlugin):
    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        await asyncio.sleep(0.2)
        return [imagegate.GeneratedImage(data=PNG) for _ in range(request.n)]


async def per_image_overhead(rounds: int = 3000) -> list[float]:
    async with imagegate.Gate(plugins=[Instant()]) as gate:
        for _ in range(200):  # warm up
            await gate.agenerate("a cat", model="fake/basic")
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            await gate.agenerate("a cat", model="fake/basic")
            samples.append(time.perf_counter() - start)
    return samples


async def fan_out(n: int, rounds: int = 5) -> float:
    async with imagegate.Gate(plugins=[Sleepy()]) as gate:
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            await gate.agenerate("a cat", model="fake/basic", n=n)
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    samples = asyncio.run(per_image_overhead())
    ms = sorted(s * 1000 for s in samples)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}"
    )
    print(
        f"n=1 instant plugin, {len(ms)} calls: median {statistics.median(ms):.3f} ms, "
        f"p90 {ms[int(len(ms) * 0.9)]:.3f} ms, p99 {ms[int(len(ms) * 0.99)]:.3f} ms"
    )
    one, eight = asyncio.run(fan_out(1)), asyncio.run(fan_out(8))
    print(
        f"200 ms per call: n=1 {one * 1000:.1f} ms, n=8 {eight * 1000:.1f} ms ({eight / one:.3f}x)"
    )


if __name__ == "__main__":
    main()
