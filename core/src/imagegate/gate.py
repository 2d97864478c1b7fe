"""`Gate`: the one object that turns a request into images, whatever the provider.

It does everything providers have in common, once: resolve the model, fill defaults,
validate, pick tokens, fan `n` out into concurrent calls, retry transient failures within
one deadline, rotate tokens on quota, fetch bytes, and map every failure to
`imagegate.errors`. The CLI and the server are thin layers over it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from . import rotation
from .catalog import Catalog, Entry
from .context import GenerateContext, ProgressCallback
from .credentials import TokenSource, find_tokens, split_tokens, strip_auth_prefix
from .errors import (
    AuthRequired,
    Cancelled,
    ImagegateError,
    InvalidRequest,
    ProviderError,
    ProviderUnreachable,
    QuotaExceeded,
    RateLimited,
    Timeout,
)
from .models import Model, Provider
from .plugins import get_plugin_manager, new_plugin_manager, plugin_info
from .request import MAX_SEED, ImageRequest, build_request
from .resolve import resolve_request
from .results import GeneratedImage, ImageResult, check_image

if TYPE_CHECKING:
    import httpx
    import pluggy

__all__ = ["Gate", "ProviderStatus"]

T = TypeVar("T")


@dataclass(frozen=True)
class ProviderStatus:
    """An installed provider as `imagegate providers` shows it (never the token itself)."""

    provider: Provider
    distribution: str | None
    version: str | None
    token_source: str | None
    token_count: int
    model_count: int


class Gate:
    """Generate images through any installed provider. Use as a (async) context manager.

    `tokens` maps a provider id or auth prefix to a token or comma-separated tokens;
    `base_urls` maps a provider id to a base URL; `plugins` replaces the installed plugins
    with the given plugin objects; `use_stored_tokens=False` ignores the environment and
    the keys file (a server does this unless it is protected).
    """

    def __init__(
        self,
        *,
        tokens: Mapping[str, str | Sequence[str]] | None = None,
        base_urls: Mapping[str, str] | None = None,
        timeout: float = 300.0,
        client: httpx.AsyncClient | None = None,
        plugins: Iterable[object] | None = None,
        max_concurrency: int = 10,
        retries: int = 2,
        use_stored_tokens: bool = True,
    ) -> None:
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.retries = retries
        self.use_stored_tokens = use_stored_tokens
        self._tokens = dict(tokens or {})
        self._base_urls = dict(base_urls or {})
        self._pm = get_plugin_manager() if plugins is None else new_plugin_manager(plugins)
        self._own_client = client is None
        self._client = client
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._catalog: Catalog | None = None
        self._catalog_key: tuple[int, ...] = ()
        self._portal: Any = None
        self._portal_cm: Any = None
        self._calls: set[asyncio.Task[Any] | None] = set()
        self._lock = threading.Lock()

    # -- models and providers -------------------------------------------------------------

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        return self._pm

    def register(self, plugin: object, name: str | None = None) -> None:
        """Add a plugin object to this gate (a module, a class instance)."""
        self._pm.register(plugin, name=name)

    @property
    def catalog(self) -> Catalog:
        key = tuple(id(p) for p in self._pm.get_plugins())
        if self._catalog is None or key != self._catalog_key:
            self._catalog, self._catalog_key = Catalog(self._pm), key
        return self._catalog

    def list_models(self, provider: str | None = None) -> list[Model]:
        """Every model, or those of one provider (id or prefix)."""
        models = list(self.catalog)
        if provider:
            wanted = provider.lower()
            models = [
                m
                for m in models
                if wanted in {m.provider.id, m.provider.model_prefix, m.provider.auth_prefix}
            ]
        return models

    def get_model(self, model_id: str | None = None) -> Model:
        """The model a user-typed id names (aliases, any case); `InvalidModel` if none."""
        return self.catalog.resolve(model_id).model

    def providers(self) -> list[ProviderStatus]:
        catalog = self.catalog
        statuses = []
        for provider_id, provider in catalog.providers.items():
            info = plugin_info(catalog.provider_plugins[provider_id])
            found = self._find_tokens(provider, None)
            statuses.append(
                ProviderStatus(
                    provider=provider,
                    distribution=info.distribution or provider.distribution,
                    version=info.version,
                    token_source=found.source,
                    token_count=len(found.tokens),
                    model_count=sum(1 for m in catalog if m.provider.id == provider_id),
                )
            )
        return statuses

    def tokens_for(
        self, provider: Provider, explicit: str | Sequence[str] | None = None
    ) -> TokenSource:
        """The tokens a call to `provider` would use, and where they came from."""
        return self._find_tokens(provider, explicit)

    # -- generation -----------------------------------------------------------------------

    async def agenerate(
        self,
        prompt: str | ImageRequest,
        *,
        model: str | None = None,
        token: str | Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
        **params: Any,
    ) -> ImageResult:
        """Generate images. `params` are `ImageRequest` fields (size, steps, seed, n, ...)."""
        started = time.monotonic()
        request = build_request(prompt, model=model, **params)
        entry = self.catalog.resolve(request.model)
        model_ = entry.model
        resolved, warnings = resolve_request(request, model_)
        self._validate(resolved, model_)
        tokens = self._find_tokens(model_.provider, token)
        secrets = [*tokens.tokens, *(split_tokens(token) if token else [])]
        context = GenerateContext(
            client=self._get_client(),
            base_url=self._base_url(model_.provider),
            deadline=started + (timeout or self.timeout),
            provider=model_.provider.id,
            model=model_.full_id,
            progress_callback=progress,
            started=started,
            warnings=warnings,
        )
        try:
            images = await asyncio.wait_for(
                self._fan_out(entry, resolved, tokens, context), timeout=context.remaining()
            )
            if resolved.response_format == "b64_json":
                await _gather_or_cancel([image.aread() for image in images])
        except asyncio.TimeoutError:
            raise Timeout(
                f"{model_.provider.display_name} did not finish {model_.full_id} within "
                f"{timeout or self.timeout:g}s; try again later or allow a longer timeout",
                provider=model_.provider.id,
            ) from None
        except ImagegateError as exc:
            raise exc.redacted(secrets) from None
        return ImageResult(
            images=images,
            model=model_.full_id,
            provider=model_.provider.id,
            request=resolved,
            warnings=context.warnings,
            created=int(time.time()),
            elapsed=time.monotonic() - started,
        )

    def generate(self, prompt: str | ImageRequest, **kwargs: Any) -> ImageResult:
        """Blocking `agenerate`, run on this gate's own event-loop thread."""
        return self._run(self.agenerate, prompt, **kwargs)

    def _validate(self, request: ImageRequest, model: Model) -> None:
        problems = [
            p for found in self._pm.hook.validate(request=request, model=model) for p in found or ()
        ]
        if problems:
            message = "; ".join(p.message for p in problems)
            raise InvalidRequest(message, param=problems[0].param)

    def _find_tokens(self, provider: Provider, explicit: str | Sequence[str] | None) -> TokenSource:
        if explicit is None:
            explicit = self._tokens.get(provider.id) or self._tokens.get(provider.auth_prefix)
        found = find_tokens(
            provider,
            explicit=explicit,
            env=None if self.use_stored_tokens else {},
            use_keys_file=self.use_stored_tokens,
        )
        owners = self.catalog.token_prefixes
        stripped = tuple(strip_auth_prefix(t, provider, owners) for t in found.tokens)
        return TokenSource(stripped, found.source)

    def _base_url(self, provider: Provider) -> str | None:
        return (
            self._base_urls.get(provider.id)
            or os.environ.get(provider.base_url_env)
            or provider.base_url
        )

    async def _fan_out(
        self, entry: Entry, request: ImageRequest, tokens: TokenSource, context: GenerateContext
    ) -> list[GeneratedImage]:
        per_call = max(1, entry.model.capabilities.max_images_per_call)
        counts = [per_call] * (request.n // per_call) + (
            [request.n % per_call] if request.n % per_call else []
        )
        caller = self._pm.subset_hook_caller(
            "generate", remove_plugins=[p for p in self._pm.get_plugins() if p is not entry.plugin]
        )
        limit = asyncio.Semaphore(self.max_concurrency)

        async def one(index: int, count: int, offset: int) -> list[GeneratedImage]:
            seed = None if request.seed is None else (request.seed + offset) % (MAX_SEED + 1)
            call = request.model_copy(update={"n": count, "seed": seed})
            async with limit:
                images = await self._call(
                    caller, call, entry.model, tokens, context.for_call(index)
                )
            for image in images:
                self._complete(image, call, entry.model)
            return images

        offsets = [sum(counts[:i]) for i in range(len(counts))]
        batches = await _gather_or_cancel(
            [
                one(i, count, offset)
                for i, (count, offset) in enumerate(zip(counts, offsets, strict=True))
            ]
        )
        return [image for batch in batches for image in batch]

    async def _call(
        self,
        caller: Callable[..., list[Any]],
        request: ImageRequest,
        model: Model,
        tokens: TokenSource,
        context: GenerateContext,
    ) -> list[GeneratedImage]:
        """One provider call, retried on transient failures and rotated across tokens."""
        provider = model.provider
        if not tokens and provider.auth == "required":
            raise AuthRequired(_how_to_authenticate(provider), provider=provider.id)
        attempt = 0
        while True:
            candidates: list[str | None] = (
                list(rotation.available(tokens.tokens)) if tokens else [None]
            )
            if not candidates:
                raise QuotaExceeded(
                    f"{provider.display_name}: every configured token is out of quota until "
                    f"00:00 UTC; add another with `imagegate keys set {provider.id}`",
                    provider=provider.id,
                )
            failure: ImagegateError | None = None
            for token in candidates:
                try:
                    return await self._invoke(caller, request, model, token, context)
                except QuotaExceeded as exc:
                    if token is None:
                        raise
                    rotation.mark_exhausted(token)
                    failure = exc
                except RateLimited as exc:
                    failure = exc
                except ImagegateError as exc:
                    if not exc.transient:
                        raise
                    failure = exc
                    break
            assert failure is not None
            if isinstance(failure, QuotaExceeded):
                if not rotation.available(tokens.tokens):
                    raise failure
                continue
            attempt += 1
            delay = _backoff(attempt, failure.retry_after)
            if attempt > self.retries or delay >= context.remaining():
                raise failure
            context.report("retrying", message=f"{failure.code}: retrying in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _invoke(
        self,
        caller: Callable[..., list[Any]],
        request: ImageRequest,
        model: Model,
        token: str | None,
        context: GenerateContext,
    ) -> list[GeneratedImage]:
        import httpx

        provider = model.provider
        try:
            answers = caller(request=request, model=model, token=token, context=context)
            if not answers:
                raise ProviderError(
                    f"the {provider.id} plugin has no generate hook", provider=provider.id
                )
            images = answers[0]
            if inspect.isawaitable(images):
                images = await images
        except (ImagegateError, asyncio.CancelledError):
            raise
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.NetworkError) as exc:
            # the aiohttp transport reports a refused connection as ConnectTimeout
            raise ProviderUnreachable(
                f"cannot reach {provider.display_name} at {_host(context.base_url)} "
                f"({type(exc.__cause__ or exc).__name__}); check your network, "
                f"or {provider.base_url_env}",
                provider=provider.id,
            ) from None
        except httpx.TimeoutException:
            raise Timeout(
                f"{provider.display_name} did not answer in time ({_host(context.base_url)})",
                provider=provider.id,
                transient=True,
            ) from None
        except httpx.TransportError as exc:
            raise ProviderUnreachable(
                f"{provider.display_name} at {_host(context.base_url)} failed mid-request "
                f"({type(exc.__cause__ or exc).__name__})",
                provider=provider.id,
            ) from None
        except Exception as exc:
            raise ProviderError(
                f"{provider.display_name} failed: {type(exc).__name__}: {exc}", provider=provider.id
            ) from exc
        if not isinstance(images, list) or not images:
            raise ProviderError(f"{provider.display_name} returned no image", provider=provider.id)
        return images

    def _complete(self, image: GeneratedImage, request: ImageRequest, model: Model) -> None:
        """Fill what the plugin left out, check given bytes, and attach the loaders."""
        image.provider = model.provider.id
        image.model = model.full_id
        if image.seed is None:
            image.seed = request.seed
        if image.width is None and image.height is None:
            image.width, image.height = request.width, request.height
        if image.data is not None:
            image.mime_type = self._checked(image.data, model.provider, "the returned image")
        elif image.mime_type is None:
            image.mime_type = f"image/{model.provider.image_format}"
        image._loader = lambda url: self._load(url, model.provider)
        image._sync_loader = lambda url: self._load_blocking(url, model.provider)

    async def _load(self, url: str, provider: Provider) -> bytes:
        import httpx

        try:
            if self._client is not None and self._client_loop is asyncio.get_running_loop():
                response = await self._client.get(url)
            else:
                async with httpx.AsyncClient(follow_redirects=True, timeout=120) as client:
                    response = await client.get(url)
        except httpx.HTTPError as exc:
            raise _download_failed(exc, url, provider) from None
        return self._downloaded(response, url, provider)

    def _load_blocking(self, url: str, provider: Provider) -> bytes:
        import httpx

        try:
            response = httpx.get(url, follow_redirects=True, timeout=120)
        except httpx.HTTPError as exc:
            raise _download_failed(exc, url, provider) from None
        return self._downloaded(response, url, provider)

    def _downloaded(self, response: httpx.Response, url: str, provider: Provider) -> bytes:
        if response.status_code != 200:
            raise ProviderError(
                f"{provider.display_name}: downloading the image from {_host(url)} failed "
                f"with HTTP {response.status_code}",
                provider=provider.id,
            )
        self._checked(response.content, provider, f"the image from {_host(url)}")
        return response.content

    @staticmethod
    def _checked(data: bytes, provider: Provider, what: str) -> str:
        try:
            return check_image(data)
        except ValueError as exc:
            raise ProviderError(
                f"{provider.display_name}: {what} is unusable: {exc}", provider=provider.id
            ) from None

    # -- resources ------------------------------------------------------------------------

    def _get_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or (self._own_client and self._client_loop is not loop):
            from .http import new_async_client

            self._client = new_async_client(self.timeout)
            self._client_loop = loop
        elif self._client_loop is None:
            self._client_loop = loop
        return self._client

    def _run(self, func: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError(
                "Gate.generate() blocks; inside an event loop use `await gate.agenerate()`"
            )
        with self._lock:
            if self._portal is None:
                from anyio.from_thread import start_blocking_portal

                self._portal_cm = start_blocking_portal()
                self._portal = self._portal_cm.__enter__()
            portal = self._portal

        async def call() -> T:
            task = asyncio.current_task()
            self._calls.add(task)
            try:
                return await func(*args, **kwargs)
            finally:
                self._calls.discard(task)

        future = portal.start_task_soon(call)
        try:
            return future.result()
        except concurrent.futures.CancelledError:
            raise Cancelled("the gate was closed while this generation was running") from None
        except BaseException:
            future.cancel()  # Ctrl-C while waiting: the provider call stops with it
            raise

    async def aclose(self) -> None:
        """Close the HTTP client this gate made and let every plugin release its resources
        (`close` hook: HuggingFace closes its Space clients); bounded, about a second."""
        if self._own_client and self._client is not None:
            if self._client_loop is asyncio.get_running_loop():
                await self._client.aclose()
            self._client = None
        self._close_plugins()

    def close(self) -> None:
        """`aclose` for blocking use; a call still running on this gate's own event-loop
        thread (one whose caller was interrupted) is cancelled rather than waited for."""
        portal, portal_cm = self._portal, self._portal_cm
        if portal is None:
            self._close_plugins()
            return
        with self._lock:
            self._portal = self._portal_cm = None
        try:
            portal.call(self._cancel_calls_and_aclose)
        finally:
            portal.call(portal.stop, True)  # cancel_remaining: never wait on a provider
            portal_cm.__exit__(None, None, None)

    async def _cancel_calls_and_aclose(self) -> None:
        """On the gate's own loop: cancel what still runs there, first, so the plugins send
        their cancels to the providers before they close."""
        running = [task for task in self._calls if task is not None and not task.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=1.0)
        await self.aclose()

    def _close_plugins(self) -> None:
        for hook in self._pm.hook.close.get_hookimpls():
            try:
                hook.function()
            except Exception as exc:  # one plugin's failure must not keep the others open
                import warnings

                warnings.warn(
                    f"imagegate: plugin {hook.plugin_name!r} failed to close: "
                    f"{type(exc).__name__}: {exc}",
                    RuntimeWarning,
                    stacklevel=2,
                )

    async def __aenter__(self) -> Gate:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _backoff(attempt: int, retry_after: float | None) -> float:
    import random

    if retry_after is not None:
        return retry_after
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())


def _host(url: str | None) -> str:
    if not url:
        return "its default address"
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _download_failed(exc: Exception, url: str, provider: Provider) -> ProviderUnreachable:
    return ProviderUnreachable(
        f"{provider.display_name}: cannot download the image from {_host(url)} "
        f"({type(exc.__cause__ or exc).__name__})",
        provider=provider.id,
    )


def _how_to_authenticate(provider: Provider) -> str:
    where = f" (get one at {provider.key_url})" if provider.key_url else ""
    return (
        f"{provider.display_name} needs a token{where}: pass --token, set "
        f"{provider.token_env[0]}, or run `imagegate keys set {provider.id}`"
    )


async def _gather_or_cancel(awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
