"""`imagegate keys status` / `keys reset` and the health word of `imagegate providers`:
what one command learnt about a token, seen by the next one."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from imagegate.errors import QuotaExceeded
from imagegate.state import fingerprint
from tests.cli.conftest import cli_env, run_cli
from tests.emulators.control import QUOTA_TOKEN, VALID_TOKEN


def test_status_shows_each_token_by_fingerprint_and_source_never_the_token(
    invoke, fake_plugins, monkeypatch
):
    monkeypatch.setenv("IMAGEGATE_FAKE_TOKEN", "spent-secret-1,fresh-secret-2")
    fake_plugins.failures = [QuotaExceeded("daily quota used", retry_after=3600)]
    assert invoke("generate", "a cat", "-m", "fake/basic").code == 0
    shown = invoke("keys", "status")
    assert shown.code == 0, shown.stderr
    assert "secret" not in shown.stdout
    lines = {line.split()[1]: line for line in shown.stdout.splitlines()[1:]}
    spent, fresh = lines[fingerprint("spent-secret-1")], lines[fingerprint("fresh-secret-2")]
    assert "env:IMAGEGATE_FAKE_TOKEN" in spent and "cooling" in spent
    assert "QUOTA_EXCEEDED" in spent and re.search(r"\(in (1 h|59 min)", spent)
    assert " ok " in fresh
    assert "anonymous" in lines  # the fake provider's auth is optional

    document = json.loads(invoke("keys", "status", "--json").stdout)
    [row] = [r for r in document if r["fingerprint"] == fingerprint("spent-secret-1")]
    assert row["state"] == "cooling" and row["last_error"] == "QUOTA_EXCEEDED"
    assert row["until_iso"].endswith("+00:00") and row["source"] == "env:IMAGEGATE_FAKE_TOKEN"

    providers = invoke("providers")
    assert "health        limited" in providers.stdout
    assert json.loads(invoke("providers", "--json").stdout)["providers"][0]["health"] == ("limited")

    reset = invoke("keys", "reset", "fake")
    assert reset.code == 0 and "Forgot 1 health record of fake" in reset.stdout
    assert "health        healthy" in invoke("providers").stdout


def test_a_spent_gitee_token_is_remembered_by_the_next_process(gitee_emulator, tmp_path):
    env = cli_env(IMAGEGATE_LOAD_PLUGINS="gitee", IMAGEGATE_PLUGINS="", **gitee_emulator.env)
    tokens = f"{QUOTA_TOKEN},{VALID_TOKEN}"
    work = Path(tmp_path)
    first = run_cli(
        "generate", "a cat", "-m", "gitee/z-image-turbo", "--token", tokens, cwd=work, env=env
    )
    assert first.returncode == 0, first.stderr
    sent = [r.headers["authorization"] for r in gitee_emulator.requests if r.method == "POST"]
    assert sent == [f"Bearer {QUOTA_TOKEN}", f"Bearer {VALID_TOKEN}"]

    status = run_cli("keys", "status", "--json", cwd=work, env=env)
    assert status.returncode == 0, status.stderr
    assert QUOTA_TOKEN not in status.stdout and VALID_TOKEN not in status.stdout
    [spent] = [r for r in json.loads(status.stdout) if r["fingerprint"] == fingerprint(QUOTA_TOKEN)]
    assert spent["state"] == "cooling" and spent["source"] is None  # seen on a call
    assert spent["last_error"] == "QUOTA_EXCEEDED"
    assert spent["until_iso"] and spent["until"] > time.time()  # midnight in Asia/Shanghai

    gitee_emulator.control.requests.clear()
    second = run_cli(
        "generate", "a dog", "-m", "gitee/z-image-turbo", "--token", tokens, cwd=work, env=env
    )
    assert second.returncode == 0, second.stderr
    sent = [r.headers["authorization"] for r in gitee_emulator.requests if r.method == "POST"]
    assert sent == [f"Bearer {VALID_TOKEN}"]  # nothing with the spent token
