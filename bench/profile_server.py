"""Where `imagegate serve` spends its CPU on the hot path: a sampling profile under load.

    uv run --with py-spy python bench/profile_server.py            # c=50, instant upstream
    uv run --with py-spy python bench/profile_server.py --target forwarder   # the reference
    uv run python bench/profile_server.py --no-profile --pythonpath /tmp/old-src  # A/B

Starts `bench/upstream.py` and `imagegate serve` exactly as bench/server_load.py does (A4F
plugin, links passed through, history off), loads it with the same closed-loop client, and
samples the server with py-spy meanwhile (paused per sample, so async stacks are whole;
`--nonblocking` to not pause it, at the price of torn stacks). Prints the server's CPU per
request, then the functions holding the most samples, inclusive ("time under it") and self
("time in it"), and the share per package (uvicorn, starlette, httpx, aiohttp, pydantic,
asyncio, imagegate's server and core), each also as microseconds per request. Sampling
slows the server: compare shares, and take CPU per request from a `--no-profile` run. The
collapsed stacks are kept (speedscope.app reads them). `--pythonpath` runs the server on
another copy of core/src, to compare a change with what it replaced in alternating runs.
`BENCH_HISTORY=on` keeps the server's history on (off by default, as in server_load.py).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from server_load import (  # noqa: E402 - a sibling script
    A4F_MODEL,
    Servers,
    Target,
    cpu_seconds,
    free_port,
    run_load,
    wait_healthy,
)

IDLE = ("_worker (concurrent/futures/thread.py", "_Worker._loop (imagegate/state/sqlite.py")
"""Threads waiting on their queue, which py-spy does not always see as idle."""
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def package_of(path: str) -> str:
    """A short name for where a frame's file lives."""
    p = "/" + path.replace("\\", "/")
    if "/imagegate/server/" in p:
        return "imagegate.server"
    if "/imagegate_a4f/" in p or "/plugins/" in p:
        return "imagegate plugins"
    if "/imagegate/" in p:
        return "imagegate core"
    for name in (
        "uvicorn",
        "starlette",
        "fastapi",
        "httpx_aiohttp",
        "httpx",
        "httpcore",
        "aiohttp",
        "yarl",
        "multidict",
        "pydantic_core",
        "pydantic",
        "anyio",
        "uvloop",
        "h11",
        "httptools",
    ):
        if f"/{name}/" in p:
            return name
    if "/asyncio/" in p:
        return "asyncio"
    if "/logging/" in p:
        return "logging"
    return "other (stdlib, C)"


def parse(raw: Path) -> tuple[collections.Counter, collections.Counter, collections.Counter, int]:
    """Inclusive and self samples per function, self samples per package, total samples."""
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    packages: collections.Counter = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames or frames[-1].startswith(IDLE):
            continue
        total += count
        seen = set()
        for frame in frames:
            name = short(frame)
            if name not in seen:
                inclusive[name] += count
                seen.add(name)
        leaf = frames[-1]
        own[short(leaf)] += count
        found = _FRAME.match(leaf)
        packages[package_of(found["file"]) if found else "other (stdlib, C)"] += count
    return inclusive, own, packages, total


def short(frame: str) -> str:
    found = _FRAME.match(frame)
    if not found:
        return frame
    path = found["file"].replace("\\", "/")
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{found['func']} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=12.0, help="seconds sampled")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay", type=int, default=0, help="upstream delay in ms")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--target",
        choices=["imagegate", "forwarder"],
        default="imagegate",
        help="the forwarder (bench/forwarder.py) to compare with",
    )
    parser.add_argument(
        "--pythonpath",
        help="put this first on the server's PYTHONPATH (a copy of core/src: A/B a change)",
    )
    parser.add_argument("--nonblocking", action="store_true", help="py-spy --nonblocking")
    parser.add_argument("--no-profile", action="store_true", help="only the CPU per request")
    args = parser.parse_args()
    pyspy = shutil.which("py-spy")
    if pyspy is None and not args.no_profile:
        sys.exit("py-spy is not installed: uv run --with py-spy python bench/profile_server.py")

    logdir = Path(tempfile.mkdtemp(prefix="imagegate-profile-"))
    servers = Servers(logdir)
    try:
        upstream, _ = servers.start_upstream()
        ig_port = free_port()
        if args.target == "forwarder":
            command = [sys.executable, str(HERE / "forwarder.py"), "--port", str(ig_port)]
            command += ["--upstream", upstream]
        else:
            command = [
                sys.executable,
                "-c",
                f"from imagegate.server import serve; serve(port={ig_port})",
            ]
        imagegate = servers.start(
            args.target,
            command,
            env={
                "IMAGEGATE_A4F_BASE_URL": f"{upstream}/v1",
                "IMAGEGATE_LOAD_PLUGINS": "a4f",
                "IMAGEGATE_HOME": str(logdir / "home"),
                "IMAGEGATE_PASS_LINKS": "a4f",
                "IMAGEGATE_HISTORY": os.environ.get("BENCH_HISTORY", "off"),
                **({"PYTHONPATH": args.pythonpath} if args.pythonpath else {}),
            },
        )
        wait_healthy(f"http://127.0.0.1:{ig_port}/health", imagegate)
        if args.target == "forwarder":
            model, authorization = A4F_MODEL, "Bearer bench-token-0001"
        else:
            model, authorization = f"a4f/{A4F_MODEL}", "Bearer a4f:bench-token-0001"
        target = Target(
            args.target, f"http://127.0.0.1:{ig_port}", model, authorization, imagegate.pid
        )
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
        asyncio.run(run_load(target, args.delay, args.concurrency, 1.0))  # warm
        raw = logdir / "profile.txt"
        spy = None
        if not args.no_profile:
            spy = subprocess.Popen(
                [
                    pyspy,
                    "record",
                    "--pid",
                    str(imagegate.pid),
                    *(["--nonblocking"] if args.nonblocking else []),
                    "--rate",
                    str(args.rate),
                    "--format",
                    "raw",
                    "--output",
                    str(raw),
                    "--duration",
                    str(int(args.duration) + 1),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
        before = cpu_seconds(imagegate.pid)
        row = asyncio.run(run_load(target, args.delay, args.concurrency, args.duration))
        cpu = cpu_seconds(imagegate.pid) - before
        if spy is not None:
            spy.wait(timeout=60)
        per_request_us = cpu * 1e6 / max(1, row.requests + row.errors)
        print(
            f"{args.target} c={args.concurrency} delay={args.delay}ms: {row.rps:,.0f} req/s, "
            f"p50 {row.p50_ms:.2f} ms, cpu {per_request_us / 1000:.3f} ms/req, "
            f"errors {row.errors}; load average {os.getloadavg()[0]:.2f}"
        )
        if spy is None:
            return
        inclusive, own, packages, total = parse(raw)
        if not total:
            sys.exit("py-spy took no samples (is ptrace allowed here?)")

        def us(count: int) -> str:
            return f"{count / total * 100:5.1f}%  {count / total * per_request_us:6.0f} us/req"

        print(f"\n{total} samples; shares of the server's busy time:")
        print("\nby package (self time):")
        for name, count in packages.most_common():
            print(f"  {us(count)}  {name}")
        print(f"\ntop {args.top} inclusive:")
        for name, count in inclusive.most_common(args.top):
            print(f"  {us(count)}  {name}")
        print(f"\ntop {args.top} self:")
        for name, count in own.most_common(args.top):
            print(f"  {us(count)}  {name}")
        print(f"\nraw stacks: {raw}")
    finally:
        servers.stop()


if __name__ == "__main__":
    main()
