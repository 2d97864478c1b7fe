"""A hostile upstream made for the security tests: an A4F-like image API whose answers and
image links try to make the gateway fetch what it must not.

`POST /v1/images/generations` answers with whatever `script` holds next: an image link
(`{"url": ...}`), a redirect of the POST itself (`{"status": 307, "location": ...}`), or
base64 bytes (`{"b64": ...}`). Image routes: `/img/ok.png` (a real PNG), `/to?url=X`
(302 to X), `/hop/<n>` (n more redirects on this host, then the PNG), `/endless` (a PNG
header and zeros without end, chunked), `/declared` (declares a huge Content-Length),
`/bomb` (a gzip body that inflates to `BOMB_SIZE`). Every request is recorded in `hits`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import zlib
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.emulators.server import ServerThread
from tests.fakes import png_bytes

__all__ = ["BOMB_SIZE", "PNG", "Hostile", "start"]

PNG = png_bytes(16, 16, 3)
BOMB_SIZE = 8 * 1024 * 1024
ENDLESS = 256 * 1024 * 1024
CHUNK = 64 * 1024


class Hostile:
    """The running upstream: its URL, what it received, what it answers next."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, str]] = []
        self.script: list[dict[str, Any]] = []
        self.server: ServerThread | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def reset(self) -> None:
        self.hits.clear()
        self.script.clear()

    def app(self) -> Starlette:
        async def generations(request: Request) -> Response:
            self.hits.append(("POST", request.url.path))
            answer = self.script.pop(0) if self.script else {"url": f"{self.url}/img/ok.png"}
            if "status" in answer:
                return Response(
                    status_code=answer["status"], headers={"location": answer["location"]}
                )
            item = {"b64_json": answer["b64"]} if "b64" in answer else {"url": answer["url"]}
            return Response(
                json.dumps({"created": 1, "data": [item]}), media_type="application/json"
            )

        async def anything(request: Request) -> Response:
            self.hits.append((request.method, request.url.path))
            return Response("collected")

        async def image(request: Request) -> Response:
            self.hits.append(("GET", request.url.path))
            return Response(PNG, media_type="image/png")

        async def to(request: Request) -> Response:
            self.hits.append(("GET", request.url.path))
            return RedirectResponse(request.query_params["url"], status_code=302)

        async def hop(request: Request) -> Response:
            self.hits.append(("GET", request.url.path))
            left = int(request.path_params["left"])
            target = f"/hop/{left - 1}" if left > 0 else "/img/ok.png"
            return RedirectResponse(target, status_code=302)

        async def endless(request: Request) -> Response:
            self.hits.append(("GET", request.url.path))
            return StreamingResponse(_zeros(), media_type="image/png")

        async def declared(request: Request) -> Response:
            self.hits.append(("GET", request.url.path))
            headers = {"content-length": str(700 * 1024 * 1024)}
            return StreamingResponse(_zeros(), media_type="image/png", headers=headers)

        async def bomb(request: Request) -> Response:
            self.hits.append(("GET", request.url.path))
            return Response(_bomb(), media_type="image/png", headers={"content-encoding": "gzip"})

        return Starlette(
            routes=[
                Route("/v1/images/generations", generations, methods=["POST"]),
                Route("/collect", anything, methods=["GET", "POST"]),
                Route("/img/ok.png", image),
                Route("/to", to),
                Route("/hop/{left}", hop),
                Route("/endless", endless),
                Route("/declared", declared),
                Route("/bomb", bomb),
            ]
        )


async def _zeros():
    """A PNG header, then zeros far past any cap a test sets (bounded all the same: once
    the reader has gone, uvicorn's `send` returns at once, and an endless loop would
    never give the event loop back)."""
    yield PNG[:64]
    for _ in range(ENDLESS // CHUNK):
        await asyncio.sleep(0)
        yield b"\0" * CHUNK


_bombs: list[bytes] = []


def _bomb() -> bytes:
    """A PNG header and BOMB_SIZE zeros, gzip-compressed to a few KB (made once)."""
    if not _bombs:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
        parts = [packer.compress(PNG[:64])]
        parts += [packer.compress(b"\0" * CHUNK) for _ in range(BOMB_SIZE // CHUNK)]
        _bombs.append(b"".join([*parts, packer.flush()]))
    return _bombs[0]


def start() -> Hostile:
    hostile = Hostile()
    hostile.server = ServerThread(hostile.app()).start()
    return hostile


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
