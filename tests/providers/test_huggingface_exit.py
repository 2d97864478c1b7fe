"""A script that used a HuggingFace model ends when it is done, whatever its Space is doing.

Each test runs a real Python process against the Spaces emulator, with the Space busy for
ten minutes, and only waits a generous bound for the process to end: a process held by a
gradio_client thread would hang there for the Space's ten minutes.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import imagegate
import imagegate_huggingface

ROOT = Path(__file__).resolve().parents[2]
HANG = 20.0
"""Seconds after its last line by which the process must be gone (it takes well under 1)."""

WAIT_FOR_THE_SPACE = """
import os, time, httpx
def space_is_drawing():
    root = os.environ["IMAGEGATE_HUGGINGFACE_BASE_URL"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        log = httpx.get(root + "/_control/requests").json()
        if any(entry["method"] == "CALL" for entry in log):
            return
        time.sleep(0.05)
    raise SystemExit("the Space never started drawing")
"""


def start(script: str, emulator) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    env.update(emulator.env, IMAGEGATE_LOAD_PLUGINS="huggingface", PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", WAIT_FOR_THE_SPACE + textwrap.dedent(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


LINE_WITHIN = 120.0
"""Seconds the script has to print its line (a generous bound: it takes a few)."""


def next_line(process: subprocess.Popen[str]) -> str:
    """The script's next line of stdout; a failure, not a hung suite, if none comes."""
    assert process.stdout is not None
    lines: queue.SimpleQueue[str] = queue.SimpleQueue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=LINE_WITHIN)
    except queue.Empty:
        process.kill()
        process.wait()
        pytest.fail(f"the script printed nothing in {LINE_WITHIN:g}s: {process.stderr.read()}")


def ended_soon_after(process: subprocess.Popen[str], line: str) -> str:
    """Read stdout up to `line`, then require the process to end within HANG seconds."""
    seen = next_line(process)
    assert seen.strip() == line, seen + (process.stderr.read() if process.stderr else "")
    try:
        process.wait(timeout=HANG)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"the script was still running {HANG:g}s after printing {line!r}")
    return process.stderr.read() if process.stderr else ""


def space_log(emulator, method: str) -> list:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [r for r in emulator.requests if r.method == method]
        if found:
            return found
        time.sleep(0.05)
    return []


def test_ctrl_c_during_generate_ends_the_script_and_cancels_the_space_job(spaces_emulator):
    spaces_emulator.control.delay = 600
    process = start(
        """
        import imagegate
        try:
            imagegate.generate("a cute cat")
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """,
        spaces_emulator,
    )
    deadline = time.monotonic() + 60
    while not [r for r in spaces_emulator.requests if r.method == "CALL"]:
        assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    ended_soon_after(process, "interrupted")
    assert process.returncode == 0
    assert space_log(spaces_emulator, "CANCELLED"), "the Space job went on drawing"


def test_a_script_ends_while_its_space_is_still_drawing(spaces_emulator):
    spaces_emulator.control.delay = 600
    process = start(
        """
        import threading, imagegate
        threading.Thread(target=imagegate.generate, args=("a cute cat",), daemon=True).start()
        space_is_drawing()
        print("done here", flush=True)
        """,
        spaces_emulator,
    )
    ended_soon_after(process, "done here")
    assert process.returncode == 0
    assert space_log(spaces_emulator, "CANCELLED"), "the exit did not cancel the Space job"


def test_a_script_ends_right_after_printing_its_result(spaces_emulator):
    process = start(
        """
        import imagegate
        result = imagegate.generate("a cute cat", size="512x512", seed=7)
        print(result.images[0].seed, flush=True)
        """,
        spaces_emulator,
    )
    stderr = ended_soon_after(process, "7")
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr


@pytest.mark.anyio
async def test_a_closed_gate_leaves_its_space_clients_closed(spaces_emulator):
    """A gate's Space client does not outlive it: the next gate connects afresh."""

    def connects() -> list[str]:  # gradio_client fetches the config once per Client it builds
        return [r.path for r in spaces_emulator.requests if r.path.endswith("/config")]

    built = []
    for seed in (1, 2):
        async with imagegate.Gate(
            plugins=[imagegate_huggingface], base_urls={"huggingface": spaces_emulator.base_url}
        ) as gate:
            await gate.agenerate("a cat", model="flux-1-schnell", size="256x256", seed=seed)
            built.append(len(connects()))
    log = [f"{r.method} {r.path}" for r in spaces_emulator.requests]
    assert built[0] >= 1 and built[1] > built[0], log  # the second gate built its own
