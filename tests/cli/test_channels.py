"""`imagegate channels`: a channel added by the CLI serves `generate`, the server and
`/v1/models` against the OpenAI-compatible emulator; bad input is one line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import openai
import pytest

import imagegate
import imagegate.plugins
from imagegate.channels import channels_path
from imagegate.credentials import read_keys
from imagegate.server import create_app
from tests.cli.conftest import REPO, imagegate_command
from tests.emulators.chat import ENHANCED_SUFFIX
from tests.emulators.control import VALID_TOKEN
from tests.emulators.server import ServerThread


@pytest.fixture(autouse=True)
def openai_plugin(monkeypatch):
    """The channels plugin (and the test fake, for name clashes) is what is installed."""
    monkeypatch.setenv("IMAGEGATE_PLUGINS", "tests.fakes:plugin,imagegate_openai")
    monkeypatch.setattr(imagegate.plugins, "_manager", None)


@pytest.fixture
def openai_api(openai_emulator, monkeypatch):
    """OpenAI's API (the emulator) behind a channel named openai, its key in OPENAI_API_KEY."""
    monkeypatch.setenv("IMAGEGATE_OPENAI_BASE_URL", openai_emulator.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", VALID_TOKEN)
    return openai_emulator


def test_a_channel_added_by_the_cli_serves_generate(invoke, openai_api):
    added = invoke("channels", "add", "openai", "--preset", "openai")
    assert added.code == 0, added.stderr
    assert "Added channel openai (https://api.openai.com/v1): 6 image model(s)" in added.stdout
    done = invoke("generate", "a cat", "-m", "openai/gpt-image-2", "--quality", "low", "--json")
    assert done.code == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["model"] == "openai/gpt-image-2"
    assert document["parameters"]["quality"] == "low"
    assert Path(document["images"][0]["path"]).read_bytes().startswith(b"\x89PNG")
    (sent,) = [r.json for r in openai_api.requests]
    assert sent == {"model": "gpt-image-2", "prompt": "a cat", "n": 1, "size": "1024x1024",
                    "quality": "low"}  # fmt: skip


def test_the_same_channel_serves_the_server_and_its_model_list(invoke, openai_api):
    assert invoke("channels", "add", "openai", "--preset", "openai").code == 0
    server = ServerThread(create_app(imagegate.Gate(use_stored_tokens=False))).start()
    try:
        client = openai.OpenAI(
            base_url=f"{server.url}/v1", api_key=f"openai:{VALID_TOKEN}", max_retries=0
        )
        result = client.images.generate(
            model="openai/gpt-image-1.5",
            prompt="a cat",
            size="1536x1024",
            response_format="b64_json",
            extra_body={"background": "opaque"},
        )
        assert result.data[0].b64_json
        listed = {m.id: m.type for m in client.models.list()}
        assert listed["openai/gpt-image-2"] == "image"
        assert listed["openai/gpt-5.4-mini"] == "chat"
        answer = client.chat.completions.create(
            model="openai/gpt-5.4-nano", messages=[{"role": "user", "content": "hi"}]
        )
        assert answer.choices[0].message.content == "You said: hi"
        enhanced = client.images.generate(
            model="openai/gpt-image-2",
            prompt="a fox",
            extra_body={"enhance": "openai/gpt-5.4-mini"},
        )
        assert enhanced.data[0].revised_prompt == f"a fox{ENHANCED_SUFFIX}"
        with pytest.raises(openai.BadRequestError, match="does not take steps; it takes: prompt"):
            client.images.generate(model="openai/gpt-image-2", prompt="x", extra_body={"steps": 4})
        dropped = client.images.with_raw_response.generate(
            model="openai/gpt-image-2",
            prompt="x",
            extra_body={"steps": 4, "drop_unsupported": True},
        )
        assert dropped.http_response.json()["warnings"] == [
            "steps ignored: openai/gpt-image-2 has no steps setting"
        ]
    finally:
        server.stop()
    sent = [r.json for r in openai_api.requests if r.path.endswith("/images/generations")]
    assert sent[0] == {
        "model": "gpt-image-1.5",
        "prompt": "a cat",
        "n": 1,
        "size": "1536x1024",
        "background": "opaque",
    }  # the caller's response_format is the server's to honour, not OpenAI's to refuse
    assert sent[1]["prompt"] == f"a fox{ENHANCED_SUFFIX}"


def test_discovered_models_come_with_a_warning(invoke, openai_emulator):
    local = f"{openai_emulator.root_url}/local/v1"
    done = invoke("channels", "add", "local", "--base-url", local, "--auth", "none")
    assert done.code == 0, done.stderr
    assert "2 image model(s), 1 chat model(s)" in done.stdout
    assert "found through GET /models" in done.stderr and "are assumed" in done.stderr
    shown = invoke("channels", "show", "local")
    assert "local/z-image-turbo" in shown.stdout and "assumed" in shown.stdout
    assert "chat model   local/qwen3-8b" in shown.stdout
    made = invoke("generate", "a dog", "-m", "local/qwen-image", "--enhance", "--json")
    assert made.code == 0, made.stderr
    document = json.loads(made.stdout)
    assert document["revised_prompt"] == f"a dog{ENHANCED_SUFFIX}"
    assert document["enhanced_by"] == "local/qwen3-8b"


def test_declared_capabilities_and_the_unsupported_parameters(invoke, openai_emulator):
    local = f"{openai_emulator.root_url}/local/v1"
    done = invoke(
        "channels", "add", "local", "--base-url", local, "--auth", "none",
        "--model", "z-image-turbo", "--negative-prompt", "--seed", "--steps", "1-20:9",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    made = invoke("generate", "a dog", "-m", "local/z-image-turbo", "--seed", "4", "--steps", "6")
    assert made.code == 0, made.stderr
    refused = invoke("generate", "a dog", "-m", "local/z-image-turbo", "--guidance", "3")
    assert refused.code == 2
    [line] = refused.stderr.splitlines()
    assert "does not take guidance_scale; it takes: prompt" in line
    assert "--drop-unsupported" in line  # the owner's hint
    dropped = invoke(
        "generate", "a dog", "-m", "local/z-image-turbo", "--guidance", "3", "--drop-unsupported"
    )
    assert dropped.code == 0 and "guidance_scale ignored" in dropped.stderr
    bodies = [r.json for r in openai_emulator.requests if r.path.endswith("/generations")]
    assert (bodies[0]["seed"], bodies[0]["steps"]) == (4, 6)
    assert "guidance_scale" not in bodies[1]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["fake", "--base-url", "http://h/v1", "--model", "m"], "taken by the installed provider"),
        (["gitee", "--base-url", "http://h/v1", "--model", "m"], "taken by the provider of"),
        (["any", "--base-url", "http://h/v1", "--model", "m"], "taken by the families' prefix"),
        (["x", "--base-url", "http://h/v1", "--model", "m", "--auth-prefix", "fk"], "taken by"),
        (["x", "--base-url", "ftp://h/v1", "--model", "m"], "must be http:// or https://"),
        (["x", "--base-url", "h/v1", "--model", "m"], "must be http:// or https://"),
        (["x", "--base-url", "http://h/v1", "--model", "m", "--model", "m"], "given twice"),
        (["Bad_Name", "--base-url", "http://h/v1", "--model", "m"], "lower-case letters"),
        (["x", "--model", "m"], "give --base-url URL"),
        (["x", "--preset", "nope"], "unknown preset 'nope'; presets: openai"),
        (["x", "--base-url", "http://h/v1", "--model", "m", "--steps", "9"], "MIN-MAX:DEFAULT"),
        (["x", "--base-url", "http://127.0.0.1:9/v1"], "cannot list the models of"),
    ],
)
def test_add_refuses_bad_input_with_one_line(invoke, args, said):
    done = invoke("channels", "add", *args)
    assert done.code == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ") and said in line
    assert not channels_path().exists()


