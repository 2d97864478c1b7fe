"""Run an ASGI app with uvicorn on a free loopback port in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

__all__ = ["ServerThread"]


class ServerThread:
    """`start()` binds 127.0.0.1 on a port the OS picks; `stop()` shuts down and joins."""

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any
    ) -> None:
        """`uvicorn_options` go to `uvicorn.Config` (benchmarks compare `loop="asyncio"`
        with `"uvloop"`, `http="h11"` with `"httptools"`; uvicorn's "auto" picks the latter
        when installed)."""
        import uvicorn

        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
        # and without it every answer waits ~40 ms for a delayed ACK (uvloop sets it anyway)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        options = {"log_level": "warning", "access_log": False, "lifespan": "auto"}
        config = uvicorn.Config(app, **{**options, **uvicorn_options})
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"emulator server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()
