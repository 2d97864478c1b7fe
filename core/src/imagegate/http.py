"""The shared HTTP client: httpx's API on aiohttp's connection pool.

httpx's own pool collapses when many requests wait on slow upstreams (encode/httpx#3215),
which is every image provider; see bench/ for the measurement.

It follows no redirect: a provider's API lives at a fixed address, and a redirect there
would re-send a POST (with its body) wherever the answer points, internal addresses
included. A 3xx is the plugin's to report as the provider's error; image downloads
follow redirects themselves, checking every hop (`imagegate.fetch`).

It leaves no reference cycle behind: httpx binds each response and its stream to each
other, so every answer was garbage only the cyclic collector could free (a dozen objects
per request, and the collector's passes were a tenth of the server's CPU under load).
Once a response is read, its spent stream gives way to the body it held.

It keeps no cookies: the one client serves every caller, so a cookie a provider set in
answer to one caller's token must not ride along on another's requests (no provider API
needs one). That also spares httpx's cookie-jar pass over every answer, about a twentieth
of the server's CPU per request (bench/profile_server.py).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

__all__ = ["USER_AGENT", "new_async_client"]

USER_AGENT = "imagegate/0.1"


def new_async_client(timeout: float = 300.0) -> httpx.AsyncClient:
    import httpx
    from httpx_aiohttp import AiohttpTransport

    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    return _cookieless_client()(
        transport=AiohttpTransport(limits=limits),
        timeout=httpx.Timeout(timeout, connect=15.0),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


@cache
def _cookieless_client() -> type[httpx.AsyncClient]:
    """`httpx.AsyncClient` whose cookie jar stays empty (made on first use: httpx is
    imported only when a client is needed)."""
    import httpx

    class NoCookies(httpx.Cookies):
        def extract_cookies(self, response: httpx.Response) -> None:
            pass  # a provider's Set-Cookie is not kept

        def set(self, name: str, value: str, domain: str = "", path: str = "/") -> None:
            pass

    class CookielessClient(httpx.AsyncClient):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.cookies = None

        async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            response = await super().send(request, **kwargs)
            if not kwargs.get("stream"):
                # read and closed: its stream (httpx's BoundAsyncStream, which points back
                # at the response) is spent, so the body alone replaces it, and the
                # response is freed when its last user lets go instead of by the collector
                response.stream = httpx.ByteStream(response.content)
            return response

        @property
        def cookies(self) -> httpx.Cookies:
            return self._cookies

        @cookies.setter
        def cookies(self, cookies: Any) -> None:
            self._cookies = NoCookies()

    return CookielessClient
