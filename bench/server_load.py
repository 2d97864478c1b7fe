"""Load test: the upstream alone, through `imagegate serve`, and through LiteLLM's proxy.

    uv run python bench/server_load.py                 # everything (installs LiteLLM once)
    uv run python bench/server_load.py --skip-litellm  # imagegate vs the upstream only

Starts `bench/upstream.py` (an OpenAI-style image endpoint answering at once, or after
500 ms for prompts containing `slow-500`), `imagegate serve` routed to it through the A4F
plugin (`IMAGEGATE_A4F_BASE_URL`), and LiteLLM proxy 1.80.x (in `bench/.venv-litellm`, made
here with uv) routed to it as an `openai/` deployment. Then for each target, upstream delay
(0, 500 ms) and concurrency (1, 50, 200) it runs a closed-loop asyncio+aiohttp client for
`--duration` seconds after a warm-up and prints requests/s and latency percentiles, plus
each server's idle and peak RSS. One worker per server. Results also go to --out (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp

HERE = Path(__file__).resolve().parent
LITELLM_VENV = HERE / ".venv-litellm"
LITELLM_SPEC = "litellm[proxy]==1.80.*"
A4F_MODEL = "provider-4/imagen-3.5"


@dataclass
class Target:
    name: str
    url: str
    model: str
    authorization: str
    pid: int | None = None


@dataclass
class Row:
    target: str
    delay_ms: int
    concurrency: int
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    cpu_ms: float = float("nan")
    """The server process's CPU time per answered request (user + system), in ms: what
    one request costs it, whatever else the machine is doing."""


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of a process so far (Linux /proc), in seconds."""
    if pid is None:
        return float("nan")
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120.0) -> float:
    """Seconds until `url` answers 200 (the process must stay alive meanwhile)."""
    import urllib.request

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy in {timeout:.0f}s")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """RSS of a process and its children, in MB (`VmHWM` for the peak)."""
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    except OSError:
        pass
    total = 0
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                total += int(line.split()[1])
    return total / 1024


def ensure_litellm() -> Path:
    python = LITELLM_VENV / "bin" / "python"
    litellm = LITELLM_VENV / "bin" / "litellm"
    if not litellm.exists():
        print(f"installing {LITELLM_SPEC} into {LITELLM_VENV} ...", file=sys.stderr)
        subprocess.run(["uv", "venv", "-q", "--python", "3.11", str(LITELLM_VENV)], check=True)
        subprocess.run(
            ["uv", "pip", "install", "-q", "--python", str(python), LITELLM_SPEC], check=True
        )
    return litellm


def litellm_version() -> str:
    python = LITELLM_VENV / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


class Servers:
    """The processes under test; all stopped on exit."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.processes: list[subprocess.Popen] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None):
        log = open(self.logdir / f"{name}.log", "wb")  # noqa: SIM115 - lives with the process
        process = subprocess.Popen(
            args, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    def start_upstream(self) -> tuple[str, subprocess.Popen]:
        """`bench/upstream.py` on a free port, healthy: its base URL and its process."""
        port = free_port()
        process = self.start(
            "upstream", [sys.executable, str(HERE / "upstream.py"), "--port", str(port)]
        )
        wait_healthy(f"http://127.0.0.1:{port}/health", process)
        return f"http://127.0.0.1:{port}", process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


async def run_load(target: Target, delay_ms: int, concurrency: int, duration: float) -> Row:
    prompt = f"a cute cat slow-{delay_ms}" if delay_ms else "a cute cat"
    body = json.dumps(
        {
            "model": target.model,
            "prompt": prompt,
            "n": 1,
            "size": "1024x1024",
            "response_format": "url",
        }
    ).encode()
    headers = {"Content-Type": "application/json", "Authorization": target.authorization}
    endpoint = f"{target.url}/v1/images/generations"
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker(until: float, record: bool) -> None:
            nonlocal errors
            while time.perf_counter() < until:
                started = time.perf_counter()
                try:
                    async with session.post(endpoint, data=body, headers=headers) as response:
                        await response.read()
                        ok = response.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                if record:
                    if ok:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors += 1

        warmup = max(1.0, delay_ms / 1000 * 2)
        until = time.perf_counter() + warmup
        await asyncio.gather(*(worker(until, False) for _ in range(concurrency)))
        started = time.perf_counter()
        cpu_before = cpu_seconds(target.pid)
        until = started + duration
        await asyncio.gather(*(worker(until, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(target.pid) - cpu_before
    ordered = sorted(latencies) or [float("nan")]

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return Row(
        target=target.name,
        delay_ms=delay_ms,
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        rps=len(latencies) / elapsed,
        p50_ms=statistics.median(ordered) * 1000,
        p90_ms=pct(0.90),
        p99_ms=pct(0.99),
        cpu_ms=cpu * 1000 / max(1, len(latencies) + errors),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per scenario")
    parser.add_argument("--concurrency", default="1,50,200")
    parser.add_argument("--delays", default="0,500", help="upstream delays in ms")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument(
        "--storage",
        action="store_true",
        help="imagegate as configured by default: every image fetched and stored, history on",
    )
    parser.add_argument(
        "--only",
        action="store_true",
        help="only the issue's three scenarios (0 ms c=1, 0 ms c=50, 500 ms c=200)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each scenario per target (medians kept)"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "server_load.json"))
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    delays = [int(d) for d in args.delays.split(",")]

    logdir = Path(tempfile.mkdtemp(prefix="imagegate-bench-"))
    servers = Servers(logdir)
    info: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}",
        "python": platform.python_version(),
        "duration_s": args.duration,
        "memory_mb": {},
        "startup_s": {},
    }
    try:
        upstream_url, upstream = servers.start_upstream()
        ig_port = free_port()
        targets = [
            Target("upstream", upstream_url, A4F_MODEL, "Bearer bench-token-0001", upstream.pid)
        ]

        fw_port = free_port()
        forwarder = servers.start(
            "forwarder",
            [
                sys.executable,
                str(HERE / "forwarder.py"),
                "--port",
                str(fw_port),
                "--upstream",
                upstream_url,
            ],
        )
        info["startup_s"]["forwarder"] = wait_healthy(
            f"http://127.0.0.1:{fw_port}/health", forwarder
        )
        targets.append(
            Target(
                "forwarder",
                f"http://127.0.0.1:{fw_port}",
                A4F_MODEL,
                "Bearer bench-token-0001",
                forwarder.pid,
            )
        )

        imagegate = servers.start(
            "imagegate",
            [
                sys.executable,
                "-c",
                f"from imagegate.server import serve; serve(port={ig_port})",
            ],
            env={
                "IMAGEGATE_A4F_BASE_URL": f"{upstream_url}/v1",
                "IMAGEGATE_LOAD_PLUGINS": "a4f",
                "IMAGEGATE_HOME": str(logdir / "home"),
                # like the forwarder and LiteLLM: the provider's link passed on, no history
                # (what storing images and history add: bench/storage_overhead.py)
                **(
                    {}
                    if args.storage
                    else {"IMAGEGATE_PASS_LINKS": "a4f", "IMAGEGATE_HISTORY": "off"}
                ),
            },
        )
        info["startup_s"]["imagegate"] = wait_healthy(
            f"http://127.0.0.1:{ig_port}/health", imagegate
        )
        targets.append(
            Target(
                "imagegate",
                f"http://127.0.0.1:{ig_port}",
                f"a4f/{A4F_MODEL}",
                "Bearer a4f:bench-token-0001",
                imagegate.pid,
            )
        )

        if not args.skip_litellm:
            litellm = ensure_litellm()
            info["litellm"] = litellm_version()
            ll_port = free_port()
            config = logdir / "litellm.yaml"
            config.write_text(
                "model_list:\n"
                "  - model_name: imagen-3.5\n"
                "    litellm_params:\n"
                f"      model: openai/{A4F_MODEL}\n"
                f"      api_base: {upstream_url}/v1\n"
                "      api_key: bench-token-0001\n"
                "litellm_settings:\n"
                "  telemetry: false\n"
                "  drop_params: true\n"  # else it refuses response_format for openai/ models
            )
            process = servers.start(
                "litellm",
                [
                    str(litellm),
                    "--config",
                    str(config),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ll_port),
                    "--num_workers",
                    "1",
                ],
                env={"LITELLM_LOG": "ERROR", "LITELLM_TELEMETRY": "False"},
            )
            info["startup_s"]["litellm"] = wait_healthy(
                f"http://127.0.0.1:{ll_port}/health/liveliness", process
            )
            targets.append(
                Target(
                    "litellm",
                    f"http://127.0.0.1:{ll_port}",
                    "imagen-3.5",
                    "Bearer sk-bench",
                    process.pid,
                )
            )

        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass

        for target in targets:
            # one request so lazily built state exists, then idle memory
            asyncio.run(run_load(target, 0, 1, 0.2))
        time.sleep(1)
        for target in targets:
            if target.pid:
                info["memory_mb"][target.name] = {"idle_rss": round(rss_mb(target.pid), 1)}
        info["load_average_before"] = os.getloadavg()
        rows: list[Row] = []
        rounds: list[dict[str, Row]] = []  # per scenario and round: each target's row
        # scenario by scenario, the targets one after the other (in turns across rounds), so
        # the figures compared in a scenario are taken under the same background load
        for delay in delays:
            for concurrency in concurrencies:
                if args.only and (delay, concurrency) not in TARGET_SCENARIOS:
                    continue
                for round_ in range(args.rounds):
                    turn = targets[round_ % len(targets) :] + targets[: round_ % len(targets)]
                    rounds.append({})
                    for target in turn:
                        row = asyncio.run(run_load(target, delay, concurrency, args.duration))
                        rows.append(row)
                        rounds[-1][target.name] = row
                        print(
                            f"{row.target:9} delay={row.delay_ms:3}ms c={row.concurrency:3} "
                            f"rps={row.rps:8.1f} p50={row.p50_ms:8.2f}ms "
                            f"p90={row.p90_ms:8.2f}ms p99={row.p99_ms:8.2f}ms "
                            f"cpu={row.cpu_ms:.3f}ms/req n={row.requests} errors={row.errors}",
                            flush=True,
                        )
        info["load_average_after"] = os.getloadavg()
        for target in targets:
            if target.pid:
                info["memory_mb"][target.name]["peak_rss"] = round(rss_mb(target.pid, "VmHWM"), 1)
    finally:
        servers.stop()

    rows = merged(rows)
    print()
    print_table(rows, info)
    print()
    print_targets(rows)
    print()
    paired = print_paired(rounds)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps({"info": info, "rows": [asdict(r) for r in rows], "paired": paired}, indent=2)
    )
    print(f"\nresults: {out}; server logs: {logdir}")


