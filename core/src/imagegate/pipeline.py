"""The path of one request through the core, shared by every provider:

resolve the model -> fill defaults -> validate -> find tokens -> fan `n` out into calls ->
each call: healthy token, retries, rotation (`attempts`) -> check the images -> fetch bytes
when `b64_json` was asked. `Gate.agenerate` is its public face (through `failover`,
which runs it for each model of a chain).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .attempts import call_provider
from .context import GenerateContext, ProgressCallback
from .credentials import TokenSource, split_tokens
from .errors import ImagegateError, InvalidRequest, Timeout
from .fetch import checked, too_large
from .request import MAX_SEED, ImageRequest
from .resolve import resolve_request
from .results import GeneratedImage, ImageResult

if TYPE_CHECKING:
    from .catalog import Entry
    from .gate import Gate
    from .models import Model

__all__ = ["gather_or_cancel", "generate_request", "prepare", "run"]

T = TypeVar("T")


async def generate_request(
    gate: Gate,
    request: ImageRequest,
    *,
    token: str | Sequence[str] | None,
    progress: ProgressCallback | None,
    started: float,
    deadline: float,
    resume: Mapping[int, str] | None = None,
) -> ImageResult:
    """One built request to the one model it names (`resume`: task ids to poll again)."""
    entry = gate.catalog.resolve(request.model)
    resolved, warnings = prepare(gate, request, entry.model)
    tokens = gate.tokens_for(entry.model.provider, token)
    secrets = [*tokens.tokens, *(split_tokens(token) if token else [])]
    return await run(
        gate,
        entry,
        resolved,
        tokens,
        warnings=warnings,
        secrets=secrets,
        progress=progress,
        started=started,
        deadline=deadline,
        resume=resume,
    )


def prepare(gate: Gate, request: ImageRequest, model: Model) -> tuple[ImageRequest, list[str]]:
    """The request as `model` would receive it (defaults filled, unsupported values dropped,
    with warnings), validated: `InvalidRequest` if the model cannot take it. Calls nothing."""
    resolved, warnings = resolve_request(request, model)
    validate(gate, resolved, model)
    return resolved, warnings


async def run(
    gate: Gate,
    entry: Entry,
    resolved: ImageRequest,
    tokens: TokenSource,
    *,
    warnings: list[str],
    secrets: Sequence[str],
    progress: ProgressCallback | None,
    started: float,
    deadline: float,
    resume: Mapping[int, str] | None = None,
) -> ImageResult:
    """Call the model for a prepared request, within `deadline` (a `time.monotonic()` value
    shared by every model a failover chain tries)."""
    model_ = entry.model
    context = GenerateContext(
        client=gate._get_client(),
        base_url=gate.base_url_for(model_.provider),
        deadline=deadline,
        provider=model_.provider.id,
        model=model_.full_id,
        progress_callback=progress,
        started=started,
        warnings=warnings,
    )
    try:
        images = await _within(
            context.remaining(), _fan_out(gate, entry, resolved, tokens, context, resume or {})
        )
        if resolved.response_format == "b64_json":
            await gather_or_cancel([image.aread() for image in images])
    except asyncio.TimeoutError:
        raise Timeout(
            f"{model_.provider.display_name} did not finish {model_.full_id} within "
            f"{deadline - started:g}s; try again later or allow a longer timeout",
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


def validate(gate: Gate, request: ImageRequest, model: Model) -> None:
    """Every plugin's `validate` (the core's generic checks last); one error for them all."""
    problems = [
        p
        for found in gate.plugin_manager.hook.validate(request=request, model=model)
        for p in found or ()
    ]
    if problems:
        message = "; ".join(p.message for p in problems)
        raise InvalidRequest(message, param=problems[0].param)


async def _fan_out(
    gate: Gate,
    entry: Entry,
    request: ImageRequest,
    tokens: TokenSource,
    context: GenerateContext,
    resume: Mapping[int, str],
) -> list[GeneratedImage]:
    """`n` images as concurrent calls of at most `max_images_per_call` each; seeds follow on."""
    per_call = max(1, entry.model.capabilities.max_images_per_call)
    counts = [per_call] * (request.n // per_call) + (
        [request.n % per_call] if request.n % per_call else []
    )
    caller = _generate_caller(gate, entry)
    alone = len(counts) == 1 and not resume  # one call: no copies, no semaphore
    limit = None if alone else asyncio.Semaphore(gate.max_concurrency)

    async def one(index: int, count: int, offset: int) -> list[GeneratedImage]:
        seed = None if request.seed is None else (request.seed + offset) % (MAX_SEED + 1)
        same = count == request.n and seed == request.seed  # one call: the request itself
        call = request if same else request.model_copy(update={"n": count, "seed": seed})
        attempt = call_provider(
            caller,
            call,
            entry.model,
            tokens.tokens,
            context if alone else context.for_call(index, resume.get(index)),
            health=gate.health,
            retries=gate.retries,
        )
        if limit is None:
            images = await attempt
        else:
            async with limit:
                images = await attempt
        for image in images:
            _complete(gate, image, call, entry.model)
        return images

    offsets = [sum(counts[:i]) for i in range(len(counts))]
    batches = await gather_or_cancel(
        [one(i, c, o) for i, (c, o) in enumerate(zip(counts, offsets, strict=True))]
    )
    return [image for batch in batches for image in batch]


def _generate_caller(gate: Gate, entry: Entry) -> Any:
    """The `generate` hook of `entry`'s plugin alone, made once per catalog entry (a new
    catalog, after plugins change, has new entries)."""
    cache = gate._generate_callers
    found = cache.get(id(entry))
    if found is not None and found[0] is entry:
        return found[1]
    pm = gate.plugin_manager
    caller = pm.subset_hook_caller(
        "generate", remove_plugins=[p for p in pm.get_plugins() if p is not entry.plugin]
    )
    if len(cache) > 256:
        cache.clear()
    cache[id(entry)] = (entry, caller)
    return caller


def _complete(gate: Gate, image: GeneratedImage, request: ImageRequest, model: Model) -> None:
    """Fill what the plugin left out, check given bytes, and attach the loaders."""
    provider = model.provider
    image.provider = provider.id
    image.model = model.full_id
    if image.seed is None:
        image.seed = request.seed
    if image.width is None and image.height is None:
        image.width, image.height = request.width, request.height
    if image.data is not None:
        if len(image.data) > gate.max_image_bytes:
            raise too_large(provider, gate.max_image_bytes)
        image.mime_type = checked(image.data, provider, "the returned image")
    elif image.mime_type is None:
        image.mime_type = f"image/{provider.image_format}"
    fetcher, base_url = gate.fetcher, gate.base_url_for(provider)
    image._loader = lambda url: fetcher.load(url, provider, base_url)
    image._sync_loader = lambda url: fetcher.load_blocking(url, provider, base_url)


async def _within(seconds: float, work: Awaitable[T]) -> T:
    """`work`, or `TimeoutError` after `seconds`; in the caller's own task where asyncio
    can (3.11+: `asyncio.timeout`), which spares a task per request."""
    if _timeout is None:  # pragma: no cover - Python 3.10
        return await asyncio.wait_for(work, timeout=seconds)
    async with _timeout(seconds):
        return await work


_timeout = getattr(asyncio, "timeout", None)


async def gather_or_cancel(awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest and raise it (one awaitable
    runs in the caller's own task: nothing to run beside it)."""
    if len(awaitables) == 1:
        return [await awaitables[0]]
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
