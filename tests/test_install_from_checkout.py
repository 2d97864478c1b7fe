"""The README's install commands, as written, in a fresh virtual environment: the packages
are not on PyPI, so a checkout is how users get them, and each `pip install` line must
work from the repository root and give exactly the providers it promises.

The commands run through `uv pip` (the same arguments pip takes, and uv's cache keeps this
fast); they reach only the package registry, for the third-party dependencies."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_install_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Install", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, "README.md's Install section has no bash block"
    return [line.split("#", 1)[0].strip() for line in block[1].splitlines() if line.strip()]


def install(command: str, venv: Path) -> None:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed (pip install uv)")
    words = shlex.split(command)  # the shell's quoting, then its glob
    assert words[:2] == ["pip", "install"], command
    paths = []
    for word in words[2:]:
        matches = sorted(f"./{p.relative_to(ROOT)}" for p in ROOT.glob(word.split("[")[0]))
        paths += [word] if "[" in word or not matches else matches
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), *paths],
        cwd=ROOT,
        check=True,
        timeout=300,
    )


def providers_listed(venv: Path) -> set[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
    env["IMAGEGATE_HOME"] = str(venv / "home")
    out = subprocess.run(
        [str(venv / "bin" / "imagegate"), "models", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=120,
    )
    entries = json.loads(out.stdout)  # models, and `any/<family>` entries without a provider
    return {e["provider"]["id"] for e in entries if isinstance(e.get("provider"), dict)}


@pytest.mark.parametrize("index", range(2))
def test_the_readme_install_commands_work_from_a_checkout(tmp_path, index):
    commands = readme_install_commands()
    assert len(commands) == 3
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install(commands[index], venv)
    found = providers_listed(venv)
    if index == 0:  # everything, and the server
        assert {"a4f", "gitee", "huggingface", "modelscope"} <= found
        check = "import fastapi, sse_starlette, uvicorn, imagegate.server, imagegate_openai"
    else:  # the core and Gitee AI alone
        assert found == {"gitee"}
        check = "import imagegate_gitee"
    subprocess.run([str(venv / "bin" / "python"), "-c", check], check=True, timeout=120)
