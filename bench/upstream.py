"""A minimal OpenAI-style image endpoint for benchmarks: answers at once, or late.

    python bench/upstream.py --port 9100

`POST /v1/images/generations` answers `{"created", "data": [{"url"}]}` with no real work; a
prompt containing `slow-<ms>` (e.g. `slow-500`) is answered after that many milliseconds,
so one upstream serves every scenario and the prompt passes unchanged through any proxy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_SLOW = re.compile(rb"slow-(\d+)")


async def generations(request: Request) -> Response:
    body = await request.body()
    match = _SLOW.search(body)
    if match:
        await asyncio.sleep(int(match[1]) / 1000)
    answer = {
        "created": int(time.time()),
        "data": [{"url": f"http://{request.url.netloc}/files/bench.png"}],
    }
    return Response(json.dumps(answer).encode(), media_type="application/json")


_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c6360000000020001e221bc330000000049454e44ae426082"
)


async def image(request: Request) -> Response:
    """The image every answer links to (1x1 PNG), for a gateway that fetches it."""
    return Response(_PNG, media_type="image/png")


async def health(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(
    routes=[
        Route("/v1/images/generations", generations, methods=["POST"]),
        Route("/files/bench.png", image),
        Route("/health", health),
    ]
)

if __name__ == "__main__":
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=9100)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
