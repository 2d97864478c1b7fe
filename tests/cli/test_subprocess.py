"""The real `imagegate` command in its own process: files, output, exit codes, Ctrl-C, TTY."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.conftest import REPO, cli_env, imagegate_command, run_cli
from tests.fakes import png_bytes

TOKEN = "sk-subprocess-0123456789"


@pytest.fixture
def workdir() -> Path:
    """The empty current directory the autouse fixture made."""
    return Path.cwd()


def test_generate_saves_files_and_prints_only_their_paths(workdir):
    done = run_cli("generate", "a cute cat", "-m", "fake/basic", "--seed", "42", cwd=workdir)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert re.fullmatch(r"\d{8}-\d{6}-a-cute-cat-42\.png", line)
    assert (workdir / line).read_bytes() == png_bytes(8, 8, 42)
    assert done.stderr == ""  # no progress line when stderr is piped


def test_generate_never_overwrites(workdir):
    (workdir / "cat.png").write_bytes(b"keep me")
    done = run_cli("generate", "a cat", "-m", "fake/basic", "-o", "cat.png", cwd=workdir)
    assert done.stdout.splitlines() == ["cat-1.png"]
    assert (workdir / "cat.png").read_bytes() == b"keep me"


def test_generate_json_from_stdin(workdir):
    done = run_cli(
        "generate", "-", "-m", "scripted/model", "-n", "2", "--seed", "5", "--json",
        cwd=workdir, input="a red fox\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["prompt"] == "a red fox" and document["provider"] == "scripted"
    assert [Path(i["path"]).read_bytes() for i in document["images"]] == [
        png_bytes(8, 8, 5),
        png_bytes(8, 8, 6),
    ]


@pytest.mark.parametrize(
    ("failure", "code"),
    [("auth", 3), ("quota", 4), ("provider", 5), ("failed", 5), ("timeout", 6), ("crash", 5)],
)
def test_exit_codes_and_the_token_is_never_printed(workdir, failure, code):
    env = cli_env(IMAGEGATE_SCRIPTED_FAILURE=failure)
    done = run_cli(
        "generate", "a cat", "-m", "scripted/model", "--token", TOKEN, cwd=workdir, env=env
    )
    assert done.returncode == code
    assert TOKEN not in done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ")
    assert list(workdir.iterdir()) == []


def test_usage_error_exit_code(workdir):
    done = run_cli("generate", "a cat", "-m", "fake/unknown", cwd=workdir)
    assert done.returncode == 2 and done.stderr.startswith("error: unknown model")


def test_ctrl_c_cancels_the_provider_job_and_exits_130(workdir):
    markers = workdir.parent / "markers"
    markers.mkdir()
    work = workdir
    env = cli_env(IMAGEGATE_SCRIPTED_DELAY="60", IMAGEGATE_SCRIPTED_MARKERS=str(markers))
    process = subprocess.Popen(
        [*imagegate_command(), "generate", "a cat", "-m", "scripted/model"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        give_up = time.monotonic() + 60
        while not (markers / "started").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < give_up, "the provider call never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert stdout == ""
    assert stderr.splitlines() == ["error: interrupted; the generation was cancelled"]
    assert (markers / "cancelled").exists()
    assert list(work.iterdir()) == []


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_progress_on_a_terminal_goes_to_stderr_only(workdir):
    import pty

    leader, follower = pty.openpty()
    env = cli_env(IMAGEGATE_SCRIPTED_DELAY="0.3", COLUMNS="200")
    process = subprocess.Popen(
        [*imagegate_command(), "generate", "a cat", "-m", "scripted/model", "--seed", "1"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
    )
    os.close(follower)
    stdout, _ = process.communicate(timeout=120)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    text = seen.decode()
    assert process.returncode == 0
    assert re.fullmatch(r"\d{8}-\d{6}-a-cat-1\.png\n", stdout)
    assert "\r" in text and "scripted scripted/model" in text
    assert "queue 2/5" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared before the results


STARTUP_COMMANDS = [["--help"], ["models"], ["generate", "--help"]]
CHECK = """
import sys
from imagegate.cli import run
code = run(sys.argv[1:])
print(sorted(m for m in {modules!r} if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def _imported(args: list[str], modules: set[str], env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", CHECK.format(modules=modules), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1].replace("'", '"'))


@pytest.mark.parametrize("args", STARTUP_COMMANDS)
def test_fast_commands_import_neither_gradio_client_nor_the_server(args):
    """With every installed plugin, as a user runs them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_LOAD")}
    heavy = {"gradio_client", "gradio", "fastapi", "uvicorn", "starlette"}
    assert _imported(args, heavy, env) == []


@pytest.mark.parametrize("args", STARTUP_COMMANDS)
def test_fast_commands_import_no_http_stack(args):
    """The CLI itself (no plugins) leaves the HTTP client to the first generation."""
    assert _imported(args, {"httpx", "aiohttp", "anyio", "httpx_aiohttp"}, cli_env()) == []


def test_timeout_option_gives_up_and_exits_6(workdir):
    env = cli_env(IMAGEGATE_SCRIPTED_DELAY="60")
    done = run_cli(
        "generate", "a cat", "-m", "scripted/model", "--timeout", "0.5", cwd=workdir, env=env
    )
    assert done.returncode == 6
    assert done.stderr.startswith("error: ") and "0.5s" in done.stderr
    assert list(workdir.iterdir()) == []
