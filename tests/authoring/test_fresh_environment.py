"""A plugin author's path, as real processes in a fresh virtual environment: the scaffold
installs with pip, passes its own tests and shows up in `imagegate models`; the 40-line
example of docs/plugins.md, copied as written, installs and generates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from imagegate.testing import Answer, FakeUpstream

from .venv import REPO, Venv, create

GUIDE = REPO / "docs" / "plugins.md"


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return create(tmp_path_factory.mktemp("authoring"))


def test_the_scaffold_installs_passes_its_tests_and_serves_its_models(venv, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    created = venv.run("imagegate", "plugins", "new", "acme", cwd=empty)
    assert "imagegate-acme" in created.stdout
    venv.pip_install("-e", "./imagegate-acme[test]", cwd=empty)

    tests = venv.run(
        "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=empty / "imagegate-acme"
    )
    assert re.search(r"\b4 passed\b", tests.stdout), tests.stdout

    models = venv.run("imagegate", "models", cwd=empty)
    assert "acme/acme-image-1" in models.stdout
    listed = venv.run("imagegate", "plugins", cwd=empty)
    assert re.search(r"acme\s+imagegate-acme\s+0\.1\.0\s+list_models, generate", listed.stdout)


def guide_block(language: str, after: str) -> str:
    """The first ```language block after the heading `after` in docs/plugins.md."""
    text = GUIDE.read_text()
    section = text[text.index(after) :]
    return re.search(rf"```{language}\n(.*?)```", section, re.S)[1]


def test_the_guides_40_line_plugin_is_40_lines():
    code = guide_block("python", "## A whole plugin in 40 lines")
    assert len(code.rstrip("\n").splitlines()) <= 40


def test_the_guides_plugin_installs_as_written_and_generates(venv, tmp_path):
    package = tmp_path / "imagegate-pollen"
    module = package / "src" / "imagegate_pollen"
    module.mkdir(parents=True)
    (module / "__init__.py").write_text(guide_block("python", "## A whole plugin in 40 lines"))
    (package / "pyproject.toml").write_text(guide_block("toml", "## A whole plugin in 40 lines"))
    tests = package / "tests"
    tests.mkdir()
    (tests / "test_pollen.py").write_text(guide_block("python", "## Testing a plugin"))
    venv.pip_install("-e", "./imagegate-pollen", cwd=tmp_path)

    listed = venv.run("imagegate", "models", "--provider", "pollen", cwd=tmp_path)
    assert "pollen/flux" in listed.stdout and "pollen/turbo" in listed.stdout

    with FakeUpstream() as upstream:
        upstream.always(Answer.image(320, 240))
        made = venv.run(
            "imagegate",
            "generate",
            "a lighthouse at dawn",
            "-m",
            "pollen/turbo",
            "--size",
            "320x240",
            "--seed",
            "7",
            "-o",
            "out/",
            cwd=tmp_path,
            IMAGEGATE_POLLEN_BASE_URL=upstream.url,
        )
        sent = upstream.requests[0]
    saved = Path(tmp_path, made.stdout.strip())
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert sent.path == "/prompt/a%20lighthouse%20at%20dawn"
    assert sent.query == {
        "model": "turbo",
        "width": "320",
        "height": "240",
        "seed": "7",
        "nologo": "true",
    }

    checked = venv.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=package)
    assert re.search(r"\b3 passed\b", checked.stdout), checked.stdout
