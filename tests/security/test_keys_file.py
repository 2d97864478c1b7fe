"""The keys file is written whole or not at all, owner-only, never through a planted
symlink, and a keys file others can read is pointed out."""

from __future__ import annotations

import json
import os
import stat

import pytest

from imagegate import credentials

from .conftest import run_command


def test_written_owner_only_and_nothing_left_beside_it():
    path = credentials.write_keys("gitee", ["first-token-1"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]
    assert credentials.read_keys() == {"gitee": ["first-token-1"]}


def test_a_planted_symlink_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    keys = credentials.keys_path()
    keys.parent.mkdir(parents=True, exist_ok=True)
    (keys.parent / "keys.tmp").symlink_to(victim)  # the temporary file's old, fixed name
    credentials.write_keys("gitee", ["first-token-1"])
    assert victim.read_text() == "precious"
    assert json.loads(keys.read_text()) == {"gitee": ["first-token-1"]}


def test_a_failed_write_keeps_the_old_file(monkeypatch):
    credentials.write_keys("gitee", ["first-token-1"])

    def broken(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as patched, pytest.raises(OSError, match="disk full"):
        patched.setattr(json, "dump", broken)
        credentials.write_keys("gitee", ["second-token-2"])
    path = credentials.keys_path()
    assert json.loads(path.read_text()) == {"gitee": ["first-token-1"]}
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]


def test_a_keys_file_others_can_read_is_pointed_out(tmp_path):
    keys = tmp_path / "imagegate" / "keys.json"
    keys.parent.mkdir(parents=True)
    keys.write_text(json.dumps({"gitee": ["stored-token-1"]}))
    os.chmod(keys, 0o644)
    done = run_command(tmp_path, "keys", "list")
    assert done.returncode == 0
    assert f"the keys file {keys} can be read by other users (mode 644)" in done.stderr
    assert f"chmod 600 {keys}" in done.stderr and "stored-token-1" not in done.stderr
    os.chmod(keys, 0o600)
    assert "other users" not in run_command(tmp_path, "keys", "list").stderr
