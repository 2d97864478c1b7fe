"""Nothing accepted without a bound: tokens per request and their characters, header and
body sizes, content types, timeouts, and how `imagegate serve` refuses to start."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Iterator

import httpx
import openai
import pytest

import imagegate
from imagegate.errors import InvalidRequest
from imagegate.server import create_app
from tests.emulators.server import ServerThread
from tests.fakes import FakePlugin

from .conftest import free_port, run_command

GOOD = {"model": "fake/basic", "prompt": "a cute cat"}
RULE = "a token is printable ASCII, without spaces or control characters"


@pytest.fixture
def fake() -> FakePlugin:
    return FakePlugin()


@pytest.fixture
def server(fake) -> Iterator[str]:
    """An open server (no api key) on a real socket, the fake provider behind it."""
    gate = imagegate.Gate(plugins=[fake], use_stored_tokens=False, retries=0)
    running = ServerThread(create_app(gate)).start()
    yield running.url
    running.stop()


def generate(url: str, **options) -> httpx.Response:
    return httpx.post(f"{url}/v1/images/generations", json=GOOD, timeout=30, **options)


# -- tokens -------------------------------------------------------------------------------


def test_at_most_16_tokens_per_request(server, fake):
    many = ",".join(f"fk:caller-token-{n:04d}" for n in range(17))
    client = openai.OpenAI(base_url=f"{server}/v1", api_key=many, max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        client.images.generate(model="fake/basic", prompt="a cat")
    assert caught.value.body["message"] == "at most 16 tokens per request (got 17)"
    assert caught.value.body["param"] == "authorization"
    assert fake.calls == []
    sixteen = ",".join(f"fk:caller-token-{n:04d}" for n in range(16))
    client = openai.OpenAI(base_url=f"{server}/v1", api_key=sixteen, max_retries=0)
    assert client.images.generate(model="fake/basic", prompt="a cat").data


@pytest.mark.parametrize(
    "header",
    [
        "Bearer fk:t\xf6ken-1234".encode(),  # a UTF-8 token
        b"Bearer fk:tok\ten-1234",  # a tab inside
        b"Bearer fk:tok en-1234",  # a space inside
    ],
)
def test_a_token_an_http_header_cannot_carry_is_a_400_naming_the_rule(server, fake, header):
    response = generate(server, headers={"authorization": header})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["message"] == f"the token has a character it may not have: {RULE}"
    assert error["param"] == "authorization" and "en-1234" not in response.text
    assert fake.calls == []


def test_the_library_and_the_cli_name_the_rule_too(tmp_path):
    with imagegate.Gate(plugins=[FakePlugin()]) as gate:
        with pytest.raises(InvalidRequest, match="printable ASCII"):
            gate.generate("a cat", model="fake/basic", token="fk:tök-1234")
    common = {"IMAGEGATE_LOAD_PLUGINS": "", "IMAGEGATE_PLUGINS": "tests.fakes:plugin"}
    done = run_command(
        tmp_path, "generate", "a cat", "-m", "fake/basic", "--token", "fk:tök-1234", **common
    )
    assert done.returncode == 2 and RULE in done.stderr and "tök" not in done.stderr
    stored = run_command(
        tmp_path,
        "generate",
        "a cat",
        "-m",
        "fake/basic",
        **common,
        IMAGEGATE_FAKE_TOKEN="bad token",
    )
    assert stored.returncode == 2
    assert "IMAGEGATE_FAKE_TOKEN" in stored.stderr and "bad token" not in stored.stderr


def test_keys_set_refuses_a_token_that_breaks_the_rule(tmp_path):
    done = subprocess_keys_set(tmp_path, "t\u00f6ken-1234\n")
    assert done.returncode == 2
    assert RULE in done.stderr and "nothing was stored" in done.stderr
    assert not (tmp_path / "imagegate" / "keys.json").exists()


def subprocess_keys_set(home, stdin: str):
    import subprocess
    import sys

    from .conftest import environment

    return subprocess.run(
        [sys.executable, "-m", "imagegate", "keys", "set", "gitee"],
        input=stdin,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- headers, bodies, content types, CORS -------------------------------------------------


def raw_request(url: str, head: bytes) -> bytes:
    """Send `head` on a fresh connection; everything the server answers."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(head)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_serve_refuses_oversized_headers_while_parsing(serve):
    served = serve()
    big = b"x-filler: " + b"a" * 40_000 + b"\r\n"
    answer = raw_request(served.url, b"GET /health HTTP/1.1\r\nhost: x\r\n" + big + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b'"HEADERS_TOO_LARGE"' in answer
    assert httpx.get(f"{served.url}/health").status_code == 200


def test_any_asgi_server_refuses_a_1_mb_header(server):
    response = generate(server, headers={"authorization": "Bearer fk:" + "a" * 1_000_000})
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "HEADERS_TOO_LARGE"


def test_a_body_that_is_not_json_is_refused_so_no_web_page_can_post_one(server, fake):
    """text/plain needs no CORS preflight: any page the owner visits could send it."""
    response = httpx.post(
        f"{server}/v1/images/generations",
        content=b'{"prompt": "a cat", "model": "fake/basic"}',
        headers={"content-type": "text/plain", "origin": "https://evil.example"},
    )
    assert response.status_code == 415
    assert "access-control-allow-origin" not in response.headers
    assert fake.calls == []


def test_no_cors_answer_unless_configured(server):
    preflight = httpx.options(
        f"{server}/v1/images/generations",
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    answer = generate(server, headers={"origin": "https://evil.example"})
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


def test_a_body_over_the_limit_is_a_413(server, fake):
    response = httpx.post(
        f"{server}/v1/images/generations", json={**GOOD, "user": "x" * 70_000}, timeout=30
    )
    assert response.status_code == 413
    assert fake.calls == []


def test_serve_takes_its_body_limit_and_timeout_from_flags(serve):
    served = serve(
        "--max-body",
        "1KB",
        "--timeout",
        "30",
        IMAGEGATE_LOAD_PLUGINS="",
        IMAGEGATE_PLUGINS="tests.fakes:plugin",
    )
    small = httpx.post(f"{served.url}/v1/images/generations", json={**GOOD, "user": "x" * 100})
    assert small.status_code == 200, small.text
    large = httpx.post(f"{served.url}/v1/images/generations", json={**GOOD, "user": "x" * 2000})
    assert large.status_code == 413


def test_fields_the_current_openai_sdk_sends_are_warnings_not_errors(server):
    client = openai.OpenAI(base_url=f"{server}/v1", api_key="fk:caller-token-1", max_retries=0)
    raw = client.images.with_raw_response.generate(
        model="fake/basic", prompt="a cat", safety_identifier="user-1234"
    )
    warnings = raw.http_response.json()["warnings"]
    assert any("safety_identifier" in w for w in warnings)


# -- timeouts -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -5, math.inf, math.nan, "300", True])
def test_a_timeout_is_positive_and_finite_in_the_library(value):
    with pytest.raises(ValueError, match="timeout"):
        imagegate.Gate(timeout=value)
    with pytest.raises(ValueError, match="timeout"):
        create_app(imagegate.Gate(plugins=[FakePlugin()]), timeout=value)
    gate = imagegate.Gate(plugins=[FakePlugin()])
    with pytest.raises(ValueError, match="timeout"):
        asyncio.run(gate.agenerate("a cat", model="fake/basic", timeout=value))


@pytest.mark.parametrize("value", ["0", "-5", "inf", "nan", "soon"])
def test_a_timeout_is_positive_and_finite_in_the_cli(tmp_path, value):
    common = {"IMAGEGATE_LOAD_PLUGINS": "", "IMAGEGATE_PLUGINS": "tests.fakes:plugin"}
    for command in (
        ["generate", "a cat", "-m", "fake/basic"],
        ["serve", "--port", str(free_port())],
    ):
        done = run_command(tmp_path, *command, f"--timeout={value}", **common)
        assert done.returncode == 2, done.stderr
        assert "not a positive, finite number of seconds" in done.stderr
        assert "Traceback" not in done.stderr


# -- imagegate serve refusing to start ----------------------------------------------------


def test_a_port_in_use_is_exit_2_with_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_command(tmp_path, "serve", "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: address already in use"
    ]


@pytest.mark.parametrize("args", [["--port", "99999"], ["--port", "0"], ["--workers", "0"]])
def test_impossible_serve_options_are_usage_errors(tmp_path, args):
    done = run_command(tmp_path, "serve", *args)
    assert done.returncode == 2
    assert "Invalid value" in done.stderr and "Traceback" not in done.stderr


def test_stored_tokens_on_a_public_address_is_exit_2_with_one_line(tmp_path):
    done = run_command(
        tmp_path,
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        IMAGEGATE_GITEE_TOKEN="stored-secret-1",
    )
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: refusing to listen on 0.0.0.0 without an API key")
    assert "stored-secret-1" not in done.stderr


def test_python_m_imagegate_runs_the_command(tmp_path):
    done = run_command(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout.startswith("imagegate")
