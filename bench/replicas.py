"""What sharing state on Redis costs: latency against the SQLite default, and two replicas
on one Redis against two replicas each on its own SQLite.

    uv run python bench/replicas.py                       # 4 rounds of 5 s, both measures
    uv run python bench/replicas.py --rate-limit 1000000/minute   # the store on every request
    uv run python bench/replicas.py --store-ops           # only the store calls, in-process

Starts `bench/upstream.py` (an instant OpenAI-style image endpoint), a `redis-server` on a
free loopback port (Debian's package: apt-get install redis-server), and four `imagegate
serve` processes through the A4F plugin: two on their own SQLite state (each its own data
dir), two on the one Redis. Every request checks key health (the store is read about once a
second per token, `health.FRESH_FOR`) and is recorded in the history (one write per request
to the store); `--rate-limit` adds one `hit` per request. The upstream's links pass through
(`IMAGEGATE_PASS_LINKS=a4f`): no image is fetched or stored.

1. Latency, c=1: one SQLite replica against one Redis replica, rounds alternating so machine
   noise hits both alike; the medians of all rounds are compared (target: Redis adds at
   most 0.5 ms).
2. Throughput, c=50 per replica: both SQLite replicas loaded at once (summed requests/s),
   then both Redis replicas at once (target: Redis >= 0.8x SQLite), rounds alternating.

`--store-ops` measures what a request adds, without HTTP: the median of 2,000 sequential
calls of `get_many` (key health's read), `hit` (a rate window) and `history_append` on each
store, in one
process, with the process's CPU time per call: steadier than the load test on a busy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from server_load import A4F_MODEL, Servers, Target, free_port, run_load, wait_healthy

HERE = Path(__file__).resolve().parent


def start_redis(servers: Servers, logdir: Path) -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is needed: apt-get install redis-server")
    port = free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += ["--appendonly", "no", "--dir", str(logdir)]
    servers.start("redis", args)
    import socket
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return f"redis://127.0.0.1:{port}/0?prefix=bench:"
        except OSError:
            time.sleep(0.05)
    sys.exit("redis-server did not start")


def start_replica(servers, logdir, name, upstream, state_url, rate_limit) -> Target:
    port = free_port()
    env = {
        "IMAGEGATE_A4F_BASE_URL": f"{upstream}/v1",
        "IMAGEGATE_LOAD_PLUGINS": "a4f",
        "IMAGEGATE_STATE_URL": state_url,
        "IMAGEGATE_HOME": str(logdir / f"home-{name}"),
        # the upstream's links are not images: answer them as they are (no fetch, no store)
        "IMAGEGATE_PASS_LINKS": "a4f",
    }
    if rate_limit:
        env["IMAGEGATE_RATE_LIMIT"] = rate_limit
    if os.environ.get("BENCH_NO_HISTORY"):
        env["IMAGEGATE_HISTORY"] = "off"
    process = servers.start(
        f"imagegate-{name}",
        [sys.executable, "-c", f"from imagegate.server import serve; serve(port={port})"],
        env=env,
    )
    wait_healthy(f"http://127.0.0.1:{port}/health", process)
    return Target(name, f"http://127.0.0.1:{port}", f"a4f/{A4F_MODEL}", "Bearer a4f:bench-0001")


async def together(targets: list[Target], concurrency: int, duration: float) -> float:
    rows = await asyncio.gather(*(run_load(t, 0, concurrency, duration) for t in targets))
    for row in rows:
        assert row.errors == 0, f"{row.target}: {row.errors} errors"
    return sum(row.rps for row in rows)


async def store_ops(redis_url: str, logdir: Path, calls: int = 2000) -> None:
    import time

    from imagegate.state.redis import RedisState
    from imagegate.state.sqlite import SQLiteState

    stores = {"sqlite": SQLiteState(logdir / "ops.db"), "redis": RedisState(redis_url)}
    keys = ["a4f/0123456789ab/*", "a4f/0123456789ab/a4f/provider-4/imagen-3.5"]
    serial = iter(range(10**9))

    def record() -> dict:  # about the size of a server's history record
        n = next(serial)
        return {
            "id": f"bench-{n:09d}",
            "prompt": "a cute cat " * 8,
            "model": "a4f/x",
            "provider": "a4f",
            "source": "server",
            "status": "ok",
            "images": [{"seed": n, "sha256": "0" * 64, "mime_type": "image/png"}],
            "parameters": {"width": 1024, "height": 1024, "steps": 9, "n": 1},
        }

    for name, store in stores.items():
        await store.put("health", keys[0], {"state": "ok"}, ttl=600)
        figures = []
        for label, call in (
            ("get_many", lambda s=store: s.get_many("health", keys)),
            ("hit", lambda s=store: s.hit("rate", "caller/60", window=60, limit=10**9)),
            ("history_append", lambda s=store: s.history_append(record(), at=time.time())),
        ):
            spent = []
            cpu = time.process_time()
            for _ in range(calls):
                started = time.perf_counter()
                await call()
                spent.append(time.perf_counter() - started)
            cpu = (time.process_time() - cpu) / calls
            figures.append(
                f"{label} {statistics.median(spent) * 1000:.3f} ms (CPU {cpu * 1000:.3f} ms)"
            )
        print(f"{name}: median {', '.join(figures)}", flush=True)
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=50, help="per replica, measure 2")
    parser.add_argument("--rate-limit", default="", help="e.g. 1000000/minute on every replica")
    parser.add_argument("--store-ops", action="store_true", help="only the store calls")
    args = parser.parse_args()
    logdir = Path(tempfile.mkdtemp(prefix="imagegate-replicas-bench-"))
    servers = Servers(logdir)
    try:
        if args.store_ops:
            print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
            asyncio.run(store_ops(start_redis(servers, logdir), logdir))
            return
        upstream, _ = servers.start_upstream()
        redis_url = start_redis(servers, logdir)
        sqlite = [
            start_replica(servers, logdir, f"sqlite-{n}", upstream, "", args.rate_limit)
            for n in range(2)
        ]
        redis = [
            start_replica(servers, logdir, f"redis-{n}", upstream, redis_url, args.rate_limit)
            for n in range(2)
        ]
        print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)

        medians: dict[str, list[float]] = {"sqlite": [], "redis": []}
        for _ in range(args.rounds):
            for name, target in (("sqlite", sqlite[0]), ("redis", redis[0])):
                row = asyncio.run(run_load(target, 0, 1, args.duration))
                assert row.errors == 0, f"{name}: {row.errors} errors"
                medians[name].append(row.p50_ms)
        lite, shared = (statistics.median(medians[n]) for n in ("sqlite", "redis"))
        print(
            f"c=1 median latency: sqlite {lite:.3f} ms, redis {shared:.3f} ms "
            f"({shared - lite:+.3f} ms; rounds sqlite {[round(x, 3) for x in medians['sqlite']]}, "
            f"redis {[round(x, 3) for x in medians['redis']]})",
            flush=True,
        )

        summed: dict[str, list[float]] = {"sqlite": [], "redis": []}
        for _ in range(args.rounds):
            for name, pair in (("sqlite", sqlite), ("redis", redis)):
                summed[name].append(asyncio.run(together(pair, args.concurrency, args.duration)))
        lite, shared = (statistics.median(summed[n]) for n in ("sqlite", "redis"))
        print(
            f"two replicas, c={args.concurrency} each: sqlite (own each) {lite:.0f} requests/s, "
            f"redis (shared) {shared:.0f} requests/s ({shared / lite:.2f}x; rounds "
            f"sqlite {[round(x) for x in summed['sqlite']]}, "
            f"redis {[round(x) for x in summed['redis']]})",
            flush=True,
        )
        print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
