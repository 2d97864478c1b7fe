"""pytest fixtures: each emulator starts once per session on a free loopback port, and is
reset (log, faults, settings) before every test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Emulator, start_emulator


def _session(name: str):
    @pytest.fixture(scope="session", name=f"_{name}_emulator_server")
    def running() -> Iterator[Emulator]:
        emulator = start_emulator(name)
        yield emulator
        emulator.stop()

    @pytest.fixture(name=f"{name}_emulator")
    def fresh(request: pytest.FixtureRequest) -> Emulator:
        emulator: Emulator = request.getfixturevalue(f"_{name}_emulator_server")
        emulator.reset()
        return emulator

    return running, fresh


_a4f_server, a4f_emulator = _session("a4f")
_gitee_server, gitee_emulator = _session("gitee")
_modelscope_server, modelscope_emulator = _session("modelscope")
_spaces_server, spaces_emulator = _session("spaces")
_real_spaces_server, real_spaces_emulator = _session("real_spaces")
_openai_server, openai_emulator = _session("openai")
