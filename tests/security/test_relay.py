"""Nobody's keys are relayed: an anonymous HuggingFace call sends no token (not HF_TOKEN, not
the hub's saved login), an open server refuses a public address while such tokens are on
the machine, and the plugin trace never prints a token."""

from __future__ import annotations

import threading

import openai
import pytest

import imagegate
import imagegate_huggingface
from imagegate_huggingface import runner
from tests.emulators.control import VALID_TOKEN

from .conftest import free_port, run_command

OWNER_ENV_TOKEN = "hf_owner_env_secret_0001"
OWNER_LOGIN_TOKEN = "hf_owner_login_secret_0002"


def hub_login(tmp_path) -> str:
    """A saved `hf auth login`: $HF_HOME/token."""
    home = tmp_path / "hf-home"
    home.mkdir(exist_ok=True)
    (home / "token").write_text(OWNER_LOGIN_TOKEN + "\n")
    return str(home)


@pytest.fixture
def logged_in(tmp_path, monkeypatch) -> None:
    """This process logged in to the hub (huggingface_hub reads HF_HOME once, on import)."""
    import huggingface_hub.constants

    home = hub_login(tmp_path)
    monkeypatch.setenv("HF_HOME", home)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", f"{home}/token")


def sent_tokens(emulator) -> list[str]:
    """Every x-hf-authorization the Spaces received (config, queue join, cancel)."""
    return [
        r.headers["x-hf-authorization"]
        for r in emulator.requests
        if "x-hf-authorization" in r.headers
    ]


def test_an_anonymous_library_call_sends_neither_hf_token_nor_the_hub_login(
    spaces_emulator, monkeypatch, logged_in
):
    monkeypatch.setenv("HF_TOKEN", OWNER_ENV_TOKEN)
    with imagegate.Gate(
        plugins=[imagegate_huggingface],
        base_urls={"huggingface": spaces_emulator.base_url},
        use_stored_tokens=False,
    ) as gate:
        assert gate.generate("a cat", model="hf/z-image-turbo", size="512x512").images
    assert [r for r in spaces_emulator.requests if r.method == "CALL"]
    assert sent_tokens(spaces_emulator) == []


def test_stored_tokens_allowed_hf_token_is_used_and_the_hub_login_is_not(
    spaces_emulator, monkeypatch, logged_in
):
    with imagegate.Gate(
        plugins=[imagegate_huggingface], base_urls={"huggingface": spaces_emulator.base_url}
    ) as gate:
        gate.generate("a cat", model="hf/z-image-turbo", size="512x512")
        assert sent_tokens(spaces_emulator) == []  # imagegate reads HF_TOKEN, not the login
        spaces_emulator.reset()
        monkeypatch.setenv("HF_TOKEN", VALID_TOKEN)
        gate.generate("a cat", model="hf/z-image-turbo", size="512x512")
    assert set(sent_tokens(spaces_emulator)) == {f"Bearer {VALID_TOKEN}"}


def test_an_open_server_serves_anonymous_hf_calls_without_the_owner_tokens(
    serve, spaces_emulator, tmp_path
):
    served = serve(
        IMAGEGATE_HUGGINGFACE_BASE_URL=spaces_emulator.base_url,
        HF_TOKEN=OWNER_ENV_TOKEN,
        HF_HOME=hub_login(tmp_path),
    )
    client = openai.OpenAI(base_url=f"{served.url}/v1", api_key="hf:", max_retries=0, timeout=60)
    answer = client.images.generate(
        model="hf/z-image-turbo", prompt="a cat", size="512x512", response_format="b64_json"
    )
    assert answer.data[0].b64_json
    assert [r for r in spaces_emulator.requests if r.method == "CALL"]
    assert sent_tokens(spaces_emulator) == []
    everything = repr([(r.headers, r.body) for r in spaces_emulator.requests])
    assert OWNER_ENV_TOKEN not in everything and OWNER_LOGIN_TOKEN not in everything


@pytest.mark.parametrize("holding", ["HF_TOKEN", "hub login", "HF_TOKEN_PATH"])
def test_a_public_address_is_refused_while_the_machine_holds_a_hf_token(tmp_path, holding):
    env = {"HF_TOKEN": OWNER_ENV_TOKEN} if holding == "HF_TOKEN" else {}
    if holding == "hub login":
        env["HF_HOME"] = hub_login(tmp_path)
    if holding == "HF_TOKEN_PATH":
        path = tmp_path / "elsewhere-token"
        path.write_text(OWNER_LOGIN_TOKEN)
        env["HF_TOKEN_PATH"] = str(path)
    done = run_command(tmp_path, "serve", "--host", "0.0.0.0", "--port", str(free_port()), **env)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: refusing to listen on 0.0.0.0 without an API key")
    assert "huggingface" in line
    assert OWNER_ENV_TOKEN not in done.stderr and OWNER_LOGIN_TOKEN not in done.stderr


def test_the_plugin_trace_never_prints_a_token(tmp_path):
    done = run_command(
        tmp_path,
        "generate",
        "a cat",
        "-m",
        "fake/basic",
        "--token",
        "fk:traced-secret-0003",
        "-o",
        str(tmp_path / "out") + "/",
        IMAGEGATE_LOAD_PLUGINS="",
        IMAGEGATE_PLUGINS="tests.fakes:plugin",
        IMAGEGATE_TRACE_PLUGINS="1",
    )
    assert done.returncode == 0, done.stderr
    assert "hook generate(" in done.stderr and "token=<redacted>" in done.stderr
    assert "traced-secret-0003" not in done.stderr + done.stdout


def client_threads() -> int:
    """Threads of gradio_client Clients' pools (the emulator's own are AnyIO workers)."""
    return sum(t.name.startswith("ThreadPoolExecutor-") for t in threading.enumerate())


def test_the_space_client_cache_is_bounded_and_closes_what_it_drops(spaces_emulator, monkeypatch):
    """One gradio_client Client per caller token forever would be ~4 threads a caller."""
    monkeypatch.setattr(runner, "MAX_CLIENTS", 2)
    with imagegate.Gate(
        plugins=[imagegate_huggingface],
        base_urls={"huggingface": spaces_emulator.base_url},
        use_stored_tokens=False,
    ) as gate:

        def call(number: int) -> None:
            token = f"hf:caller-token-{number:04d}"
            gate.generate("a cat", model="hf/z-image-turbo", size="512x512", token=token)

        call(0), call(1)
        for _ in range(100):  # Clients of earlier tests, evicted now, close in threads
            if client_threads() <= 2 * 4:
                break
            threading.Event().wait(0.1)
        full = client_threads()  # two Clients' threads
        for number in range(2, 8):
            call(number)
        for _ in range(100):
            if client_threads() <= full:
                break
            threading.Event().wait(0.1)
        assert client_threads() <= full
    assert len(runner._clients) <= 2
    assert not any("caller-token" in repr(key) for key in runner._clients)  # digests only
