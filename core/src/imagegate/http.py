"""The shared HTTP client: httpx's API on aiohttp's connection pool.

httpx's own pool collapses when many requests wait on slow upstreams (encode/httpx#3215),
which is every image provider; see bench/ for the measurement.

It follows no redirect: a provider's API lives at a fixed address, and a redirect there
would re-send a POST (with its body) wherever the answer points, internal addresses
included. A 3xx is the plugin's to report as the provider's error; image downloads
follow redirects themselves, checking every hop (`imagegate.fetch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

__all__ = ["USER_AGENT", "new_async_client"]

USER_AGENT = "imagegate/0.1"


def new_async_client(timeout: float = 300.0) -> httpx.AsyncClient:
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    return httpx.AsyncClient(
        transport=AiohttpTransport(limits=limits),
        timeout=httpx.Timeout(timeout, connect=15.0),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
