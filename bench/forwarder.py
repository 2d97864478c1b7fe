"""The plain-Python reference for the server benchmark: the least a gateway can do.

    python bench/forwarder.py --port 9200 --upstream http://127.0.0.1:9100

One Starlette route, `POST /v1/images/generations`, that reads the body, sends it unchanged
(with the caller's `Authorization`) to the upstream through one shared httpx client on the
aiohttp transport — the client imagegate itself uses — and returns the upstream's status
and body. No validation, no model routing, no logging: what any Python gateway on this
stack pays per request at the least, under the same uvicorn.
"""

from __future__ import annotations

import argparse
import contextlib

import httpx
from httpx_aiohttp import AiohttpTransport
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app(upstream: str) -> Starlette:
    target = f"{upstream.rstrip('/')}/v1/images/generations"
    state: dict[str, httpx.AsyncClient] = {}

    async def generations(request: Request) -> Response:
        body = await request.body()
        answer = await state["client"].post(
            target,
            content=body,
            headers={
                "content-type": "application/json",
                "authorization": request.headers.get("authorization", ""),
            },
        )
        return Response(
            answer.content, status_code=answer.status_code, media_type="application/json"
        )

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
        async with httpx.AsyncClient(
            transport=AiohttpTransport(limits=limits), timeout=60
        ) as client:
            state["client"] = client
            yield

    return Starlette(
        routes=[
            Route("/v1/images/generations", generations, methods=["POST"]),
            Route("/health", health),
        ],
        lifespan=lifespan,
    )


if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--upstream", default="http://127.0.0.1:9100")
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.upstream),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )
