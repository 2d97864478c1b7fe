"""Plugin discovery: entry points loaded once, survivable failures, the allow-list."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import imagegate

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    environment.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )


LIST = "import imagegate; print(sorted(m.full_id for m in imagegate.list_models()))"


def test_empty_allow_list_loads_no_entry_point():
    assert run_python(LIST, IMAGEGATE_LOAD_PLUGINS="").stdout.strip() == "[]"


def test_a_plugin_that_fails_to_import_is_a_one_line_warning_and_the_rest_work():
    result = run_python(
        LIST,
        IMAGEGATE_LOAD_PLUGINS="",
        IMAGEGATE_PLUGINS="tests.no_such_plugin,tests.fakes:plugin",
    )
    assert result.stdout.strip() == "['fake/basic', 'fake/plain']"
    warning = result.stderr.strip()
    assert len(warning.splitlines()) == 1
    assert "plugin 'tests.no_such_plugin' failed to load" in warning


def test_trace_prints_every_hook_call():
    result = run_python(
        "import imagegate; imagegate.generate('a cat', model='fake/basic')",
        IMAGEGATE_LOAD_PLUGINS="",
        IMAGEGATE_PLUGINS="tests.fakes:plugin",
        IMAGEGATE_TRACE_PLUGINS="1",
    )
    assert "validate" in result.stderr and "generate" in result.stderr


def test_embedders_can_register_a_plugin_object_in_code(monkeypatch):
    from imagegate import plugins
    from tests.fakes import FakePlugin

    monkeypatch.setenv("IMAGEGATE_LOAD_PLUGINS", "")
    monkeypatch.setattr(plugins, "_manager", None)
    monkeypatch.setattr(imagegate, "_default", None)
    plugins.register(FakePlugin(), name="in-code")
    assert "fake/basic" in [m.full_id for m in imagegate.list_models()]
    result = imagegate.generate("a cat", model="fake/basic", seed=1)
    assert result.images[0].seed == 1
    assert imagegate.get_model("FAKE/B").full_id == "fake/basic"


def test_module_level_async_api(monkeypatch):
    import asyncio

    from imagegate import plugins
    from tests.fakes import FakePlugin

    monkeypatch.setenv("IMAGEGATE_LOAD_PLUGINS", "")
    monkeypatch.setattr(plugins, "_manager", None)
    plugins.register(FakePlugin())
    result = asyncio.run(imagegate.agenerate("a cat", model="fake/basic", n=2, seed=5))
    assert [image.seed for image in result.images] == [5, 6]


def test_sync_generate_refuses_to_block_a_running_event_loop():
    import asyncio

    from tests.fakes import FakePlugin

    async def inside():
        with imagegate.Gate(plugins=[FakePlugin()]) as gate:
            gate.generate("a cat", model="fake/basic")

    with pytest.raises(RuntimeError, match="agenerate"):
        asyncio.run(inside())


def test_a_plugin_both_installed_and_named_in_imagegate_plugins_loads_once():
    """`IMAGEGATE_PLUGINS=imagegate_gitee` while imagegate-gitee is installed: no pluggy
    "already registered" crash, and its models are listed once."""
    code = (
        "import imagegate; ids = [m.full_id for m in imagegate.list_models()]; "
        "print(len(ids), len(set(ids)), sum(i.startswith('gitee/') for i in ids))"
    )
    result = run_python(code, IMAGEGATE_LOAD_PLUGINS="gitee", IMAGEGATE_PLUGINS="imagegate_gitee")
    assert result.stderr == ""
    assert result.stdout.split() == ["7", "7", "7"]


def test_registering_a_registered_plugin_again_changes_nothing(monkeypatch):
    from imagegate import plugins
    from tests.fakes import FakePlugin

    monkeypatch.setenv("IMAGEGATE_LOAD_PLUGINS", "")
    monkeypatch.setattr(plugins, "_manager", None)
    monkeypatch.setattr(imagegate, "_default", None)
    plugin = FakePlugin()
    plugins.register(plugin, name="once")
    plugins.register(plugin)
    assert [m.full_id for m in imagegate.list_models()] == ["fake/basic", "fake/plain"]
