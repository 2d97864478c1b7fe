"""Meta-tests that keep the contract honest: exports, hooks documented and tested."""

from __future__ import annotations

import inspect
from pathlib import Path

import imagegate
from imagegate import errors, hookspecs

ROOT = Path(__file__).resolve().parents[2]


def test_all_lists_exactly_the_public_names():
    for name in imagegate.__all__:
        assert getattr(imagegate, name) is not None, name  # lazy names resolve too
    public = {
        name
        for name, value in vars(imagegate).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public <= set(imagegate.__all__)
    assert dir(imagegate) == sorted(imagegate.__all__)


def test_errors_all_lists_every_error_class():
    classes = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ == errors.__name__
    }
    assert classes <= set(errors.__all__)


HOOKS = [
    name
    for name, value in vars(hookspecs).items()
    if callable(value) and hasattr(value, "imagegate_spec")
]


def test_the_hooks_are_the_documented_six():
    assert HOOKS == ["list_models", "validate", "generate", "close", "list_chat_models", "chat"]


def test_every_hook_is_documented_with_its_exact_signature():
    guide = (ROOT / "docs" / "plugins.md").read_text()
    for name in HOOKS:
        spec = getattr(hookspecs, name)
        parameters = ", ".join(inspect.signature(spec).parameters)
        assert f"{name}({parameters})" in guide, name
        assert spec.__doc__


def test_every_hook_has_a_test():
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    for name in HOOKS:
        assert f"def {name}(" in tests, name
