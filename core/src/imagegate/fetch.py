"""Fetching the images providers answer with as URLs, and checking every image's bytes.

A provider's link is fetched once, when someone needs the bytes (`b64_json`, saving), on
the gate's shared client when called on its event loop. Whatever arrives must be a whole
image (PNG, WebP, JPEG or GIF, not truncated) before anyone sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import ProviderError, ProviderUnreachable
from .results import check_image

if TYPE_CHECKING:
    import httpx

    from .models import Provider

__all__ = ["ImageFetcher", "host_of"]

DOWNLOAD_TIMEOUT = 120.0


class ImageFetcher:
    """Downloads for one gate: `shared()` gives its client and loop when it has one."""

    def __init__(
        self,
        shared: Callable[[], tuple[httpx.AsyncClient | None, asyncio.AbstractEventLoop | None]],
    ) -> None:
        self._shared = shared

    async def load(self, url: str, provider: Provider) -> bytes:
        import httpx

        client, loop = self._shared()
        try:
            if client is not None and loop is asyncio.get_running_loop():
                response = await client.get(url)
            else:
                async with httpx.AsyncClient(
                    follow_redirects=True, timeout=DOWNLOAD_TIMEOUT
                ) as own:
                    response = await own.get(url)
        except httpx.HTTPError as exc:
            raise _download_failed(exc, url, provider) from None
        return self._downloaded(response, url, provider)

    def load_blocking(self, url: str, provider: Provider) -> bytes:
        import httpx

        try:
            response = httpx.get(url, follow_redirects=True, timeout=DOWNLOAD_TIMEOUT)
        except httpx.HTTPError as exc:
            raise _download_failed(exc, url, provider) from None
        return self._downloaded(response, url, provider)

    def _downloaded(self, response: httpx.Response, url: str, provider: Provider) -> bytes:
        if response.status_code != 200:
            raise ProviderError(
                f"{provider.display_name}: downloading the image from {host_of(url)} failed "
                f"with HTTP {response.status_code}",
                provider=provider.id,
            )
        checked(response.content, provider, f"the image from {host_of(url)}")
        return response.content


def checked(data: bytes, provider: Provider, what: str) -> str:
    """The mime type of `data`, or a ProviderError naming the provider when it is unusable."""
    try:
        return check_image(data)
    except ValueError as exc:
        raise ProviderError(
            f"{provider.display_name}: {what} is unusable: {exc}", provider=provider.id
        ) from None


def host_of(url: str | None) -> str:
    if not url:
        return "its default address"
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _download_failed(exc: Exception, url: str, provider: Provider) -> ProviderUnreachable:
    return ProviderUnreachable(
        f"{provider.display_name}: cannot download the image from {host_of(url)} "
        f"({type(exc.__cause__ or exc).__name__})",
        provider=provider.id,
    )
