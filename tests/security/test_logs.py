"""The server's log: no caller can forge a line or flood one, and a client that leaves
mid-upload is a 499, not a server failure. Read from a real `imagegate serve`'s output."""

from __future__ import annotations

import socket

import httpx

FAKE = {"IMAGEGATE_LOAD_PLUGINS": "", "IMAGEGATE_PLUGINS": "tests.fakes:plugin"}


def request_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "request_id=" in line and "/health" not in line]


def test_control_characters_are_escaped_and_long_fields_capped(serve):
    served = serve(**FAKE)
    forged = "fake/basic\nINFO:     POST /v1/images/generations model=x status=200 forged"
    httpx.post(f"{served.url}/v1/images/generations", json={"prompt": "a", "model": forged})
    httpx.get(f"{served.url}/v1/models/%0d%0aINFO:%20forged%20line")
    httpx.post(f"{served.url}/v1/images/generations", json={"prompt": "a", "model": "m" * 5000})
    output = served.stop()
    for line in output.splitlines():  # no line the caller wrote
        assert not line.startswith(
            ("INFO:     POST /v1/images/generations model=x", "INFO: forged")
        )
    lines = request_lines(output)
    assert len(lines) == 3
    assert "model=fake/basic\\x0aINFO:" in lines[0]
    assert "/v1/models/\\x0d\\x0aINFO: forged line" in lines[1]
    assert "m" * 97 + "..." in lines[2] and "m" * 101 not in lines[2]


def test_a_client_that_leaves_during_its_upload_is_logged_499(serve):
    served = serve(**FAKE)
    host, port = served.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(
            b"POST /v1/images/generations HTTP/1.1\r\nhost: x\r\n"
            b"content-type: application/json\r\ncontent-length: 5000\r\n\r\n"
            b'{"prompt": "a cat", "model": '
        )
    assert httpx.get(f"{served.url}/health").status_code == 200
    output = served.stop()
    (line,) = [line for line in request_lines(output) if "/v1/images/generations" in line]
    assert "status=499" in line
    assert "status=500" not in output and "ERROR" not in output and "failed" not in output


def test_a_caller_that_stalls_mid_body_gets_a_408(monkeypatch):
    import imagegate
    from imagegate.server import create_app, limits
    from tests.emulators.server import ServerThread
    from tests.fakes import FakePlugin

    monkeypatch.setattr(limits, "BODY_SECONDS", 0.3)
    gate = imagegate.Gate(plugins=[FakePlugin()], use_stored_tokens=False)
    server = ServerThread(create_app(gate)).start()
    try:
        with socket.create_connection((server.host, server.port), timeout=30) as connection:
            connection.sendall(
                b"POST /v1/images/generations HTTP/1.1\r\nhost: x\r\n"
                b"content-type: application/json\r\ncontent-length: 5000\r\n\r\n{"
            )
            answer = connection.recv(65536)
    finally:
        server.stop()
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"BODY_TIMEOUT"' in answer


def test_lines_keep_uvicorns_shape_and_each_request_has_its_own_id(serve):
    """`imagegate serve` formats its lines itself (without uvicorn's copy of each record):
    the same `LEVEL:    message` lines as uvicorn's own, and distinct 16-digit ids."""
    import re

    served = serve(**FAKE)
    answers = [
        httpx.post(
            f"{served.url}/v1/images/generations", json={"prompt": "a cat", "model": "fake/basic"}
        )
        for _ in range(2)
    ]
    output = served.stop()
    ids = [answer.headers["x-request-id"] for answer in answers]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids) and ids[0] != ids[1]
    lines = [line for line in output.splitlines() if line.strip()]
    assert "INFO:     Application startup complete." in lines
    for request_id in ids:
        (line,) = [line for line in lines if f"request_id={request_id}" in line]
        assert line.startswith("INFO:     POST /v1/images/generations model=fake/basic ")
        assert " status=200 " in line
