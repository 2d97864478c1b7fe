"""What a `FakeUpstream` answers (`Answer`, built with its class methods) and what it
received (`Received`)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeAlias

from .images import png

if TYPE_CHECKING:
    from collections.abc import Callable

    from .fake import FakeUpstream

__all__ = ["Answer", "Received"]


@dataclass(frozen=True)
class Received:
    """One request as the upstream received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def token(self) -> str | None:
        """The token of an `Authorization: Bearer <token>` header."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        return (token.strip() or None) if scheme.lower() == "bearer" else None


Body: TypeAlias = "bytes | Callable[[Received, FakeUpstream], bytes]"


@dataclass(frozen=True)
class Answer:
    """One scripted answer: status, body (bytes, or made from the request), headers, and a
    delay before it is sent. Build them with the class methods."""

    status: int = 200
    body: Body = b""
    content_type: str = "application/octet-stream"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (a slow upstream)."""
    size: int | None = None
    """Stream a body of this many bytes instead of `body` (an oversized image)."""

    def after(self, seconds: float) -> Answer:
        """This answer, sent `seconds` late."""
        return replace(self, delay=seconds)

    @classmethod
    def image(cls, width: int = 64, height: int = 64, shade: int = 0) -> Answer:
        """200 with a complete PNG (the bytes of a provider that answers with the image)."""
        return cls(body=png(width, height, shade), content_type="image/png")

    @classmethod
    def json(
        cls, document: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Answer:
        return cls(
            status=status,
            body=json.dumps(document).encode(),
            content_type="application/json",
            headers=dict(headers or {}),
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        retry_after: float | str | None = None,
        code: str | None = None,
    ) -> Answer:
        """An error in the OpenAI envelope, `{"error": {"message", "type", "code"}}`.

        `{token}` in `message` is replaced by the request's bearer token, as services that
        quote the key they refused do; a plugin must not pass it on."""
        text = message or f"HTTP {status}"

        def body(received: Received, upstream: FakeUpstream) -> bytes:
            said = text.replace("{token}", received.token or "")
            error = {"message": said, "type": "error", "code": code or str(status)}
            return json.dumps({"error": error}).encode()

        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return cls(status=status, body=body, content_type="application/json", headers=headers)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Answer:
        return cls(status=status, body=text.encode(), content_type=content_type)

    @classmethod
    def malformed(cls) -> Answer:
        """200 with an HTML page where an image or JSON was due (a proxy, a login wall)."""
        page = "<html><body><h1>Service temporarily unavailable</h1></body></html>"
        return cls.text(page, content_type="text/html; charset=utf-8")

    @classmethod
    def truncated_json(cls) -> Answer:
        """200 with JSON cut off mid-way."""
        return cls(body=b'{"created": 1, "data": [{"url": "ht', content_type="application/json")

    @classmethod
    def truncated_image(cls, width: int = 64, height: int = 64) -> Answer:
        """200 with the first half of a PNG."""
        data = png(width, height)
        return cls(body=data[: len(data) // 2], content_type="image/png")

    @classmethod
    def oversized(cls, size: int = 64 * 1024 * 1024) -> Answer:
        """200 with a PNG-looking body of `size` bytes, streamed (nothing that big is kept)."""
        return cls(body=png(1, 1)[:16], content_type="image/png", size=size)

    @classmethod
    def openai_images(cls, n: int = 1, response_format: str = "url") -> Answer:
        """The OpenAI images answer `{"created", "data": [{"url"} | {"b64_json"}]}` with `n`
        PNGs; URLs point at this upstream's `/_files/`."""

        def body(received: Received, upstream: FakeUpstream) -> bytes:
            items = []
            for index in range(n):
                data = png(64, 64, index)
                if response_format == "b64_json":
                    items.append({"b64_json": base64.b64encode(data).decode()})
                else:
                    items.append({"url": upstream.store(data)})
            return json.dumps({"created": int(time.time()), "data": items}).encode()

        return cls(body=body, content_type="application/json")
