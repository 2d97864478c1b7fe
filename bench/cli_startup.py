"""Wall time of the fast `imagegate` commands from a fresh process, against a floor.

    uv run python bench/cli_startup.py [--runs 15]

The floor is `python -c "import click, pydantic, httpx, pluggy"` (the libraries any CLI of
this kind imports) measured in the same run. Target: each command at most 1.5x the floor.
Runs are interleaved (floor, command, floor, ...) so background load hits all alike.
Commands run with every installed plugin, as a user runs them.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 1.5


def imagegate_command() -> list[str]:
    script = Path(sys.executable).parent / "imagegate"
    if script.exists():
        return [str(script)]
    found = shutil.which("imagegate")
    return [found] if found else [sys.executable, "-m", "imagegate.cli"]


def wall_time(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    cli = imagegate_command()
    cases = {
        "floor: import click, pydantic, httpx, pluggy": [
            sys.executable,
            "-c",
            "import click, pydantic, httpx, pluggy",
        ],
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import click'": [sys.executable, "-c", "import click"],
        "python -c 'import imagegate'": [sys.executable, "-c", "import imagegate"],
        "imagegate --help": [*cli, "--help"],
        "imagegate models": [*cli, "models"],
        "imagegate generate --help": [*cli, "generate", "--help"],
    }
    for command in cases.values():  # warm the file cache and .pyc files
        wall_time(command, env)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, command in cases.items():
            samples[name].append(wall_time(command, env))

    medians = {name: statistics.median(values) * 1000 for name, values in samples.items()}
    floor = medians["floor: import click, pydantic, httpx, pluggy"]
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    print(f"command: {' '.join(cli)}; median of {args.runs} interleaved runs each\n")
    print(f"| command | median ms | vs floor | target ≤ {TARGET}× |")
    print("|---|---|---|---|")
    for name, median in medians.items():
        ratio = median / floor
        verdict = (
            "" if name.startswith(("floor", "python")) else ("ok" if ratio <= TARGET else "MISSED")
        )
        print(f"| `{name.removeprefix('floor: ')}` | {median:.0f} | {ratio:.2f}× | {verdict} |")


if __name__ == "__main__":
    main()
