"""`imagegate generate -m any/<family>`, `--fallback`, and the families in `imagegate models`."""

from __future__ import annotations

import io
import json

import pytest

import imagegate.plugins
from imagegate import Progress
from imagegate.cli.progress import ProgressLine
from imagegate.errors import ProviderError
from tests.emulators.control import VALID_TOKEN


@pytest.fixture
def real_plugins(monkeypatch, spaces_emulator, gitee_emulator):
    """The four first-party plugins; HuggingFace and Gitee AI on their emulators."""
    monkeypatch.setenv("IMAGEGATE_LOAD_PLUGINS", "huggingface,gitee,modelscope,a4f")
    monkeypatch.setenv("IMAGEGATE_PLUGINS", "")
    monkeypatch.setattr(imagegate.plugins, "_manager", None)
    for emulator in (spaces_emulator, gitee_emulator):
        for name, value in emulator.env.items():
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("IMAGEGATE_GITEE_TOKEN", VALID_TOKEN)
    return spaces_emulator, gitee_emulator


def test_a_family_is_served_by_gitee_when_the_space_is_out_of_quota(invoke, real_plugins):
    spaces, _ = real_plugins
    spaces.script("zerogpu_quota", times=3)
    done = invoke("generate", "a cat", "-m", "any/z-image-turbo", "--size", "512x512", "--json")
    assert done.code == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["provider"], document["model"]) == ("gitee", "gitee/z-image-turbo")
    steps = {step["model"]: step["outcome"] for step in document["chain"]}
    assert steps["hf/z-image-turbo"] == "failed" and steps["gitee/z-image-turbo"] == "served"
    assert "warning: hf/z-image-turbo failed: HuggingFace Space" in done.stderr
    assert VALID_TOKEN not in done.stdout + done.stderr


def test_an_unknown_family_exits_2_naming_the_families(invoke, real_plugins):
    done = invoke("generate", "a cat", "-m", "any/sdxl")
    assert done.code == 2
    assert "unknown model family 'any/sdxl'" in done.stderr
    assert "any/z-image-turbo" in done.stderr and "any/flux-1-dev" in done.stderr


def test_fallback_options_are_tried_in_order(invoke, fake_plugins):
    fake_plugins.failures = [ProviderError("the fake is down")]  # not retried
    done = invoke("generate", "a cat", "-m", "fake/basic", "--fallback", "fake/plain", "--json")
    assert done.code == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["model"] == "fake/plain"
    assert [s["outcome"] for s in document["chain"]] == ["failed", "served"]
    assert "warning: fake/basic failed: the fake is down" in done.stderr


def test_an_unknown_fallback_exits_2(invoke):
    done = invoke("generate", "a cat", "-m", "fake/basic", "--fallback", "fake/nope")
    assert done.code == 2 and "fallback of fake/basic: unknown model 'fake/nope'" in done.stderr


def test_models_lists_the_families_and_shows_one(invoke, real_plugins):
    listing = invoke("models").stdout
    assert "FAMILY" in listing
    row = next(line for line in listing.splitlines() if line.startswith("any/z-image-turbo"))
    assert "hf/z-image-turbo" in row and "gitee/z-image-turbo" in row
    shown = invoke("models", "show", "any/z-image-turbo")
    assert shown.code == 0
    assert shown.stdout.splitlines()[0] == "any/z-image-turbo"
    member = next(line for line in shown.stdout.splitlines() if line.startswith("gitee/"))
    assert "required" in member and "env:IMAGEGATE_GITEE_TOKEN" in member
    only = json.loads(invoke("models", "--provider", "any", "--json").stdout)
    assert {f["full_id"] for f in only} >= {"any/z-image-turbo", "any/flux-1-schnell"}
    assert all(f["full_id"].startswith("any/") for f in only)


def test_serve_checks_its_fallbacks_before_starting(invoke, monkeypatch):
    import imagegate.server

    seen = {}
    monkeypatch.setattr(imagegate.server, "serve", lambda **kwargs: seen.update(kwargs))
    bad = invoke("serve", "--fallback", "fake/basic")
    assert bad.code == 2 and "is not MODEL=FALLBACK" in bad.stderr and not seen
    unknown = invoke("serve", "--fallback", "fake/basic=fake/nope")
    assert unknown.code == 2 and "unknown model 'fake/nope'" in unknown.stderr and not seen
    done = invoke("serve", "--fallback", "fake/basic=fake/plain", "--fallback", "fake/plain=fake/b")
    assert done.code == 0, done.stderr
    assert seen["fallbacks"] == "fake/basic=fake/plain;fake/plain=fake/b"


def test_the_progress_line_keeps_the_handover_in_view():
    stream = io.StringIO()
    line = ProgressLine("any", "any/z-image-turbo", stream)
    line(Progress(provider="huggingface", model="hf/z-image-turbo", stage="queued"))
    line(
        Progress(
            provider="gitee",
            model="gitee/z-image-turbo",
            stage="failover",
            message="hf: quota spent, retry in 12 min 34 s -> gitee",
        )
    )
    line(Progress(provider="gitee", model="gitee/z-image-turbo", stage="running"))
    text = line.text()
    assert text.startswith("hf: quota spent, retry in 12 min 34 s -> gitee · gitee gitee/")
    assert "running" in text
