"""docs/reference.md describes every public field of the types a plugin touches, with its
real default: the expectations come from the classes, so a field added without docs (or a
default changed) fails here."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

import imagegate
from imagegate import errors

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
TYPES = [
    imagegate.Provider,
    imagegate.Model,
    imagegate.Capabilities,
    imagegate.IntRange,
    imagegate.FloatRange,
    imagegate.ImageRequest,
    imagegate.Problem,
    imagegate.GenerateContext,
    imagegate.Progress,
    imagegate.GeneratedImage,
    imagegate.ChatModel,
    imagegate.ChatRequest,
    errors.ImagegateError,
]
_CELL = re.compile(r"(?<!\\)\|")


def documented(name: str) -> dict[str, str]:
    """Field name -> its default cell, from the table under `### `name``."""
    text = PAGE.read_text()
    match = re.search(rf"^### `{name}`\n(.*?)(?=^##)", text + "\n##", re.S | re.M)
    assert match, f"docs/reference.md has no `### `{name}`` section"
    rows = {}
    for line in match[1].splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in _CELL.split(line)[1:-1]]
        field = cells[0].strip("`").split("(")[0]
        rows[field] = cells[2].strip("`")
    return rows


def _literal(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def expected(cls: type) -> dict[str, str | None]:
    """Public name -> the default cell it must have (None: any, for default factories)."""
    found: dict[str, str | None] = {}
    if issubclass(cls, BaseModel):
        for name, info in cls.model_fields.items():
            if info.is_required():
                found[name] = "required"
            elif info.default_factory is not None:
                found[name] = None
            else:
                found[name] = _literal(info.default)
        found.update(dict.fromkeys(cls.model_computed_fields, "computed"))
    elif dataclasses.is_dataclass(cls):
        for item in dataclasses.fields(cls):
            if item.default is not dataclasses.MISSING:
                found[item.name] = _literal(item.default)
            elif item.default_factory is not dataclasses.MISSING:
                found[item.name] = None
            else:
                found[item.name] = "required"
    else:  # ImagegateError: its constructor's keywords and the class attributes
        for name, parameter in list(inspect.signature(cls.__init__).parameters.items())[1:]:
            empty = parameter.default is inspect.Parameter.empty
            found[name] = "required" if empty else _literal(parameter.default)
        found.update(dict.fromkeys(("code", "status", "openai_type"), "class"))
    for name, value in vars(cls).items():
        if name.startswith(("_", "model_")) or name in found:
            continue
        if inspect.isfunction(value):
            found[name] = "method"
        elif isinstance(value, property):
            found[name] = "property"
    return found


@pytest.mark.parametrize("cls", TYPES, ids=lambda c: c.__name__)
def test_every_public_field_is_documented_with_its_default(cls):
    rows = documented(cls.__name__)
    wanted = expected(cls)
    missing = sorted(set(wanted) - set(rows))
    assert not missing, f"docs/reference.md, {cls.__name__}: document {missing}"
    stale = sorted(set(rows) - set(wanted))
    assert not stale, f"docs/reference.md, {cls.__name__}: {stale} no longer exist"
    for name, default in wanted.items():
        if default is not None:
            assert rows[name] == default, f"{cls.__name__}.{name}: the default is {default}"


def test_every_error_class_is_listed_with_its_code_and_status():
    text = PAGE.read_text()
    for name in errors.__all__:
        cls = getattr(errors, name)
        if inspect.isclass(cls) and issubclass(cls, errors.ImagegateError):
            row = f"| `{name}` | `{cls.code}` | {cls.status} |"
            assert row in text, f"docs/reference.md: add {row}"
