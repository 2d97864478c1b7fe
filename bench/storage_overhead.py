"""What storing images and recording history add to a server answer.

    uv run python bench/storage_overhead.py [--rounds 400] [--kib 300]

The server runs on uvicorn in a thread, a plugin answers at once with a new image of
`--kib` KiB each call (so every answer hashes and writes a new file), and one client sends
requests one at a time over loopback. Four servers, the same in everything but storage:

    memory        images in process memory, no history (the server before issue 15)
    local         images in <data dir>/images (the default), no history
    local+history the default server: local images and a SQLite history record
    ... and the same for `b64_json` answers (bytes in the body, stored all the same)

Target (issue 15): `local+history` adds at most 2 ms to a `url` answer at the median,
and nothing to `b64_json` answers beyond the write.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

import imagegate
from imagegate.media.local import LocalMedia
from imagegate.media.memory import MemoryMedia
from imagegate.server import create_app
from imagegate.state.sqlite import SQLiteState
from tests.emulators.server import ServerThread
from tests.fakes import FakePlugin

_counter = itertools.count()


def big_png(kib: int) -> bytes:
    """A valid PNG whose IDAT is `kib` KiB of incompressible bytes, unique per call."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    body = next(_counter).to_bytes(8, "big") + os.urandom(kib * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


class Instant(FakePlugin):
    def __init__(self, kib: int) -> None:
        super().__init__()
        self.kib = kib

    @imagegate.hookimpl
    async def generate(self, request, model, token, context):
        return [imagegate.GeneratedImage(data=big_png(self.kib)) for _ in range(request.n)]


KINDS = ("memory", "local", "local+history")


def start_server(kind: str, kib: int, home: Path) -> ServerThread:
    media = MemoryMedia(max_items=64) if kind == "memory" else LocalMedia(home / "images")
    gate = imagegate.Gate(
        plugins=[Instant(kib)],
        use_stored_tokens=False,
        state=SQLiteState(home / "state.db"),
        media=media,
    )
    return ServerThread(create_app(gate, history=kind == "local+history")).start()


def measure(response_format: str, rounds: int, kib: int, root: Path) -> dict[str, list[float]]:
    """Round-robin over the servers, one request each per round, so that a machine getting
    busier or slower (other work, disk writeback) weighs on every row alike. Also the CPU
    time of this whole process (server, writer thread, client) per request, server by
    server: less sensitive to a busy machine than the wall clock."""
    servers = {}
    for kind in KINDS:
        home = root / f"{response_format}-{kind}"
        home.mkdir()
        servers[kind] = start_server(kind, kib, home)
    body = {"model": "fake/basic", "prompt": "a cat", "response_format": response_format}
    clients = {kind: httpx.Client(base_url=s.url, timeout=30) for kind, s in servers.items()}
    samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
    cpu: dict[str, float] = {}
    try:
        for number in range(rounds + 50):  # the first 50: warm-up
            for kind, client in clients.items():
                start = time.perf_counter()
                client.post("/v1/images/generations", json=body).raise_for_status()
                if number >= 50:
                    samples[kind].append(time.perf_counter() - start)
        for kind, client in clients.items():
            time.sleep(0.5)  # let the writer thread finish what the round-robin left
            start = time.process_time()
            for _ in range(rounds):
                client.post("/v1/images/generations", json=body).raise_for_status()
            time.sleep(0.2)
            cpu[kind] = (time.process_time() - start) / rounds
    finally:
        for client in clients.values():
            client.close()
        for server in servers.values():
            server.stop()
    return {**samples, **{f"cpu:{kind}": [value] for kind, value in cpu.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--kib", type=int, default=300, help="size of each image (KiB)")
    args = parser.parse_args()
    print(
        f"# {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
    )
    print(f"# {args.rounds} requests per row, round-robin, {args.kib} KiB images, data dir on disk")
    print("| answer | storage | p50 ms | p90 ms | p50 added | CPU ms/request | CPU added |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as root:
        for response_format in ("url", "b64_json"):
            found = measure(response_format, args.rounds, args.kib, Path(root))
            base = statistics.median(found["memory"]) * 1000
            cpu_base = found["cpu:memory"][0] * 1000
            for kind in KINDS:
                samples = sorted(found[kind])
                p50 = statistics.median(samples) * 1000
                p90 = samples[int(len(samples) * 0.9)] * 1000
                cpu = found[f"cpu:{kind}"][0] * 1000
                print(
                    f"| {response_format} | {kind} | {p50:.2f} | {p90:.2f} | {p50 - base:+.2f} | "
                    f"{cpu:.2f} | {cpu - cpu_base:+.2f} |"
                )


if __name__ == "__main__":
    main()
