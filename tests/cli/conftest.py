"""CLI test helpers: a fresh plugin manager with the in-process fake provider, and `invoke`,
which runs the real entry point (`imagegate.cli.run`) inside click's CliRunner isolation."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

import imagegate.plugins
from imagegate.cli import console, run
from tests import fakes

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


@pytest.fixture(autouse=True)
def fake_plugins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Only `tests.fakes:plugin` is installed; cwd is a temp dir; no remembered secrets."""
    monkeypatch.setenv("IMAGEGATE_LOAD_PLUGINS", "")
    monkeypatch.setenv("IMAGEGATE_PLUGINS", "tests.fakes:plugin")
    monkeypatch.setattr(imagegate.plugins, "_manager", None)
    monkeypatch.setattr(fakes.plugin, "calls", [])
    monkeypatch.setattr(fakes.plugin, "failures", [])
    monkeypatch.setattr(console, "_secrets", set())
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return fakes.plugin


@pytest.fixture
def invoke():
    def _invoke(*args: str, input: str | None = None) -> Outcome:
        runner = CliRunner()
        with runner.isolation(input=input) as (stdout, stderr, _):
            code = run(list(args))
        return Outcome(code, stdout.getvalue().decode(), stderr.getvalue().decode())

    return _invoke


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a real `imagegate` process that sees only the test plugins."""
    env = {
        **os.environ,
        "IMAGEGATE_LOAD_PLUGINS": "",
        "IMAGEGATE_PLUGINS": "tests.fakes:plugin,tests.cli.scripted",
        "PYTHONPATH": str(REPO),
    }
    env.pop("IMAGEGATE_DEBUG", None)
    env.update(extra)
    return env


def imagegate_command() -> list[str]:
    """The installed console script when there is one, else `python -m imagegate.cli`."""
    script = Path(sys.executable).parent / "imagegate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "imagegate.cli"]


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None, input: str | None = None):
    return subprocess.run(
        [*imagegate_command(), *args],
        cwd=cwd,
        env=env or cli_env(),
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
