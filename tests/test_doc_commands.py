"""Every shell command in README.md and docs/*.md runs as written, against the emulators.

Each fenced `bash` block is one test: its commands run one after the other in a fresh
directory and keys file, with the emulators' base URLs exported as the README's Offline
section says (OpenAI's too, for a channel added with `--preset openai`; a block that starts
the emulators itself uses the lines they print), `uv run` meaning this checkout's
environment, a hidden prompt answered with an emulator token, and `$GITEE_KEY` set to one.
A server (`imagegate serve`, `python -m tests.emulators`) is started, checked and stopped;
its port is a free one instead of 8000.

A synopsis (`imagegate keys status [PROVIDER] [--json]`: an argument in brackets or in
capitals) is not run: its command's `--help` must work and name every option it shows.
Any other command that cannot run here is listed in NOT_RUN with the reason; a new one that
fails says how to add it. A mark whose command has gone from the docs fails too.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.emulators.control import VALID_TOKEN

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"bash", "sh", "shell", "console"}

NETWORK = "installs from PyPI: needs the network"
INSTALLS = (
    "installs into the running environment: tests/test_install_from_checkout.py runs it "
    "as written in a fresh virtual environment"
)
REPLICAS = (
    "needs a Redis at 127.0.0.1:6379 and /srv/imagegate: tests/server/test_replicas.py runs "
    "replicas on one Redis with these settings"
)
ITSELF = "the test suite itself: this test runs inside it"
AUTHORING = (
    "the plugin walk-through: tests/authoring/test_fresh_environment.py runs it in a fresh "
    "venv, with the files the page writes and an offline pip"
)

NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "uv run pytest"): ITSELF,
    ("README.md", 'pip install "./core[server]" ./plugins/*'): INSTALLS,
    ("README.md", "pip install ./core ./plugins/gitee"): INSTALLS,
    ("README.md", 'pip install "./core[server,redis,s3]"'): INSTALLS,
    ("docs/server.md", "pip install './core[server]' ./plugins/gitee"): INSTALLS,
    ("docs/deploy.md", "pip install './core[server,redis,s3]' ./plugins/*"): INSTALLS,
    ("docs/deploy.md", "apt-get install redis-server"): "installs a system package (root)",
    (
        "docs/deploy.md",
        "imagegate serve --host 127.0.0.1 --port 8001 --rate-limit 60/minute --rate-limit 2000/day",
    ): REPLICAS,
    (
        "docs/providers.md",
        "imagegate channels add relay --base-url https://relay.example/v1",
    ): "asks a real relay's GET /models: tests/cli/test_channels.py discovers the OpenAI "
    "emulator's models so",
    (
        "docs/providers.md",
        'imagegate generate "a cute cat" -m local/z-image-turbo --seed 7',
    ): "needs an OpenAI-compatible image server on 127.0.0.1:8000: tests/cli/test_channels.py "
    "runs a channel declared so against the OpenAI emulator",
    ("docs/plugins.md", "pip install -e ./imagegate-pollen"): AUTHORING,
    ("docs/plugins.md", "imagegate plugins"): AUTHORING,
    ("docs/plugins.md", "imagegate models --provider pollen"): AUTHORING,
    (
        "docs/plugins.md",
        'IMAGEGATE_POLLEN_BASE_URL=http://127.0.0.1:8765 imagegate generate "a lighthouse" '
        "-m pollen/turbo",
    ): AUTHORING,
    ("docs/plugins.md", "imagegate plugins new acme"): AUTHORING,
    ("docs/plugins.md", "pip install -e './imagegate-acme[test]'"): AUTHORING,
    ("docs/plugins.md", "cd imagegate-acme && pytest"): AUTHORING,
}
"""(page, command as written, comment removed) -> why it is not run here. Real providers
(`needs a real Gitee AI token`) belong here too, with that reason."""

HOW_TO_MARK = (
    "If it cannot run against the emulators, add ({page!r}, {command!r}) to NOT_RUN in "
    "tests/test_doc_commands.py with the reason (NETWORK, or e.g. 'needs a real Gitee AI "
    "token'); a synopsis is recognised by its [OPTIONAL] or CAPITALISED arguments."
)

_EXPORT = re.compile(r"^export ([A-Z_][A-Z0-9_]*)=(.*)$")


@dataclass(frozen=True)
class Command:
    text: str
    line: int


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    commands: tuple[Command, ...]


def shell_blocks() -> list[Block]:
    blocks = []
    for path in PAGES:
        page = str(path.relative_to(ROOT))
        lines = path.read_text().splitlines()
        fence, start, body = None, 0, []
        for number, line in enumerate(lines, 1):
            if fence is None:
                match = re.match(r"^(```+)\s*([\w-]*)", line)
                if match:
                    fence, start, body = match[1], number, []
                    language = match[2].lower()
            elif line.startswith(fence):
                if language in SHELL:
                    blocks.append(Block(page, start, tuple(commands_of(body, start))))
                fence = None
            else:
                body.append(line)
    return blocks


def commands_of(body: list[str], start: int) -> list[Command]:
    """Logical commands: continuation lines joined, comments and blank lines gone."""
    commands, pending, first = [], "", 0
    for offset, raw in enumerate(body, start + 1):
        if not pending:
            first = offset
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1].rstrip() + " "
            continue
        text = without_comment(pending + raw).strip()
        pending = ""
        if text:
            commands.append(Command(text, first))
    return commands


def without_comment(line: str) -> str:
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index]
    return line


BLOCKS = shell_blocks()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server stopped at once:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"the server never answered /health:\n{log.read_text()[-2000:]}")


class Session:
    """One reader's terminal: the environment so far, and what runs in the background."""

    def __init__(self, block: Block, work: Path, emulators: dict[str, str]) -> None:
        self.block = block
        self.work = work
        bin_dir = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
        self.env.pop("HF_TOKEN", None)
        self.env.update(
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
            IMAGEGATE_HOME=str(work / "home"),
            GITEE_KEY=VALID_TOKEN,
        )
        if not any(is_emulators(c.text) for c in block.commands):
            self.env.update(emulators)  # as the Offline section has the reader export them
        self.printed: dict[str, str] = {}
        self.replaced: dict[str, str] = {}
        self.background: list[subprocess.Popen] = []

    def run(self, command: Command) -> None:
        text = command.text
        for old, new in self.replaced.items():
            text = text.replace(old, new)
        if (words := synopsis(text)) is not None:
            return self.check_synopsis(command, words)
        if is_emulators(text):
            return self.start_emulators(text)
        if export := _EXPORT.match(text):
            name, value = export[1], export[2].strip("'\"")
            if name not in self.printed:  # the lines the emulators printed are the ones pasted
                self.env[name] = value
            return None
        if is_serve(text):
            return self.start_server(text)
        done = subprocess.run(
            ["bash", "-c", f"{UV_RUN}\n{text}"],
            cwd=self.work,
            env=self.env,
            input=f"{VALID_TOKEN}\n",
            capture_output=True,
            text=True,
            timeout=180,
        )
        if done.returncode != 0:
            self.fail(command, f"exit {done.returncode}", done.stdout + done.stderr)
        return None

    def check_synopsis(self, command: Command, words: list[str]) -> None:
        """The command exists (`--help` works) and takes every option the synopsis shows."""
        head = []
        for word in words:
            if word.startswith(("-", "[")) or _PLACEHOLDER.match(word):
                break
            head.append(word)
        done = subprocess.run(
            ["bash", "-c", f"{UV_RUN}\n{shlex.join(head)} --help"],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            self.fail(command, f"`{' '.join(head)} --help` exit {done.returncode}", done.stderr)
        for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", command.text):
            if option not in done.stdout:
                self.fail(command, f"`{' '.join(head)}` has no {option}", done.stdout)

    def start_emulators(self, text: str) -> None:
        log = self.work / "emulators.log"
        process = self.spawn(text, log, stdout=subprocess.PIPE)
        assert process.stdout is not None
        for line in process.stdout:
            if export := _EXPORT.match(line.strip()):
                self.printed[export[1]] = export[2]
                self.env[export[1]] = export[2]
            if line.startswith("# emulators running"):
                return
        pytest.fail(f"python -m tests.emulators printed no ready line:\n{log.read_text()}")

    def start_server(self, text: str) -> None:
        port = free_port()
        if "--port 8000" in text:
            text = text.replace("--port 8000", f"--port {port}")
        else:
            text += f" --port {port}"
        self.replaced["127.0.0.1:8000"] = f"127.0.0.1:{port}"
        log = self.work / "serve.log"
        process = self.spawn(text, log)
        wait_healthy(f"http://127.0.0.1:{port}", process, log)

    def spawn(self, text: str, log: Path, stdout=None) -> subprocess.Popen:
        command = text.removeprefix("uv run ")
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=self.work,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=stdout or log.open("w"),
            stderr=log.open("w") if stdout else subprocess.STDOUT,
            text=True,
        )
        self.background.append(process)
        return process

    def stop(self) -> None:
        for process in self.background:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in self.background:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def fail(self, command: Command, what: str, output: str) -> None:
        page = self.block.page
        pytest.fail(
            f"{page}:{command.line}: `{command.text}` failed against the emulators ({what}):\n"
            f"{output[-3000:]}\n" + HOW_TO_MARK.format(page=page, command=command.text)
        )


