"""uvicorn's httptools protocol, refusing request headers past `MAX_HEADER_BYTES` with 431.

httptools keeps every header it parses, however large, before the app sees the request:
without this a 1 MB header is read into memory and accepted. Counting in the parser's own
callbacks stops it at the cap. Used by `imagegate serve` (`limits.http_protocol`).
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .limits import HEADERS_TOO_LARGE, MAX_HEADER_BYTES

__all__ = ["BoundedHttpTools"]


class BoundedHttpTools(HttpToolsProtocol):
    _header_bytes = 0
    _too_large = False

    def on_message_begin(self) -> None:
        self._header_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > MAX_HEADER_BYTES:
            self._too_large = True
            raise ValueError("request headers too large")  # httptools stops parsing

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error; ours says what was wrong."""
        if not self._too_large:
            super().send_400_response(msg)
            return
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(HEADERS_TOO_LARGE)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + HEADERS_TOO_LARGE
        )
        self.transport.close()
