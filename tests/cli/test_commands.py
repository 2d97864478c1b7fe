"""`imagegate models`, `providers`, `keys`, `serve` and the top level, through click's runner."""

from __future__ import annotations

import json
import stat
import sys

import pytest

from imagegate.credentials import keys_path, read_keys


def test_help_lists_every_command_and_the_exit_codes(invoke):
    done = invoke("--help")
    assert done.code == 0
    for command in ("generate", "models", "providers", "keys", "serve"):
        assert command in done.stdout
    assert "Exit codes:" in done.stdout and "130" in done.stdout


def test_unknown_command_is_one_error_line_and_exit_2(invoke):
    done = invoke("frobnicate")
    assert done.code == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: ") and "frobnicate" in line


def test_models_table_shows_ids_aliases_and_ranges(invoke):
    done = invoke("models")
    assert done.code == 0
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["PROVIDER", "MODEL", "ALIASES", "NEGATIVE", "STEPS", "GUIDANCE"]
    basic = next(row for row in rows if "fake/basic" in row)
    assert "fake/b" in basic and "1-50 (default 9)" in basic and "0-20 (default 1.5)" in basic
    assert "yes" in basic


def test_models_filter_by_provider(invoke):
    assert "fake/basic" in invoke("models", "--provider", "fake").stdout
    done = invoke("models", "--provider", "gitee")
    assert done.code == 0 and done.stdout == "" and "No models" in done.stderr


def test_models_json(invoke):
    document = json.loads(invoke("models", "--json").stdout)
    assert {m["full_id"] for m in document} == {"fake/basic", "fake/plain"}
    basic = next(m for m in document if m["id"] == "basic")
    assert basic["capabilities"]["steps"] == {"min": 1, "max": 50, "default": 9}


