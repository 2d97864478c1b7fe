"""A/B two copies of imagegate's core under the same load, in interleaved slices.

    cp -r core/src /tmp/before              # before a change; after it:
    uv run python bench/ab_server.py --a /tmp/before --b core/src
    uv run python bench/ab_server.py --a /tmp/before --b core/src --concurrency 1
    uv run python bench/ab_server.py --a forwarder                 # against the reference

On this kind of machine the CPU per request of one server drifts by 10-40% from minute to
minute (neighbours on the host, the two cores shared with the load generator), far more
than one optimisation changes it, so runs one after the other cannot tell a 3% gain from
noise. Here both servers run at once, on one upstream, and the load alternates between them
in short slices (A B, B A, A B, ...): each pair sees the same machine, and the median of
the pairs' ratios is the figure to trust. Settings as bench/profile_server.py (A4F plugin,
links passed through, history off unless BENCH_HISTORY=on).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from server_load import (  # noqa: E402 - a sibling script
    A4F_MODEL,
    Servers,
    Target,
    free_port,
    run_load,
    wait_healthy,
)


def start_forwarder(servers: Servers, name: str, upstream: str) -> Target:
    port = free_port()
    process = servers.start(
        name,
        [sys.executable, str(HERE / "forwarder.py"), "--port", str(port), "--upstream", upstream],
    )
    wait_healthy(f"http://127.0.0.1:{port}/health", process)
    return Target(
        name, f"http://127.0.0.1:{port}", A4F_MODEL, "Bearer bench-token-0001", process.pid
    )


def start_imagegate(servers: Servers, name: str, src: str, upstream: str, home: Path) -> Target:
    if src == "forwarder":
        return start_forwarder(servers, name, upstream)
    port = free_port()
    process = servers.start(
        name,
        [sys.executable, "-c", f"from imagegate.server import serve; serve(port={port})"],
        env={
            "IMAGEGATE_A4F_BASE_URL": f"{upstream}/v1",
            "IMAGEGATE_LOAD_PLUGINS": "a4f",
            "IMAGEGATE_HOME": str(home / name),
            "IMAGEGATE_PASS_LINKS": "a4f",
            "IMAGEGATE_HISTORY": os.environ.get("BENCH_HISTORY", "off"),
            "PYTHONPATH": str(Path(src).resolve()),
        },
    )
    wait_healthy(f"http://127.0.0.1:{port}/health", process)
    return Target(
        name,
        f"http://127.0.0.1:{port}",
        f"a4f/{A4F_MODEL}",
        "Bearer a4f:bench-token-0001",
        process.pid,
    )


async def interleaved(a: Target, b: Target, args: argparse.Namespace) -> list[tuple]:
    pairs = []
    for index in range(args.slices):
        order = (a, b) if index % 2 == 0 else (b, a)
        rows = {}
        for target in order:
            rows[target.name] = await run_load(
                target, args.delay, args.concurrency, args.slice_seconds
            )
        ra, rb = rows["A"], rows["B"]
        pairs.append((ra, rb))
        print(
            f"slice {index + 1:2d}: A {ra.cpu_ms:.3f} ms/req {ra.rps:7.0f} req/s p50 "
            f"{ra.p50_ms:6.2f} | B {rb.cpu_ms:.3f} ms/req {rb.rps:7.0f} req/s p50 "
            f"{rb.p50_ms:6.2f} | B/A cpu {rb.cpu_ms / ra.cpu_ms:.3f}",
            flush=True,
        )
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--a", required=True, help="the core/src to compare against, or `forwarder`"
    )
    parser.add_argument("--b", default=str(HERE.parent / "core" / "src"))
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--slice-seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay", type=int, default=0, help="upstream delay in ms")
    args = parser.parse_args()

    logdir = Path(tempfile.mkdtemp(prefix="imagegate-ab-"))
    servers = Servers(logdir)
    try:
        url, _ = servers.start_upstream()
        a = start_imagegate(servers, "A", args.a, url, logdir)
        b = start_imagegate(servers, "B", args.b, url, logdir)
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        pairs = asyncio.run(interleaved(a, b, args))
    finally:
        servers.stop()
    cpu = statistics.median(rb.cpu_ms / ra.cpu_ms for ra, rb in pairs)
    rps = statistics.median(rb.rps / ra.rps for ra, rb in pairs)
    p50 = statistics.median(rb.p50_ms / ra.p50_ms for ra, rb in pairs)
    print(
        f"\nc={args.concurrency} delay={args.delay}ms, {args.slices} slices: median B/A "
        f"cpu/request {cpu:.3f}, requests/s {rps:.3f}, p50 {p50:.3f} "
        f"(A median {statistics.median(ra.cpu_ms for ra, _ in pairs):.3f} ms/req, "
        f"B {statistics.median(rb.cpu_ms for _, rb in pairs):.3f}); logs: {logdir}"
    )


if __name__ == "__main__":
    main()
