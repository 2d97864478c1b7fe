"""Requests per second the synchronous emulators (A4F, Gitee AI) answer at concurrency 50.

    uv run python bench/emulator_throughput.py                      # a4f and gitee, defaults
    uv run python bench/emulator_throughput.py a4f --loop asyncio --http h11
    uv run python bench/emulator_throughput.py --client-procs 2 --response b64_json

Issue #3 wants the emulators at least 3x faster than the gateway needs, so they are never
the bottleneck of a benchmark. Each emulator runs in its own process, started with
`tests.emulators.harness.start_emulator` (or, when --loop/--http are given, the same
`ServerThread` with those uvicorn options); the load comes from a closed-loop
asyncio + aiohttp client in this process (or --client-procs processes): `--concurrency`
workers each POST `/v1/images/generations` (a 256x256 image, url answer) as fast as answers
come, for `--duration` seconds after a warm-up. Printed: requests/s, latency percentiles,
errors, the CPU seconds the emulator and the load generator each used per wall-clock
second (1.0 = one core saturated), and the emulator's CPU time per answer, whose inverse is
what it would serve with a core to itself: on a shared 2-core machine the load generator
and other processes take CPU too, so requests/s alone drifts from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "valid-token-0001"
BODIES = {
    "a4f": {"model": "provider-4/imagen-3.5", "prompt": "bench", "n": 1, "size": "256x256"},
    "gitee": {
        "model": "z-image-turbo",
        "prompt": "bench",
        "width": 256,
        "height": 256,
        "seed": 1,
        "num_inference_steps": 9,
    },
}


# -- the emulator side (a child process) ----------------------------------------------------


def serve(name: str, loop: str | None, http: str | None) -> None:
    """Start one emulator, print its base URL, and run until stdin closes."""
    sys.path.insert(0, str(ROOT))
    from tests.emulators.harness import start_emulator

    options = {key: value for key, value in (("loop", loop), ("http", http)) if value}
    if options:
        import importlib

        from tests.emulators.control import Control
        from tests.emulators.server import ServerThread

        module = importlib.import_module(f"tests.emulators.{name}")
        server = ServerThread(module.create_app(Control()), **options).start()
        base_url = server.url + module.BASE_PATH
    else:
        emulator = start_emulator(name)
        server, base_url = emulator.server, emulator.base_url
    print(base_url, flush=True)
    sys.stdin.read()
    server.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the load side ------------------------------------------------------------------------


async def load(
    url: str, body: dict, concurrency: int, warmup: float, duration: float, server_pid: int
) -> dict:
    """Closed-loop load; CPU use of both sides is sampled over the measured window only."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    data = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        measure_from, until = start + warmup, start + warmup + duration

        async def worker() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < until:
                try:
                    async with session.post(url, data=data, headers=headers) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                if now >= measure_from:
                    if ok:
                        latencies.append(time.perf_counter() - now)
                    else:
                        errors += 1

        async def sample_cpu() -> tuple[float, float]:
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            client_before, server_before = own_cpu(), cpu_seconds(server_pid)
            await asyncio.sleep(max(0.0, until - time.perf_counter()))
            return own_cpu() - client_before, cpu_seconds(server_pid) - server_before

        *_, (client_cpu, server_cpu) = await asyncio.gather(
            *(worker() for _ in range(concurrency)), sample_cpu()
        )
    return {
        "latencies": latencies,
        "errors": errors,
        "client_cpu": client_cpu / duration,
        "server_cpu": server_cpu / duration,
    }


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load_in_process(
    url: str, body: dict, concurrency: int, warmup: float, duration: float, server_pid: int
) -> dict:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(load(url, body, concurrency, warmup, duration, server_pid))


def measure(name: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--serve", name]
    command += [f"--loop={args.loop}"] if args.loop else []
    command += [f"--http={args.http}"] if args.http else []
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        base_url = child.stdout.readline().strip()
        if not base_url:
            raise RuntimeError(f"the {name} emulator did not start")
        body = {**BODIES[name], "response_format": args.response}
        url = f"{base_url}/images/generations"
        procs = args.client_procs
        shares = [args.concurrency // procs + (i < args.concurrency % procs) for i in range(procs)]
        with ProcessPoolExecutor(procs) as pool:
            parts = list(
                pool.map(
                    load_in_process,
                    [url] * procs,
                    [body] * procs,
                    shares,
                    [args.warmup] * procs,
                    [args.duration] * procs,
                    [child.pid] * procs,
                )
            )
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=30)
    latencies = sorted(x for part in parts for x in part["latencies"])

    def pct(q: float) -> float:
        return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    return {
        "emulator": name,
        "server": f"loop={args.loop or 'auto'}, http={args.http or 'auto'}",
        "response": args.response,
        "concurrency": args.concurrency,
        "client_procs": procs,
        "requests": len(latencies),
        "errors": sum(part["errors"] for part in parts),
        "rps": len(latencies) / args.duration,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        # CPU seconds per measured second (1.0 = one core busy all the time)
        "emulator_cpu": parts[0]["server_cpu"],
        "client_cpu": sum(part["client_cpu"] for part in parts),
        # what one answer costs the emulator, whatever else shares the machine; its inverse
        # is the rate the emulator would reach with one core to itself
        "emulator_us_per_request": 1e6
        * parts[0]["server_cpu"]
        * args.duration
        / max(1, len(latencies)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    known = [n for n in BODIES if (ROOT / "tests" / "emulators" / f"{n}.py").exists()]
    parser.add_argument("emulators", nargs="*", default=known, help=f"of {', '.join(BODIES)}")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--client-procs", type=int, default=1, help="load generator processes")
    parser.add_argument("--response", choices=["url", "b64_json"], default="url")
    parser.add_argument("--loop", help="uvicorn loop for the emulator: asyncio, uvloop")
    parser.add_argument("--http", help="uvicorn http for the emulator: h11, httptools")
    parser.add_argument("--out", help="also write the rows as JSON here")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.loop, args.http)
        return
    if unknown := set(args.emulators) - set(BODIES):
        parser.error(f"no such synchronous emulator: {', '.join(sorted(unknown))}")
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
    )
    rows = []
    for name in args.emulators:
        row = measure(name, args)
        rows.append(row)
        print(
            f"{row['emulator']:6} {row['server']:28} {row['response']:8} c={row['concurrency']} "
            f"clients={row['client_procs']}: {row['rps']:7.0f} req/s  p50 {row['p50_ms']:.1f} ms"
            f"  p99 {row['p99_ms']:.1f} ms  errors {row['errors']}  "
            f"cpu emulator {row['emulator_cpu']:.2f} client {row['client_cpu']:.2f}  "
            f"emulator {row['emulator_us_per_request']:.0f} µs/request "
            f"(one core: {1e6 / row['emulator_us_per_request']:,.0f} req/s)",
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
