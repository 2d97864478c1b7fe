"""pytest loads imagegate's testing plugin in every project that has imagegate installed:
loading it, or `import imagegate`, must not pull in the HTTP stack, pydantic or the kit."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("httpx", "aiohttp", "anyio", "pydantic", "gradio_client", "fastapi", "uvicorn")


def imported_after(statement: str) -> list[str]:
    code = (
        f"import json, sys; {statement}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{HEAVY!r} or m.startswith(('imagegate.testing.', 'imagegate.kit')))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_the_pytest_plugin_imports_nothing_heavy():
    assert imported_after("import imagegate.testing.pytest_plugin") == [
        "imagegate.testing.pytest_plugin"
    ]


def test_importing_imagegate_leaves_the_testing_kit_and_the_wire_kit_alone():
    assert imported_after("import imagegate") == []


def test_the_testing_plugin_is_registered_with_pytest():
    from importlib.metadata import entry_points

    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "imagegate"]
    assert entry.value == "imagegate.testing.pytest_plugin"
