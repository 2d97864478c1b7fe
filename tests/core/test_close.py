"""Closing a gate closes its plugins' resources (the `close` hook), and never hangs on a call."""

from __future__ import annotations

import threading
import time

import pytest

import imagegate
from imagegate import errors
from tests.fakes import FakePlugin


class Holding(FakePlugin):
    """A plugin that keeps something open between calls and counts how often it is closed."""

    def __init__(self, fail: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.closed = 0
        self.fail = fail

    @imagegate.hookimpl
    def close(self):
        self.closed += 1
        if self.fail:
            raise OSError("socket already gone")


def test_a_closing_gate_calls_every_plugins_close_hook():
    plugin = Holding()
    with imagegate.Gate(plugins=[plugin]) as gate:
        gate.generate("a cat", model="fake/basic")
        assert plugin.closed == 0
    assert plugin.closed == 1


@pytest.mark.anyio
async def test_an_async_gate_closes_its_plugins_too():
    plugin = Holding()
    async with imagegate.Gate(plugins=[plugin]) as gate:
        await gate.agenerate("a cat", model="fake/basic")
    assert plugin.closed == 1


def test_a_gate_that_never_generated_still_closes_its_plugins():
    plugin = Holding()
    imagegate.Gate(plugins=[plugin]).close()
    assert plugin.closed == 1


def test_a_plugin_failing_to_close_is_a_warning_and_the_others_still_close():
    broken, fine = Holding(fail=True), Holding()
    gate = imagegate.Gate(plugins=[broken, fine])
    with pytest.warns(RuntimeWarning, match="failed to close: OSError: socket already gone"):
        gate.close()
    assert (broken.closed, fine.closed) == (1, 1)


def test_close_cancels_a_call_still_running_instead_of_waiting_for_it():
    plugin = FakePlugin(delay=600)
    gate = imagegate.Gate(plugins=[plugin])
    raised: list[BaseException] = []

    def caller() -> None:
        try:
            gate.generate("a cat", model="fake/basic")
        except BaseException as exc:
            raised.append(exc)

    worker = threading.Thread(target=caller, daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    while not plugin.calls:
        assert time.monotonic() < deadline, "the call never reached the plugin"
        time.sleep(0.01)
    gate.close()  # returns although the provider would take ten minutes
    worker.join(timeout=10)
    assert len(raised) == 1 and isinstance(raised[0], errors.Cancelled)
    assert "closed" in raised[0].message


def test_the_plugin_check_knows_the_close_hook():
    from imagegate.testing.declarations import check_hooks

    class Good(FakePlugin):
        @imagegate.hookimpl
        def close(self):
            pass

    class Async(FakePlugin):
        @imagegate.hookimpl
        async def close(self):
            pass

    assert check_hooks(Good()) == []
    (problem,) = check_hooks(Async())
    assert "close is `async def`" in problem


def test_a_script_using_imagegate_generate_exits_without_unclosed_session_notices(
    fake_upstream, tmp_path
):
    """The module-level `imagegate.generate` keeps a gate until exit; at exit its HTTP
    client is closed on its own loop, so aiohttp has nothing to complain about."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from imagegate.testing import Answer

    fake_upstream.always(Answer.openai_images())
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    env.update(
        IMAGEGATE_A4F_BASE_URL=f"{fake_upstream.url}/v1",
        IMAGEGATE_LOAD_PLUGINS="a4f",
        IMAGEGATE_HOME=str(tmp_path),
        IMAGEGATE_A4F_TOKEN="a4f-key-0001",
        PYTHONPATH=str(Path(__file__).resolve().parents[2]),
    )
    script = (
        "import imagegate\n"
        "result = imagegate.generate('a cat', model='a4f/provider-4/imagen-3.5',"
        " response_format='url')\n"
        "print('made', len(result.images), flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "made 1"
    assert "Unclosed" not in done.stderr, done.stderr
    assert done.stderr.strip() == ""
