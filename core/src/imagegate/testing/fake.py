"""A scripted stand-in for a provider's service, on a loopback port, for plugin tests.

    with FakeUpstream() as upstream:
        upstream.answer(Answer.error(429, "slow down", retry_after=7))  # the next request
        upstream.always(Answer.image(512, 512))                          # every later one
        ... point the plugin at upstream.url ...
        assert upstream.requests[0].query["width"] == "512"

Every path answers with the next queued `Answer`, else the standing one (a PNG at first);
`/_files/<name>` serves what `store` keeps, so an answer can carry image URLs. It is the
standard library's threading HTTP server: no dependency, and a delayed answer ends at once
when the upstream stops, so a test never waits for it.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .answers import Answer, Received

__all__ = ["Answer", "FakeUpstream", "Received"]

FILES = "/_files/"


class FakeUpstream:
    """A scripted HTTP service on 127.0.0.1 (a free port); use as a context manager."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Answer] = deque()
        self._standing = Answer.image()
        self._files: dict[str, tuple[bytes, str]] = {}
        self._names = itertools.count(1)
        self.requests: list[Received] = []
        """Every request received, files excepted, oldest first."""
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._server = _Server((host, port), _Handler)
        self._server.upstream = self
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeUpstream:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed answers still waiting end at once without an answer."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the script ---------------------------------------------------------------------

    def answer(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order (then the standing answer)."""
        with self._lock:
            self._queue.extend(answers)

    def always(self, answer: Answer) -> None:
        """The answer for every request once the queued ones are used up."""
        with self._lock:
            self._standing = answer

    def reset(self) -> None:
        """Forget the script and the requests; answer PNGs again."""
        with self._lock:
            self._queue.clear()
            self._standing = Answer.image()
            self.requests.clear()

    def release(self) -> None:
        """Send the delayed answers now waiting at once (later ones wait as scripted)."""
        with self._lock:
            wake, self._wake = self._wake, threading.Event()
        wake.set()

    def store(self, data: bytes, content_type: str = "image/png") -> str:
        """Keep `data` to serve; returns its URL on this upstream."""
        with self._lock:
            name = f"file{next(self._names):05d}"
            self._files[name] = (data, content_type)
        return f"{self.url}{FILES}{name}"

    def wait_for_requests(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Whether `count` requests arrived within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return True
            time.sleep(0.01)
        return len(self.requests) >= count

    # -- used by the handler ------------------------------------------------------------

    def _next(self, received: Received) -> Answer:
        with self._lock:
            if received.path.startswith(FILES):
                found = self._files.get(received.path[len(FILES) :])
                if found is None:
                    return Answer.error(404, "no such file")
                return Answer(body=found[0], content_type=found[1])
            self.requests.append(received)
            return self._queue.popleft() if self._queue else self._standing


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    upstream: FakeUpstream


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the shared client's pool expects
    disable_nagle_algorithm = True  # else headers and body wait ~40 ms for a delayed ACK
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        pass

    def _serve(self) -> None:
        upstream = self.server.upstream
        parts = urlsplit(self.path)
        received = Received(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._read_body(),
        )
        answer, wake = upstream._next(received), upstream._wake
        if answer.delay:
            wake.wait(answer.delay)
        if upstream._stopping.is_set():
            self.close_connection = True
            return
        body = answer.body(received, upstream) if callable(answer.body) else answer.body
        length = answer.size if answer.size is not None else len(body)
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(length))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command == "HEAD":
                return
            self.wfile.write(body[:length])
            left = length - len(body)
            block = bytes(64 * 1024)
            while left > 0 and not upstream._stopping.is_set():
                self.wfile.write(block[:left])
                left -= len(block)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up: fine
            self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""
