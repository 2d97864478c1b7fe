"""The public surfaces a provider test drives besides the library: the CLI (its real entry
point inside click's CliRunner, with only the named plugin installed) and the HTTP server
(the real app over httpx's ASGI transport)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

import imagegate
import imagegate.plugins


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Outcome]:
    """`cli(plugin, *args, env={...})`: `imagegate <args>` with only `plugin` installed."""
    from imagegate.cli import console, run

    monkeypatch.chdir(tmp_path)

    def invoke(plugin: str, *args: str, env: dict[str, str] | None = None) -> Outcome:
        monkeypatch.setattr(imagegate.plugins, "_manager", None)
        monkeypatch.setattr(console, "_secrets", set())
        environment = {"IMAGEGATE_LOAD_PLUGINS": plugin, "IMAGEGATE_PLUGINS": "", **(env or {})}
        runner = CliRunner()
        with runner.isolation(env=environment) as (stdout, stderr, _):
            code = run(list(args))
        return Outcome(code, stdout.getvalue().decode(), stderr.getvalue().decode())

    return invoke


@pytest.fixture
def served() -> Callable[[imagegate.Gate], AsyncIterator[httpx.AsyncClient]]:
    """`async with served(gate) as client`: imagegate's HTTP server for `gate`, in-process."""
    from contextlib import asynccontextmanager

    from imagegate.server import create_app

    @asynccontextmanager
    async def serve(gate: imagegate.Gate) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=create_app(gate))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://imagegate.test", timeout=120
        ) as client:
            yield client

    return serve