UV_RUN = 'uv() { if [ "$1" = run ]; then shift; "$@"; else command uv "$@"; fi; }'
"""`uv run X` means X from this checkout's environment (already synced: no re-sync)."""


_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]+(?:\.\.\.)?$")


def synopsis(text: str) -> list[str] | None:
    """The words of a synopsis line (`imagegate models show ID [--json]`), else None."""
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    if any(w.startswith("[") or _PLACEHOLDER.match(w) for w in words[1:]):
        return words
    return None


def is_emulators(text: str) -> bool:
    return "-m tests.emulators" in text


def is_serve(text: str) -> bool:
    return re.search(r"\bimagegate serve\b", text) is not None and "|" not in text


@pytest.fixture
def emulator_env(
    a4f_emulator, gitee_emulator, modelscope_emulator, spaces_emulator, openai_emulator
):
    env: dict[str, str] = {}
    emulators = (a4f_emulator, gitee_emulator, modelscope_emulator, spaces_emulator)
    for emulator in (*emulators, openai_emulator):
        env.update(emulator.env)
    return env


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.page}:{b.line}" for b in BLOCKS])
def test_the_commands_run_as_written(block, emulator_env, tmp_path):
    session = Session(block, tmp_path, emulator_env)
    try:
        for command in block.commands:
            if (block.page, command.text) not in NOT_RUN:
                session.run(command)
    finally:
        session.stop()


def test_every_mark_names_a_command_still_in_the_docs():
    written = {(block.page, command.text) for block in BLOCKS for command in block.commands}
    stale = [mark for mark in NOT_RUN if mark not in written]
    assert not stale, f"no such command in the docs any more; remove it from NOT_RUN: {stale}"


def test_the_docs_have_shell_blocks_to_run():
    pages = {block.page for block in BLOCKS}
    assert {"README.md", "docs/cli.md", "docs/server.md"} <= pages
    runnable = [c for b in BLOCKS for c in b.commands if (b.page, c.text) not in NOT_RUN]
    assert len(runnable) >= 20
