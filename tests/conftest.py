"""Shared fixtures. Emulator fixtures live in tests/emulators/fixtures.py."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.emulators.fixtures", "tests.realservers"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
):
    """No test sees the developer's keys, tokens, base URLs or state: each has its own
    IMAGEGATE_HOME (keys file, state.db), so no token is spent by another test."""
    import os

    for name in list(os.environ):
        if name.startswith("IMAGEGATE_") or name in {"HF_TOKEN"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("IMAGEGATE_HOME", str(tmp_path_factory.mktemp("imagegate-home")))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    yield
