"""`imagegate history` and what `imagegate generate` records, in-process (CliRunner) and as
a real process."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import pytest

from imagegate import errors
from tests.cli.conftest import cli_env, run_cli
from tests.fakes import png_bytes


def records(invoke, *args: str) -> list[dict]:
    done = invoke("history", "--json", *args)
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


def test_two_generations_appear_with_prompts_models_seeds_and_files():
    work = Path.cwd()
    first = run_cli("generate", "a cute cat", "-m", "fake/basic", "--seed", "42", cwd=work)
    second = run_cli(
        "generate", "a red fox", "-m", "scripted/model", "-n", "2", "--seed", "5", cwd=work
    )
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    done = run_cli("history", "--json", cwd=work)
    assert done.returncode == 0, done.stderr
    fox, cat = json.loads(done.stdout)
    assert (cat["prompt"], cat["model"], cat["source"]) == ("a cute cat", "fake/basic", "cli")
    assert (fox["prompt"], fox["model"]) == ("a red fox", "scripted/model")
    assert [i["seed"] for i in cat["images"]] == [42]
    assert [i["seed"] for i in fox["images"]] == [5, 6]
    saved = [work / line for line in first.stdout.splitlines() + second.stdout.splitlines()]
    assert [Path(i["path"]) for i in cat["images"] + fox["images"]] == [p.resolve() for p in saved]
    assert Path(cat["images"][0]["path"]).read_bytes() == png_bytes(8, 8, 42)
    table = run_cli("history", cwd=work).stdout.splitlines()
    assert table[0].split() == ["ID", "TIME", "MODEL", "IMAGES", "SEEDS", "STATUS", "PROMPT"]
    assert table[1].startswith(fox["id"]) and table[1].rstrip().endswith("a red fox")
    assert "42" in table[2] and "fake/basic" in table[2]


def test_rerun_reproduces_the_parameters(invoke, fake_plugins):
    done = invoke(
        "generate", "a red fox", "-m", "fake/b", "--size", "512x768", "--steps", "12",
        "--guidance", "4", "--seed", "9", "-n", "2", "--negative", "blurry", "--json",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    record_id = json.loads(done.stdout)["id"]
    again = invoke("history", "rerun", record_id, "--json")
    assert again.code == 0, again.stderr
    fields = ("prompt", "negative_prompt", "width", "height", "steps", "guidance_scale", "seed")
    sent = [tuple(getattr(c["request"], f) for f in fields) for c in fake_plugins.calls]
    asked = [("a red fox", "blurry", 512, 768, 12, 4.0, seed) for seed in (9, 10)]
    assert sorted(sent[:2]) == asked and sorted(sent[2:]) == asked  # one call per image
    rerun = json.loads(again.stdout)
    assert rerun["id"] != record_id
    assert [Path(i["path"]).read_bytes() for i in rerun["images"]] == [
        png_bytes(8, 8, 9),
        png_bytes(8, 8, 10),
    ]
    assert len(records(invoke)) == 2


def test_rerun_with_another_seed_count_and_model(invoke, fake_plugins):
    invoke("generate", "a cat", "-m", "fake/basic", "--steps", "30", "--seed", "1", "-n", "3")
    (record,) = records(invoke)
    done = invoke("history", "rerun", record["id"], "--seed", "77", "-n", "1")
    assert done.code == 0, done.stderr
    assert len(fake_plugins.calls) == 4
    call = fake_plugins.calls[-1]["request"]
    assert (call.seed, call.n, call.steps) == (77, 1, 30)
    done = invoke("history", "rerun", record["id"], "-m", "fake/plain")
    assert done.code == 0
    assert "fake/plain's defaults" in done.stderr


@pytest.mark.parametrize("command", ["show", "rerun"])
def test_an_unknown_id_is_exit_2_with_one_line(invoke, command):
    done = invoke("history", command, "no-such-id")
    assert done.code == 2
    assert done.stderr.splitlines() == [
        "error: no history record 'no-such-id' (see `imagegate history`)"
    ]
    assert done.stdout == ""


def test_show_lists_everything_with_the_files(invoke):
    done = invoke("generate", "a cat", "-m", "fake/basic", "--seed", "4", "--negative", "dogs")
    path = Path(done.stdout.strip()).resolve()
    (record,) = records(invoke)
    shown = invoke("history", "show", record["id"]).stdout
    assert f"id: {record['id']}" in shown
    assert "prompt: a cat" in shown and "negative prompt: dogs" in shown
    assert "model: fake/basic (fake)" in shown and "seed=4" in shown
    assert f"file: {path}" in shown and "sha256: " in shown
    as_json = json.loads(invoke("history", "show", record["id"], "--json").stdout)
    assert as_json == record


def test_no_history_for_one_call_and_off_for_all(invoke):
    invoke("generate", "secret one", "-m", "fake/basic", "--no-history")
    assert records(invoke) == []
    done = invoke("history", "off")
    assert done.code == 0 and "history is off" in done.stdout
    invoke("generate", "secret two", "-m", "fake/basic")
    assert records(invoke) == []
    assert "history: off" in invoke("history", "status").stdout
    assert "history is off" in invoke("history").stdout
    invoke("history", "on")
    invoke("generate", "kept", "-m", "fake/basic")
    assert [r["prompt"] for r in records(invoke)] == ["kept"]
    status = invoke("history", "status").stdout
    assert "history: on" in status and "records: 1" in status and "retention: 7 days" in status


def test_filters(invoke, fake_plugins):
    invoke("generate", "a Red fox", "-m", "fake/basic")
    invoke("generate", "a cat", "-m", "fake/plain")
    fake_plugins.failures.append(errors.ProviderError("the fake provider is down"))
    failed = invoke("generate", "a dog", "-m", "fake/basic")
    assert failed.code == 5
    assert [r["prompt"] for r in records(invoke)] == ["a dog", "a cat", "a Red fox"]
    assert [r["prompt"] for r in records(invoke, "--search", "red")] == ["a Red fox"]
    assert [r["prompt"] for r in records(invoke, "--model", "fake/b")] == ["a dog", "a Red fox"]
    assert len(records(invoke, "--provider", "fk")) == 3
    (dog,) = records(invoke, "--failed")
    assert dog["error"]["code"] == "PROVIDER_ERROR" and dog["images"] == []
    assert [r["prompt"] for r in records(invoke, "-n", "1")] == ["a dog"]
    assert "failed PROVIDER_ERROR" in invoke("history").stdout


def test_export_jsonl_and_csv(invoke):
    invoke("generate", "first, with a comma", "-m", "fake/basic", "--seed", "1")
    invoke("generate", "second", "-m", "fake/basic", "--seed", "2", "-n", "2")
    lines = invoke("history", "export").stdout.splitlines()
    assert [json.loads(line)["prompt"] for line in lines] == ["first, with a comma", "second"]
    rows = list(csv.DictReader(io.StringIO(invoke("history", "export", "--format", "csv").stdout)))
    assert [r["prompt"] for r in rows] == ["first, with a comma", "second"]
    assert [r["seed"] for r in rows] == ["1", "2"]
    assert rows[1]["images"] == "2" and rows[1]["files"].count(";") == 1


def test_rm_and_clear_delete_images_only_when_asked(invoke):
    one = Path(invoke("generate", "one", "-m", "fake/basic", "--seed", "1").stdout.strip())
    two = Path(invoke("generate", "two", "-m", "fake/basic", "--seed", "2").stdout.strip())
    three = Path(invoke("generate", "three", "-m", "fake/basic", "--seed", "3").stdout.strip())
    ids = {r["prompt"]: r["id"] for r in records(invoke)}
    done = invoke("history", "rm", ids["one"])
    assert done.code == 0 and done.stdout.strip() == "removed 1 record"
    assert one.exists()
    two.write_bytes(b"the user's own edit")  # not the recorded image any more: kept
    done = invoke("history", "rm", ids["two"], ids["three"], "--images")
    assert done.code == 0 and "removed 2 records" in done.stdout
    assert two.read_bytes() == b"the user's own edit" and not three.exists()
    assert invoke("history", "rm", ids["one"]).code == 2
    invoke("generate", "four", "-m", "fake/basic")
    assert invoke("history", "clear", "--before", "2000-01-01").stdout.strip() == (
        "removed 0 records"
    )
    assert invoke("history", "clear", "--before", "2999-01-01T00:00").stdout.strip() == (
        "removed 1 record"
    )
    assert records(invoke) == []
    assert invoke("history", "clear").code == 2
    bad = invoke("history", "clear", "--before", "yesterday-ish")
    assert bad.code == 2 and "--before" in bad.stderr


def test_a_corrupt_database_still_saves_with_one_warning():
    work = Path.cwd()
    home = Path(os.environ["IMAGEGATE_HOME"])
    (home / "state.db").write_bytes(b"garbage " * 512)
    done = run_cli("generate", "a cat", "-m", "fake/basic", "--seed", "3", cwd=work, env=cli_env())
    assert done.returncode == 0
    assert (work / done.stdout.strip()).read_bytes() == png_bytes(8, 8, 3)
    (line,) = done.stderr.splitlines()
    assert "warning" in line and "history" in line


def test_serve_takes_history_off_and_checks_its_storage_options(invoke, monkeypatch):
    import imagegate.server

    started = []
    monkeypatch.setattr(imagegate.server, "serve", lambda **options: started.append(options))
    for name in ("IMAGEGATE_HISTORY", "IMAGEGATE_RETENTION", "IMAGEGATE_PASS_LINKS"):
        monkeypatch.setenv(name, "")  # restored after the test: `serve` sets them
    invoke("history", "off")
    assert invoke("serve", "--retention", "30d", "--pass-links", "gitee").code == 0
    assert started and os.environ["IMAGEGATE_HISTORY"] == "off"
    assert (os.environ["IMAGEGATE_RETENTION"], os.environ["IMAGEGATE_PASS_LINKS"]) == (
        "30d",
        "gitee",
    )
    assert invoke("serve", "--history").code == 0
    assert os.environ["IMAGEGATE_HISTORY"] == "on"
    bad = invoke("serve", "--retention", "soon")
    assert bad.code == 2 and "--retention" in bad.stderr and len(started) == 2
