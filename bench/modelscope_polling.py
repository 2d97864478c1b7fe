"""How late the ModelScope plugin learns that a task is done, and how often it polls.

    uv run python bench/modelscope_polling.py [--runs 5] [--times 1 5 20] [--jitter 0.2]

For each task time T the ModelScope emulator runs each task for T seconds (with --jitter J,
for a time drawn uniformly from T*(1-J)..T*(1+J), so completion falls at a random point of
the polling schedule). The same plugin, through `Gate.agenerate`, is run with its own
schedule and with the reference client's fixed 3 s interval, alternating run by run.
Overhead = end-to-end time minus the emulator's task time; polls/s = polls / end-to-end.
Our first run of each T is cold (nothing learned yet); later runs use the learned duration.

Targets (issue 5): median overhead under 10% of T and under 0.5 s; at most 1 poll/s on average.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import imagegate
import imagegate_modelscope
from imagegate_modelscope import task as task_module
from imagegate_modelscope.schedule import DURATIONS, Durations, Schedule
from tests.emulators.control import VALID_TOKEN
from tests.emulators.harness import start_emulator


class Fixed3s:
    """The reference client's cadence: a poll every 3 s."""

    def __init__(self, expected: float | None = None) -> None:
        pass

    def next_delay(self, elapsed: float) -> float:
        return 3.0


@dataclass
class Runs:
    overheads: list[float] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


async def one_run(gate: imagegate.Gate, emulator, schedule: type, task_seconds: float):
    # the only difference between the two strategies; the fixed runs must not teach ours
    task_module.Schedule = schedule
    task_module.DURATIONS = DURATIONS if schedule is Schedule else Durations()
    emulator.control.task_seconds = task_seconds
    before = len(emulator.requests)
    started = time.monotonic()
    await gate.agenerate("a lighthouse", model="ms/flux-2", size="256x256", seed=1)
    elapsed = time.monotonic() - started
    polls = sum(1 for r in emulator.requests[before:] if "/tasks/" in r.path)
    return elapsed - task_seconds, polls, elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--times", type=float, nargs="+", default=[1.0, 5.0, 20.0])
    parser.add_argument("--jitter", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    emulator = start_emulator("modelscope")
    results: dict[tuple[float, str], Runs] = {}
    try:
        async with imagegate.Gate(
            plugins=[imagegate_modelscope],
            base_urls={"modelscope": emulator.base_url},
            tokens={"modelscope": VALID_TOKEN},
            timeout=600,
        ) as gate:
            await one_run(gate, emulator, Schedule, 0.0)  # warm up the connection pool
            for task_time in args.times:
                DURATIONS.clear()  # our first run of each task time starts cold
                for _ in range(args.runs):
                    actual = task_time * rng.uniform(1 - args.jitter, 1 + args.jitter)
                    for name, schedule in (("imagegate", Schedule), ("fixed 3 s", Fixed3s)):
                        overhead, polls, elapsed = await one_run(gate, emulator, schedule, actual)
                        runs = results.setdefault((task_time, name), Runs())
                        runs.overheads.append(overhead)
                        runs.polls.append(polls)
                        runs.seconds.append(elapsed)
    finally:
        task_module.Schedule, task_module.DURATIONS = Schedule, DURATIONS
        emulator.stop()
    report(results, args)


def report(results: dict[tuple[float, str], Runs], args: argparse.Namespace) -> None:
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"{args.runs} runs per cell, jitter {args.jitter:g}"
    )
    print(
        "| task time | polling | median overhead | % of task | cold (1st run) | max "
        "| polls/run | polls/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for (task_time, name), runs in results.items():
        median = statistics.median(runs.overheads)
        rate = sum(runs.polls) / sum(runs.seconds)
        print(
            f"| {task_time:g} s | {name} | {median:.3f} s | {median / task_time:.1%} | "
            f"{runs.overheads[0]:.3f} s | {max(runs.overheads):.3f} s | "
            f"{statistics.mean(runs.polls):.1f} | {rate:.2f} |"
        )
    for name in ("imagegate", "fixed 3 s"):
        cells = [runs for (_, n), runs in results.items() if n == name]
        polls = sum(sum(r.polls) for r in cells)
        seconds = sum(sum(r.seconds) for r in cells)
        print(f"# {name}: {polls} polls in {seconds:.1f} s overall = {polls / seconds:.2f} polls/s")


if __name__ == "__main__":
    asyncio.run(main())