def test_models_lists_chat_models_too_and_shows_one(invoke, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_LOAD_PLUGINS", "a4f")  # the real A4F plugin: one chat model
    listed = invoke("models", "--provider", "a4f")
    assert listed.code == 0
    images, chats = listed.stdout.split("CHAT MODEL")
    assert "a4f/provider-4/imagen-3.5" in images and "a4f/provider-3/deepseek-v3" not in images
    assert "a4f/provider-3/deepseek-v3" in chats and "a4f/deepseek-v3" in chats
    document = json.loads(invoke("models", "--provider", "a4f", "--json").stdout)
    kinds = {m["full_id"]: m["type"] for m in document}
    assert kinds["a4f/provider-3/deepseek-v3"] == "chat"
    assert kinds["a4f/provider-4/imagen-3.5"] == "image"
    shown = invoke("models", "show", "a4f/deepseek-v3")  # an alias, as typed
    assert shown.code == 0
    assert shown.stdout.splitlines()[0] == "a4f/provider-3/deepseek-v3"
    assert "--enhance-model a4f/provider-3/deepseek-v3" in shown.stdout
    assert json.loads(invoke("models", "show", "a4f/deepseek-v3", "--json").stdout)["type"] == (
        "chat"
    )
    assert invoke("models", "show", "a4f/no-such-model").code == 2


def test_models_show_tells_everything_about_one_model(invoke):
    done = invoke("models", "show", "fake/b")
    assert done.code == 0
    text = done.stdout
    assert text.splitlines()[0] == "fake/basic"
    for fact in ("negative prompt", "1-50 (default 9)", "IMAGEGATE_FAKE_TOKEN", "fk:", "optional"):
        assert fact in text


def test_models_show_json_and_token_source_without_the_token(invoke, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_FAKE_TOKEN", "tok-abcdefgh")
    done = invoke("models", "show", "fake/plain", "--json")
    document = json.loads(done.stdout)
    assert document["full_id"] == "fake/plain"
    assert document["token"] == {"configured": True, "source": "env:IMAGEGATE_FAKE_TOKEN"}
    assert "tok-abcdefgh" not in done.stdout


def test_models_show_unknown_model_exits_2(invoke):
    done = invoke("models", "show", "fake/nope")
    assert done.code == 2 and "unknown model" in done.stderr


def test_providers_show_plugin_auth_and_token_source_never_the_token(invoke, monkeypatch):
    monkeypatch.setenv("IMAGEGATE_FAKE_TOKEN", "tok-abcdefgh,tok-ijklmnop")
    done = invoke("providers")
    assert done.code == 0
    assert "fake (Fake)" in done.stdout
    assert "2 tokens from env:IMAGEGATE_FAKE_TOKEN" in done.stdout
    assert "token prefix fk:" in done.stdout
    assert "tok-" not in done.stdout


def test_providers_hint_lists_first_party_plugins_not_installed(invoke):
    done = invoke("providers")
    assert (
        "pip install imagegate-a4f imagegate-gitee imagegate-huggingface imagegate-modelscope"
        in done.stdout
    )


def test_providers_json(invoke):
    document = json.loads(invoke("providers", "--json").stdout)
    [fake] = document["providers"]
    assert fake["id"] == "fake" and fake["auth_prefix"] == "fk"
    assert fake["token_configured"] is False and fake["model_count"] == 2
    assert "imagegate-gitee" in document["not_installed"]


def test_keys_set_from_stdin_then_list_and_use(invoke):
    done = invoke("keys", "set", "fk", input="tok-abcdefgh, tok-ijklmnop\n")
    assert done.code == 0, done.stderr
    assert "tok-" not in done.stdout + done.stderr
    assert read_keys() == {"fake": ["tok-abcdefgh", "tok-ijklmnop"]}
    assert stat.S_IMODE(keys_path().stat().st_mode) == 0o600
    listed = invoke("keys", "list")
    assert listed.stdout.splitlines()[1].split() == ["fake", "2", "keys", "file"]
    assert "tok-" not in listed.stdout
    assert "2 tokens from keys file" in invoke("providers").stdout


def test_keys_set_accepts_first_party_providers_not_installed(invoke):
    assert invoke("keys", "set", "ms", input="ms-0123456789\n").code == 0
    assert read_keys() == {"modelscope": ["ms-0123456789"]}


def test_keys_set_unknown_provider_exits_2(invoke):
    done = invoke("keys", "set", "nope", input="tok-abcdefgh\n")
    assert done.code == 2 and "unknown provider" in done.stderr
    assert read_keys() == {}


def test_keys_set_without_token_exits_2(invoke):
    assert invoke("keys", "set", "fake", input="\n").code == 2


def test_keys_list_shows_environment_tokens_and_which_wins(invoke, monkeypatch):
    invoke("keys", "set", "fake", input="tok-abcdefgh\n")
    monkeypatch.setenv("IMAGEGATE_FAKE_TOKEN", "tok-env-12345678")
    listed = invoke("keys", "list").stdout
    assert "env:IMAGEGATE_FAKE_TOKEN" in listed and "the environment wins" in listed
    assert "tok-" not in listed


def test_keys_remove_and_path(invoke):
    invoke("keys", "set", "fake", input="tok-abcdefgh\n")
    assert invoke("keys", "remove", "fk").code == 0
    assert read_keys() == {}
    again = invoke("keys", "remove", "fake")
    assert again.code == 2 and "no stored token" in again.stderr
    assert invoke("keys", "path").stdout.strip() == str(keys_path())


def test_keys_list_empty(invoke):
    done = invoke("keys", "list")
    assert done.code == 0 and done.stdout == "" and "keys set" in done.stderr


def test_serve_passes_its_options_to_the_server(invoke, monkeypatch):
    import imagegate.server

    seen = {}
    monkeypatch.setattr(imagegate.server, "serve", lambda **kwargs: seen.update(kwargs))
    done = invoke(
        "serve", "--port", "9123", "--api-key", "k-123456789", "--workers", "2",
        "--timeout", "60", "--max-body", "128KB", "--max-image-bytes", "10MB",
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert seen == {
        "host": "127.0.0.1",
        "port": 9123,
        "api_key": "k-123456789",
        "workers": 2,
        "timeout": 60.0,
        "max_body": 128 * 1024,
        "max_image_bytes": 10 * 1024 * 1024,
    }


def test_serve_without_the_server_extra_gives_the_install_hint(invoke, monkeypatch):
    for name in [m for m in sys.modules if m.startswith("imagegate.server")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    done = invoke("serve")
    assert done.code == 2
    assert done.stderr.splitlines() == [
        "error: the server needs the `server` extra: pip install 'imagegate[server]'"
    ]


@pytest.mark.parametrize("args", [["generate", "--help"], ["models", "--help"], ["keys", "--help"]])
def test_subcommand_help(invoke, args):
    done = invoke(*args)
    assert done.code == 0 and "Usage: imagegate" in done.stdout


def test_a_group_without_subcommand_shows_its_help(invoke):
    done = invoke("keys")
    assert done.code in (0, 2)  # click 8.1 exits 0, 8.2+ exits 2
    assert "Usage: imagegate keys" in done.stdout + done.stderr
    assert "error:" not in done.stderr


def test_serve_takes_several_rate_limit_windows(invoke, monkeypatch):
    import imagegate.server

    seen = {}
    monkeypatch.setattr(imagegate.server, "serve", lambda **kwargs: seen.update(kwargs))
    done = invoke("serve", "--rate-limit", "10/second", "--rate-limit", "1000/hour")
    assert done.code == 0, done.stderr
    assert seen["rate_limits"] == ["10/second", "1000/hour"]


def test_serve_passes_max_jobs_and_refuses_less_than_one(invoke, monkeypatch):
    import imagegate.server

    seen = {}
    monkeypatch.setattr(imagegate.server, "serve", lambda **kwargs: seen.update(kwargs))
    assert invoke("serve", "--max-jobs", "4").code == 0
    assert seen["max_jobs"] == 4
    refused = invoke("serve", "--max-jobs", "0")
    assert refused.code == 2
    assert "--max-jobs" in refused.stderr


def test_serve_refuses_a_rate_limit_it_cannot_read(invoke, monkeypatch):
    import imagegate.server

    monkeypatch.setattr(imagegate.server, "serve", lambda **kwargs: None)
    done = invoke("serve", "--rate-limit", "60/fortnight")
    assert done.code == 2
    assert "--rate-limit" in done.stderr and "60/minute" in done.stderr
