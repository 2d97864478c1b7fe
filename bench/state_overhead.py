"""What the state store costs the server per generation: SQLite (the default) vs memory.

    uv run python bench/state_overhead.py                # 4 rounds of 5 s per store, c=1
    uv run python bench/state_overhead.py --concurrency 1,50 --rounds 6

Starts `bench/upstream.py` (an instant OpenAI-style image endpoint) and two `imagegate serve`
processes in front of it through the A4F plugin, one with `IMAGEGATE_STATE_URL=memory:` and
one with the default SQLite state in a fresh data dir; both check key health on every
request (the token's records are read from the store, or from the gate's one-second cache).
History is off and the upstream's links pass through, so the state store is all that
differs. Rounds alternate between the two so
machine noise hits both alike; the medians of all rounds are compared.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

from server_load import A4F_MODEL, Servers, Target, free_port, run_load, wait_healthy

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", default="1")
    args = parser.parse_args()
    logdir = Path(tempfile.mkdtemp(prefix="imagegate-state-bench-"))
    servers = Servers(logdir)
    try:
        upstream, _ = servers.start_upstream()
        targets = {}
        for name, state_url in (("memory", "memory:"), ("sqlite", "")):
            port = free_port()
            home = logdir / f"home-{name}"
            process = servers.start(
                f"imagegate-{name}",
                [sys.executable, "-c", f"from imagegate.server import serve; serve(port={port})"],
                env={
                    "IMAGEGATE_A4F_BASE_URL": f"{upstream}/v1",
                    "IMAGEGATE_LOAD_PLUGINS": "a4f",
                    "IMAGEGATE_STATE_URL": state_url,
                    "IMAGEGATE_HOME": str(home),
                    # the upstream's links are not images: pass them through, unfetched
                    "IMAGEGATE_PASS_LINKS": "a4f",
                    "IMAGEGATE_HISTORY": "off",
                },
            )
            wait_healthy(f"http://127.0.0.1:{port}/health", process)
            targets[name] = Target(
                name, f"http://127.0.0.1:{port}", f"a4f/{A4F_MODEL}", "Bearer a4f:bench-0001"
            )
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            medians: dict[str, list[float]] = {"memory": [], "sqlite": []}
            rps: dict[str, list[float]] = {"memory": [], "sqlite": []}
            for _ in range(args.rounds):
                for name, target in targets.items():
                    row = asyncio.run(run_load(target, 0, concurrency, args.duration))
                    assert row.errors == 0, f"{name}: {row.errors} errors"
                    medians[name].append(row.p50_ms)
                    rps[name].append(row.rps)
            memory, sqlite = (statistics.median(medians[n]) for n in ("memory", "sqlite"))
            print(
                f"c={concurrency}: median latency memory {memory:.3f} ms, sqlite {sqlite:.3f} ms "
                f"(+{sqlite - memory:.3f} ms); requests/s memory "
                f"{statistics.median(rps['memory']):.0f}, sqlite "
                f"{statistics.median(rps['sqlite']):.0f}",
                flush=True,
            )
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
