"""`Gate`: the one object that turns a request into images, whatever the provider.

It holds the settings (tokens, base URLs, timeout, retries, concurrency, the HTTP client,
the plugins, the state store) and the resources they need, and is the public face of the
pipeline behind it (`imagegate.pipeline`: resolve, validate, tokens, fan-out, attempts,
fetching). The CLI and the server are thin layers over it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from . import bounds
from .catalog import Catalog, Family
from .chain import FALLBACKS_ENV, PREFER_ENV, parse_fallbacks, parse_prefer
from .context import ProgressCallback
from .credentials import TokenSource, find_tokens, strip_auth_prefix
from .errors import Cancelled
from .fetch import ImageFetcher
from .health import OK, KeyHealth, KeyState
from .history import History
from .history import pass_links as _pass_links
from .media import MediaStore, open_media
from .models import ChatModel, Model, Provider
from .plugins import get_plugin_manager, new_plugin_manager, plugin_info
from .request import ImageRequest
from .results import ImageResult
from .retention import Janitor, parse_retention
from .state import StateStore, fingerprint, open_state

if TYPE_CHECKING:
    from typing import TypeAlias

    import httpx
    import pluggy

    from .chat import ChatRequest, ChatResult

    Messages: TypeAlias = str | list[dict[str, Any]] | ChatRequest

__all__ = ["Gate", "KeyStatus", "ProviderStatus"]

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


@dataclass(frozen=True)
class KeyStatus:
    """One token's health at one provider, as `imagegate keys status` shows it.

    `source` is where the token is configured (`env:IMAGEGATE_GITEE_TOKEN`, `keys file`),
    `anonymous` for use without a token, or None for a token seen only on a call.
    """

    provider: str
    fingerprint: str
    source: str | None
    state: str
    model: str | None = None
    until: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "state": self.state,
            "model": self.model,
            "until": self.until,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }


class Gate:
    """Generate images through any installed provider. Use as a (async) context manager.

    `tokens` maps a provider id or auth prefix to a token or comma-separated tokens;
    `base_urls` maps a provider id to a base URL; `plugins` replaces the installed plugins
    with the given plugin objects; `use_stored_tokens=False` ignores the environment and
    the keys file (a server does this unless it is protected). `state` is where key health
    (and what else outlives a call) is kept: a `StateStore`, a URL (`memory:`,
    `sqlite:///path`, `redis://...`), or None for `IMAGEGATE_STATE_URL`, else SQLite in the
    data dir. `timeout` is the overall deadline of one call in seconds (positive and
    finite: ValueError otherwise). `max_image_bytes` caps every image, downloaded or handed
    back by a plugin (default `IMAGEGATE_MAX_IMAGE_BYTES`, else 50 MB). `history=True`
    records every generation in the state store (`gate.history` lists them);
    `keep_images=True` stores every image in `media` (a `MediaStore`, a URL, or None for
    IMAGEGATE_MEDIA_URL, else `<data dir>/images`) before answering, except the links of the
    providers in `pass_links`; both are kept for `retention` (seconds, `7d`, `forever`;
    default IMAGEGATE_RETENTION, else 7 days). `clock` (unix seconds) exists for tests of
    waits and retention.

    `prefer` orders the providers an `any/<family>` request tries (`"hf,gitee"` or a list of
    ids or prefixes; default `IMAGEGATE_PREFER`, else free before paid, then the fastest);
    `fallbacks` maps a model id to the models to try when it cannot serve
    (`{"gitee/FLUX.1-dev": ["ms/flux-1"]}`; default `IMAGEGATE_FALLBACKS`). See
    `imagegate.failover`.
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
        state: StateStore | str | None = None,
        history: bool = False,
        keep_images: bool = False,
        pass_links: Iterable[str] = (),
        media: MediaStore | str | None = None,
        retention: float | str | None = None,
        clock: Callable[[], float] | None = None,
        prefer: str | Sequence[str] | None = None,
        fallbacks: Mapping[str, str | Sequence[str]] | str | None = None,
        max_image_bytes: int | None = None,
    ) -> None:
        self.timeout = bounds.check_timeout(timeout)
        self.max_image_bytes = bounds.max_image_bytes(max_image_bytes)
        self.prefer = parse_prefer(os.environ.get(PREFER_ENV) if prefer is None else prefer)
        self._fallbacks_arg = os.environ.get(FALLBACKS_ENV) if fallbacks is None else fallbacks
        self._fallbacks: dict[str, tuple[str, ...]] | None = None
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
        self._generate_callers: dict[int, tuple[Any, Any]] = {}
        """Per catalog entry, its plugin's `generate` hook alone (pipeline.py)."""
        self._catalog_key: tuple[int, ...] = ()
        self._state_arg = state
        self._state: StateStore | None = state if isinstance(state, StateStore) else None
        self._own_state = not isinstance(state, StateStore)
        self.clock = clock or time.time
        self.health = KeyHealth(lambda: self.state, self.clock)
        self.record_history = history
        self.keep_images = keep_images
        self.pass_links = _pass_links(pass_links)
        self.history_source = "library"
        """What records say made them: `library`, or `cli` and `server` for those."""
        self.retention = parse_retention(retention)
        self._media_arg = media
        self._media: MediaStore | None = media if isinstance(media, MediaStore) else None
        self.history = History(self)
        self.janitor = Janitor(lambda: self.state, lambda: self._media, self.retention, self.clock)
        self.fetcher = ImageFetcher(lambda: (self._client, self._client_loop), self.max_image_bytes)
        self._portal: Any = None
        self._portal_cm: Any = None
        self._calls: set[asyncio.Task[Any] | None] = set()
        """What runs on the portal's loop now, cancelled when the gate closes."""
        self._portal_finalizer: Any = None
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

    def list_families(self) -> list[Family]:
        """Every family (`any/<family>`): the same open model at several providers."""
        return list(self.catalog.families.values())

    def get_family(self, model_id: str) -> Family | None:
        """The family `any/<family>` names; None for another id; `InvalidModel` (listing
        the families) for an unknown one."""
        return self.catalog.family(model_id)

    @property
    def fallbacks(self) -> dict[str, tuple[str, ...]]:
        """Model id -> the models to try after it (read once from the settings)."""
        if self._fallbacks is None:
            self._fallbacks = parse_fallbacks(self._fallbacks_arg)
        return self._fallbacks

    def providers(self) -> list[ProviderStatus]:
        catalog = self.catalog
        statuses = []
        for provider_id, provider in catalog.providers.items():
            info = plugin_info(catalog.provider_plugins[provider_id])
            found = self.tokens_for(provider)
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

    def base_url_for(self, provider: Provider) -> str | None:
        """Where calls to `provider` go: this gate's setting, the environment, its default."""
        return (
            self._base_urls.get(provider.id)
            or os.environ.get(provider.base_url_env)
            or provider.base_url
        )

    # -- key health -----------------------------------------------------------------------

    @property
    def state(self) -> StateStore:
        """The state store (opened on first use)."""
        if self._state is None:
            with self._lock:
                if self._state is None:
                    arg = self._state_arg
                    self._state = open_state(arg if isinstance(arg, str) else None)
        return self._state

    @property
    def media(self) -> MediaStore:
        """The media store for kept images (opened on first use)."""
        if self._media is None:
            with self._lock:
                if self._media is None:
                    arg = self._media_arg
                    self._media = open_media(
                        arg if isinstance(arg, str) else None,
                        retention=self.retention,
                        clock=self.clock,
                    )
        return self._media

    async def akey_status(self, provider: str | None = None) -> list[KeyStatus]:
        """Every configured token (and anonymous use where allowed) with its health, and
        every other token the state store knows of; never a token itself."""
        states = await self.health.states()
        by_key: dict[tuple[str, str], list[KeyState]] = {}
        for state in states:
            by_key.setdefault((state.provider, state.fingerprint), []).append(state)
        rows: list[KeyStatus] = []
        seen: set[tuple[str, str]] = set()
        for status in self.providers():
            prov = status.provider
            if provider and provider not in {prov.id, prov.model_prefix, prov.auth_prefix}:
                continue
            found = self.tokens_for(prov)
            entries: list[tuple[str | None, str | None]] = [(t, found.source) for t in found.tokens]
            if prov.auth != "required":
                entries.append((None, "anonymous"))
            for token, source in entries:
                fp = fingerprint(token)
                seen.add((prov.id, fp))
                rows += _rows(prov.id, fp, source, by_key.get((prov.id, fp), []))
            for (provider_id, fp), known in sorted(by_key.items()):
                if provider_id == prov.id and (provider_id, fp) not in seen:
                    rows += _rows(provider_id, fp, None, known)
        return rows

    def key_status(self, provider: str | None = None) -> list[KeyStatus]:
        """Blocking `akey_status`."""
        return self._run(self.akey_status, provider)

    async def areset_keys(self, provider: str | None = None) -> int:
        """Forget what is known of tokens' health (of one provider); how many records went."""
        if provider:
            known = self.catalog.token_prefixes.get(provider.lower())
            provider = known.id if known else provider
        return await self.health.reset(provider)

    def reset_keys(self, provider: str | None = None) -> int:
        return self._run(self.areset_keys, provider)

    # -- generation -----------------------------------------------------------------------

    async def agenerate(
        self,
        prompt: str | ImageRequest,
        *,
        model: str | None = None,
        token: str | Sequence[str] | None = None,
        progress: ProgressCallback | None = None,
        timeout: float | None = None,
        fallbacks: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
        enhance: bool | str | None = None,
        history: bool | None = None,
        keep_images: bool | None = None,
        resume: Mapping[int, str] | None = None,
        **params: Any,
    ) -> ImageResult:
        """Generate images. `params` are `ImageRequest` fields (size, steps, seed, n, ...);
        `timeout` (positive, finite seconds) replaces the gate's for this call.

        `model` may be `any/<family>`; `fallbacks` lists the models to try, in order, when
        `model` cannot serve (or maps model ids to such lists, like `Gate(fallbacks=)`).
        `enhance=True` (or a chat model's id) first rewrites the prompt with a chat model
        (`imagegate.enhance`); the result's `revised_prompt` is what the images were made of.
        `history` and `keep_images` override the gate's settings for this call.
        `resume` continues an interrupted run of one model (name it in `model`): the
        provider task ids its `Progress` events reported (`task_id`), by call `index`;
        those calls poll their task again instead of submitting a new one.
        """
        from .failover import generate
        from .history import recorded

        if enhance:
            from .enhance import enhanced

            return await enhanced(
                self,
                prompt,
                enhance,
                model=model,
                token=token,
                progress=progress,
                timeout=timeout,
                fallbacks=fallbacks,
                params={**params, "history": history, "keep_images": keep_images},
            )
        run = generate(
            self,
            prompt,
            model=model,
            token=token,
            progress=progress,
            timeout=timeout,
            fallbacks=fallbacks,
            params=params,
            resume=resume,
        )
        return await recorded(
            self,
            run,
            prompt=prompt,
            model=model,
            params=params,
            record=history,
            keep=keep_images,
            timeout=timeout,
        )

    def generate(self, prompt: str | ImageRequest, **kwargs: Any) -> ImageResult:
        """Blocking `agenerate`, run on this gate's own event-loop thread."""
        return self._run(self.agenerate, prompt, **kwargs)

    # -- chat ---------------------------------------------------------------------------

    def list_chat_models(self, provider: str | None = None) -> list[ChatModel]:
        """Every chat (LLM) model, or those of one provider (id or prefix)."""
        wanted = (provider or "").lower()
        return [
            m
            for m in self.catalog.chat
            if not wanted or wanted in {m.provider.id, m.provider.model_prefix}
        ]

    def get_chat_model(self, model_id: str | None = None) -> ChatModel:
        """The chat model an id names (None: the default one); `InvalidModel` if none."""
        from .chatting import resolve_chat

        return resolve_chat(self, model_id).model

    async def achat(self, messages: Messages, **kwargs: Any) -> ChatResult:
        """Ask a chat model: `messages` is a prompt, OpenAI's message list or a `ChatRequest`;
        keywords: model, token, timeout, and OpenAI's other chat fields (temperature,
        max_tokens, ...), passed through."""
        from .chatting import achat

        return await achat(self, messages, **kwargs)

    def chat(self, messages: Messages, **kwargs: Any) -> ChatResult:
        """Blocking `achat`."""
        return self._run(self.achat, messages, **kwargs)

    def astream_chat(self, messages: Messages, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        """`achat`'s answer as OpenAI's `chat.completion.chunk` dicts, as they arrive."""
        from .chatting import astream_chat

        return astream_chat(self, messages, **kwargs)

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
                # A gate nobody closed must not hang interpreter exit: stop its portal at
                # exit (atexit time, threads still alive), not when finalization collects it.
                # At exit the gate is still alive: close its clients on their loop first, or
                # aiohttp prints "Unclosed client session" after a script's last line.
                self._portal_finalizer = weakref.finalize(
                    self,
                    _stop_portal,
                    self._portal,
                    self._portal_cm,
                    self._calls,
                    weakref.WeakMethod(self.aclose),
                )
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
        await self.janitor.wait()
        if self._media is not None:
            await self._media.close()  # every stored image on disk before we go
        if self._own_client and self._client is not None:
            if self._client_loop is asyncio.get_running_loop():
                await self._client.aclose()
            self._client = None
        if self._own_state and self._state is not None:
            state, self._state = self._state, None
            await state.close()
        self._close_plugins()

    def close(self) -> None:
        """`aclose` for blocking use; a call still running on this gate's own event-loop
        thread (one whose caller was interrupted) is cancelled rather than waited for."""
        with self._lock:
            portal, portal_cm, finalizer = self._portal, self._portal_cm, self._portal_finalizer
            self._portal = self._portal_cm = self._portal_finalizer = None
        if portal is None or finalizer is None or not finalizer.detach():
            self._close_plugins()  # no loop of our own (left): nothing else to close on one
            return
        try:
            # first, so their cancels reach the providers while the plugins close
            portal.call(_cancel_calls, self._calls)
            portal.call(self.aclose)
        finally:
            _stop_portal(portal, portal_cm, self._calls)  # once: the finalizer is detached

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


def _stop_portal(
    portal: Any,
    portal_cm: Any,
    calls: set[asyncio.Task[Any] | None],
    closer: weakref.WeakMethod[Callable[[], Awaitable[None]]] | None = None,
) -> None:
    """Stop a gate's event-loop thread without waiting on a provider: what still runs there
    is cancelled, with a moment to send its cancels; then the gate's `aclose`, when the
    gate is still there to close (at exit, not when it was collected)."""
    with contextlib.suppress(Exception):
        portal.call(_cancel_calls, calls)
    aclose = closer() if closer is not None else None
    if aclose is not None:
        with contextlib.suppress(Exception):
            portal.call(aclose)
    with contextlib.suppress(Exception):
        portal.call(portal.stop, True)  # cancel_remaining
    with contextlib.suppress(Exception):
        portal_cm.__exit__(None, None, None)


async def _cancel_calls(calls: set[asyncio.Task[Any] | None]) -> None:
    running = [task for task in calls if task is not None and not task.done()]
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=1.0)


def _rows(provider: str, fp: str, source: str | None, known: list[KeyState]) -> list[KeyStatus]:
    """One row per recorded state of a token (whole token and per model), or one `ok`."""
    if not known:
        return [KeyStatus(provider, fp, source, OK)]
    return [KeyStatus(provider, fp, source, s.state, s.model, s.until, s.code, s.at) for s in known]
