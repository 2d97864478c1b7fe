"""Fetching the images providers answer with as URLs, and checking every image's bytes.

A provider's link is fetched once, when someone needs the bytes (`b64_json`, saving), on
the gate's shared client when called on its event loop. The link is untrusted: only http(s)
to an address `addresses` allows, GET only, at most `MAX_REDIRECTS` redirects each checked
again, streamed with a size cap. Whatever arrives must be a whole image (PNG, WebP, JPEG or
GIF, not truncated) before anyone sees it. Messages name the provider and the host, never
a port, an internal address or the size of a refused body: a server sends them to callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import addresses
from .bounds import describe_size
from .errors import ProviderError, ProviderUnreachable
from .results import check_image, sniff_mime

if TYPE_CHECKING:
    import httpx

    from .models import Provider

__all__ = ["ImageFetcher", "checked", "host_of"]

DOWNLOAD_TIMEOUT = 120.0
MAX_REDIRECTS = 3


class ImageFetcher:
    """Downloads for one gate: `shared()` gives its client and loop when it has one."""

    def __init__(
        self,
        shared: Callable[[], tuple[httpx.AsyncClient | None, asyncio.AbstractEventLoop | None]],
        max_bytes: int,
    ) -> None:
        self._shared = shared
        self.max_bytes = max_bytes

    async def load(self, url: str, provider: Provider, base_url: str | None = None) -> bytes:
        """The image at `url`; `base_url` is where the provider is configured to live."""
        import httpx

        allowed = await addresses.allowed_kinds(base_url)
        client, loop = self._shared()
        own = None
        if client is None or loop is not asyncio.get_running_loop():
            client = own = httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT)
        try:
            with _mapped(provider):
                for _ in range(MAX_REDIRECTS + 1):
                    await addresses.check(url, allowed)
                    async with client.stream("GET", url, follow_redirects=False) as response:
                        if response.has_redirect_location:
                            url = str(response.url.join(response.headers["location"]))
                            continue
                        self._expect(response, url, provider)
                        body = bytearray()
                        async for chunk in response.aiter_bytes():
                            body += chunk
                            self._bounded(len(body), provider)
                        return self._image(bytes(body), url, provider)
                raise _redirected_too_often(provider)
        finally:
            if own is not None:
                await own.aclose()

    def load_blocking(self, url: str, provider: Provider, base_url: str | None = None) -> bytes:
        import httpx

        allowed = addresses.allowed_kinds_blocking(base_url)
        with _mapped(provider), httpx.Client(timeout=DOWNLOAD_TIMEOUT) as client:
            for _ in range(MAX_REDIRECTS + 1):
                addresses.check_blocking(url, allowed)
                with client.stream("GET", url, follow_redirects=False) as response:
                    if response.has_redirect_location:
                        url = str(response.url.join(response.headers["location"]))
                        continue
                    self._expect(response, url, provider)
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        self._bounded(len(body), provider)
                    return self._image(bytes(body), url, provider)
            raise _redirected_too_often(provider)

    def _expect(self, response: httpx.Response, url: str, provider: Provider) -> None:
        """A 200 whose declared length is within the cap, before a byte of it is read."""
        if response.status_code != 200:
            raise ProviderError(
                f"{provider.display_name}: downloading the image from {_hostname(url)} failed "
                f"with HTTP {response.status_code}",
                provider=provider.id,
            )
        declared = response.headers.get("content-length", "")
        if declared.isdigit():
            self._bounded(int(declared), provider)

    def _bounded(self, size: int, provider: Provider) -> None:
        if size > self.max_bytes:
            raise too_large(provider, self.max_bytes)

    def _image(self, data: bytes, url: str, provider: Provider) -> bytes:
        checked(data, provider, f"the image from {_hostname(url)}")
        return data


def too_large(provider: Provider, limit: int) -> ProviderError:
    return ProviderError(
        f"{provider.display_name}: the image is larger than the {describe_size(limit)} limit",
        provider=provider.id,
        hint="raise the limit with Gate(max_image_bytes=...), IMAGEGATE_MAX_IMAGE_BYTES or "
        "`imagegate serve --max-image-bytes`",
    )


def checked(data: bytes, provider: Provider, what: str) -> str:
    """The mime type of `data`, or a ProviderError naming the provider when it is unusable."""
    try:
        return check_image(data)
    except ValueError:
        mime = sniff_mime(data)
        problem = f"the {mime} image is truncated" if mime else "not a PNG, WebP, JPEG or GIF image"
        raise ProviderError(
            f"{provider.display_name}: {what} is unusable: {problem}", provider=provider.id
        ) from None


def host_of(url: str | None) -> str:
    """The host of a provider's URL with its port, for messages about the provider itself."""
    if not url:
        return "its default address"
    return urlsplit(url).netloc or url


def _hostname(url: str) -> str:
    return urlsplit(url).hostname or "the provider's link"


@contextmanager
def _mapped(provider: Provider) -> Iterator[None]:
    """Network failures and refused links as errors naming the provider."""
    import httpx

    try:
        yield
    except addresses.Refused as exc:
        raise ProviderError(
            f"{provider.display_name}: refused to download the image: its link leads to an "
            "address imagegate does not fetch",
            provider=provider.id,
            hint=f"{exc.reason}: imagegate fetches private, loopback and link-local addresses "
            f"only when the provider's base URL ({provider.base_url_env}) is on one too",
        ) from None
    except addresses.Unresolved as exc:
        raise ProviderUnreachable(
            f"{provider.display_name}: cannot download the image from {exc.host} "
            "(its name does not resolve)",
            provider=provider.id,
        ) from None
    except httpx.InvalidURL:
        raise ProviderError(
            f"{provider.display_name}: refused to download the image: its link is not a valid URL",
            provider=provider.id,
        ) from None
    except httpx.HTTPError as exc:
        url = str(exc.request.url) if _has_request(exc) else ""
        raise ProviderUnreachable(
            f"{provider.display_name}: cannot download the image from {_hostname(url)} "
            f"({type(exc.__cause__ or exc).__name__})",
            provider=provider.id,
        ) from None


def _has_request(exc: Exception) -> bool:
    try:
        return exc.request is not None  # type: ignore[attr-defined]
    except RuntimeError:  # httpx raises when an error has no request attached
        return False


def _redirected_too_often(provider: Provider) -> ProviderError:
    return ProviderError(
        f"{provider.display_name}: downloading the image was redirected more than "
        f"{MAX_REDIRECTS} times",
        provider=provider.id,
    )