TARGET_SCENARIOS = {(0, 1), (0, 50), (500, 200)}


def merged(rows: list[Row]) -> list[Row]:
    """One row per target and scenario: the median round by requests/s."""
    groups: dict[tuple[str, int, int], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.target, row.delay_ms, row.concurrency), []).append(row)
    kept = []
    for group in groups.values():
        ordered = sorted(group, key=lambda r: r.rps)
        kept.append(ordered[(len(ordered) - 1) // 2])
    return sorted(kept, key=lambda r: (ORDER.get(r.target, 9), r.delay_ms, r.concurrency))


ORDER = {"upstream": 0, "forwarder": 1, "imagegate": 2, "litellm": 3}


def print_targets(rows: list[Row]) -> None:
    """The issue's three targets, from this run's figures."""
    found = {(r.target, r.delay_ms, r.concurrency): r for r in rows}

    def get(target: str, delay: int, concurrency: int) -> Row | None:
        return found.get((target, delay, concurrency))

    ig50, fw50, ll50 = get("imagegate", 0, 50), get("forwarder", 0, 50), get("litellm", 0, 50)
    if ig50 and fw50:
        line = f"c=50, instant upstream: imagegate {ig50.rps:,.0f} req/s"
        line += f" = {ig50.rps / fw50.rps:.2f}x the forwarder ({fw50.rps:,.0f}; target >= 0.9x)"
        if ll50:
            line += f", {ig50.rps / ll50.rps:.1f}x LiteLLM ({ll50.rps:,.0f}; target >= 10x)"
        print(line)
    ig200, up200 = get("imagegate", 500, 200), get("upstream", 500, 200)
    if ig200 and up200:
        print(
            f"c=200, 500 ms upstream: imagegate {ig200.rps:,.0f} req/s = "
            f"{ig200.rps / up200.rps:.3f}x the upstream's {up200.rps:,.0f} (target >= 0.95x); "
            f"median {ig200.p50_ms:.1f} ms (target < 530 ms)"
        )
    ig1, up1, fw1 = get("imagegate", 0, 1), get("upstream", 0, 1), get("forwarder", 0, 1)
    if ig1 and up1:
        line = (
            f"c=1, instant upstream: added median latency {ig1.p50_ms - up1.p50_ms:.2f} ms "
            f"({ig1.p50_ms:.2f} - {up1.p50_ms:.2f}; target <= 0.5 ms)"
        )
        if fw1:
            line += f"; the forwarder adds {fw1.p50_ms - up1.p50_ms:.2f} ms"
        print(line)


def print_paired(rounds: list[dict[str, Row]]) -> dict[str, float]:
    """The targets again, as medians of ratios taken within each round.

    This machine's speed swings by a third from one minute to the next (it is shared), so
    a ratio of two medians taken minutes apart can say 0.5x or 0.9x for the same code.
    Within a round the targets run seconds apart; the median over rounds of each round's
    own ratio is the steadier figure (bench/README.md)."""

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    def ratios(scenario: tuple[int, int], top: str, bottom: str, field: str) -> list[float]:
        found = []
        for round_ in rounds:
            a, b = round_.get(top), round_.get(bottom)
            if a and b and (a.delay_ms, a.concurrency) == scenario:
                found.append(getattr(a, field) / getattr(b, field))
        return found

    def added(scenario: tuple[int, int], target: str) -> list[float]:
        return [
            r[target].p50_ms - r["upstream"].p50_ms
            for r in rounds
            if target in r
            and "upstream" in r
            and (r[target].delay_ms, r[target].concurrency) == scenario
        ]

    paired = {
        "c50_vs_forwarder": median(ratios((0, 50), "imagegate", "forwarder", "rps")),
        "c50_vs_litellm": median(ratios((0, 50), "imagegate", "litellm", "rps")),
        "c50_cpu_vs_forwarder": median(ratios((0, 50), "imagegate", "forwarder", "cpu_ms")),
        "c200_vs_upstream": median(ratios((500, 200), "imagegate", "upstream", "rps")),
        "c200_forwarder_vs_upstream": median(ratios((500, 200), "forwarder", "upstream", "rps")),
        "c1_added_ms": median(added((0, 1), "imagegate")),
        "c1_forwarder_added_ms": median(added((0, 1), "forwarder")),
    }
    count = len([r for r in rounds if "imagegate" in r and r["imagegate"].concurrency == 50])
    print(f"paired within rounds (medians over {count} rounds of each round's own ratio):")
    print(
        f"  c=50: imagegate/forwarder {paired['c50_vs_forwarder']:.2f}x requests/s "
        f"(CPU per request {paired['c50_cpu_vs_forwarder']:.2f}x), "
        f"imagegate/LiteLLM {paired['c50_vs_litellm']:.1f}x"
    )
    print(
        f"  c=200, 500 ms: imagegate/upstream {paired['c200_vs_upstream']:.3f}x "
        f"(the forwarder {paired['c200_forwarder_vs_upstream']:.3f}x)"
    )
    print(
        f"  c=1: imagegate adds {paired['c1_added_ms']:.2f} ms at the median "
        f"(the forwarder {paired['c1_forwarder_added_ms']:.2f} ms)"
    )
    return paired


def print_table(rows: list[Row], info: dict) -> None:
    print(
        "| target | upstream delay | concurrency | requests/s | p50 ms | p90 ms | p99 ms "
        "| server CPU ms/request | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r.target} | {r.delay_ms} ms | {r.concurrency} | {r.rps:,.0f} | "
            f"{r.p50_ms:.2f} | {r.p90_ms:.2f} | {r.p99_ms:.2f} | {r.cpu_ms:.3f} | {r.errors} |"
        )
    print()
    print("memory (MB):", json.dumps(info["memory_mb"]), " startup (s):", info["startup_s"])
    before = ", ".join(f"{x:.2f}" for x in info["load_average_before"])
    after = ", ".join(f"{x:.2f}" for x in info["load_average_after"])
    print(f"load average: before {before}; after {after} ({os.cpu_count()} cpus)")


if __name__ == "__main__":
    main()