def test_an_existing_channel_is_kept_unless_replaced(invoke):
    args = ["channels", "add", "x", "--base-url", "http://h/v1", "--model", "m"]
    assert invoke(*args).code == 0
    again = invoke(*args)
    assert again.code == 2 and "already exists" in again.stderr
    assert invoke(*args, "--model", "n", "--replace").code == 0
    listed = invoke("channels", "list")
    assert listed.stdout.splitlines()[1].split() == ["x", "http://h/v1", "2", "0", "none"]
    assert invoke("channels", "rm", "x").stdout.strip() == "Removed channel x"
    assert invoke("channels", "rm", "x").code == 2


def test_keys_set_takes_a_channels_name(invoke):
    assert invoke("channels", "add", "relay", "--base-url", "http://h/v1", "--model", "m").code == 0
    done = invoke("keys", "set", "relay", input="tok-relay-123\n")
    assert done.code == 0, done.stderr
    assert read_keys() == {"relay": ["tok-relay-123"]}
    assert invoke("channels", "list").stdout.splitlines()[1].split()[-2:] == ["keys", "file"]


def test_a_file_that_does_not_parse_leaves_every_command_running(invoke):
    path = channels_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('{"channels": {\n  "x": {\n')
    for command in (["models"], ["providers"], ["channels", "list"], ["keys", "list"]):
        done = invoke(*command)
        assert done.code == 0, (command, done.stderr)
    listed = invoke("models")
    assert "fake/basic" in listed.stdout
    warning = f"{path} line 3 does not parse"
    refused = invoke("channels", "add", "y", "--base-url", "http://h/v1", "--model", "m")
    assert refused.code == 2 and warning in refused.stderr
    assert path.read_text() == '{"channels": {\n  "x": {\n'  # never overwritten


def test_the_plugin_alone_lists_only_channel_models(tmp_path):
    env = {
        **os.environ,
        "IMAGEGATE_HOME": str(tmp_path),
        "IMAGEGATE_LOAD_PLUGINS": "openai",
        "PYTHONPATH": str(REPO),
    }
    env.pop("IMAGEGATE_PLUGINS", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*imagegate_command(), *args], env=env, capture_output=True, text=True, timeout=60
        )

    assert run("channels", "add", "openai", "--preset", "openai").returncode == 0
    listed = run("models", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert {m["full_id"] for m in entries if m["type"] == "chat"} == {
        "openai/gpt-5.4-mini",
        "openai/gpt-5.4-nano",
    }
    ids = {m["full_id"] for m in entries if m["type"] == "image"}
    assert ids == {
        "openai/gpt-image-2",
        "openai/gpt-image-2.5-sunburst",
        "openai/gpt-image-2.5-flare",
        "openai/gpt-image-1.5",
        "openai/gpt-image-1-mini",
        "openai/chatgpt-image-latest",
    }
    providers = json.loads(run("providers", "--json").stdout)["providers"]
    assert [p["id"] for p in providers] == ["openai"]
