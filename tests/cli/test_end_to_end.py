"""`imagegate generate` against the emulated HuggingFace Spaces: the README's quick start."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli.conftest import cli_env, run_cli


def test_generate_a_cute_cat_with_the_default_model(spaces_emulator):
    workdir = Path.cwd()
    env = cli_env(
        IMAGEGATE_LOAD_PLUGINS="huggingface",
        IMAGEGATE_PLUGINS="",
        IMAGEGATE_HUGGINGFACE_BASE_URL=spaces_emulator.base_url,
    )
    done = run_cli("generate", "a cute cat", "--seed", "42", cwd=workdir, env=env)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert re.fullmatch(r"\d{8}-\d{6}-a-cute-cat-42\.webp", line)
    data = (workdir / line).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert done.stderr == ""
