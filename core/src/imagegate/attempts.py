"""One provider call, made to succeed if it can: healthy tokens first, the next token on a
quota, rate limit, refusal or bad key, backoff and retry on transient failures, all inside
the request's deadline. What each answer says of a token goes to key health.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from .context import GenerateContext
from .errors import (
    AuthError,
    AuthInvalid,
    AuthRequired,
    ImagegateError,
    PermissionDenied,
    ProviderError,
    ProviderUnreachable,
    QuotaExceeded,
    RateLimited,
    Timeout,
)
from .fetch import host_of
from .health import COOLING, INVALID, KeyHealth, Verdict, describe_wait
from .models import Model
from .request import ImageRequest
from .results import GeneratedImage

__all__ = ["call_provider"]

_NEXT_TOKEN = (QuotaExceeded, PermissionDenied, AuthError, RateLimited)
"""Failures tied to the token: another token may succeed at once."""


async def call_provider(
    caller: Callable[..., list[Any]],
    request: Any,
    model: Any,
    tokens: Sequence[str],
    context: GenerateContext,
    *,
    health: KeyHealth,
    retries: int,
    invoke: Callable[..., Awaitable[Any]] | None = None,
) -> Any:
    """The answer of `caller` (a hook caller) for `request`: images by default, or what
    `invoke(caller, request, model, token, context)` makes of one call (chat)."""
    invoke = invoke or _invoke
    provider = model.provider
    if not tokens and provider.auth == "required":
        raise AuthRequired(
            f"{provider.display_name} needs a token"
            + (f" (get one at {provider.key_url})" if provider.key_url else ""),
            provider=provider.id,
            hint=f"pass a token (--token, token=), set {provider.token_env[0]}, "
            f"or run `imagegate keys set {provider.id}`",
        )
    keys: list[str | None] = list(tokens) if tokens else [None]
    attempt = 0
    failure: ImagegateError | None = None
    while True:
        verdict = await health.check(provider, model, keys)
        if not verdict.usable:
            wait = _wait_for_rate_limit(verdict, failure, health, attempt, retries, context)
            if wait is None:
                raise _nothing_usable(verdict, failure, model, health)
            attempt += 1
            context.report("retrying", message=f"rate limited: retrying in {wait:.1f}s")
            await asyncio.sleep(wait)
            continue
        transient: ImagegateError | None = None
        for token in verdict.usable:
            try:
                return await invoke(caller, request, model, token, context)
            except _NEXT_TOKEN as exc:
                delay = _backoff(attempt + 1, None)
                if await health.learn(provider, model, token, exc, default_wait=delay) is None:
                    raise  # nothing to learn (a plugin's own AuthRequired): no other token helps
                failure = exc
            except ImagegateError as exc:
                if not exc.transient:
                    raise
                transient = failure = exc
                break
        if transient is None:
            continue  # every usable token failed for token reasons: look again
        attempt += 1
        delay = _backoff(attempt, transient.retry_after)
        if attempt > retries or delay >= context.remaining():
            transient.attempts = attempt
            raise transient
        context.report("retrying", message=f"{transient.code}: retrying in {delay:.1f}s")
        await asyncio.sleep(delay)


def _wait_for_rate_limit(
    verdict: Verdict,
    failure: ImagegateError | None,
    health: KeyHealth,
    attempt: int,
    retries: int,
    context: GenerateContext,
) -> float | None:
    """How long to wait for a rate-limited token within this call, or None to give up."""
    if not isinstance(failure, RateLimited) or isinstance(failure, QuotaExceeded):
        return None
    if any(s.code == QuotaExceeded.code or s.state == INVALID for s in verdict.blocked):
        return None
    soonest = verdict.soonest()
    if soonest is None or attempt >= retries:
        return None
    wait = max(0.0, soonest - health.clock())
    return wait if wait < context.remaining() else None


def _nothing_usable(
    verdict: Verdict, failure: ImagegateError | None, model: Model, health: KeyHealth
) -> ImagegateError:
    """The error for "no token can be used now": when the first is back, and why each is not."""
    provider = model.provider
    blocked = verdict.blocked
    if len(blocked) == 1 and failure is not None:
        return _with_wait(failure, verdict, health)
    reasons = "; ".join(_describe(state, health) for state in blocked)
    who = "anonymous use" if blocked and blocked[0].fingerprint == "anonymous" else "no token"
    soonest = verdict.soonest()
    message = f"{provider.display_name}: {who} is usable now for {model.full_id} ({reasons})"
    hint = f"add another token with `imagegate keys set {provider.id}`; see `imagegate keys status`"
    if soonest is not None:
        wait = max(1.0, soonest - health.clock())
        message += f"; the first is usable again in {describe_wait(wait)}"
        cooling = [s for s in blocked if s.state == COOLING]
        kind: type[ImagegateError] = RateLimited
        if any(s.code == QuotaExceeded.code for s in cooling):
            kind = QuotaExceeded
        elif all(s.code == PermissionDenied.code for s in cooling):
            kind = PermissionDenied  # the plans refuse this model: not a matter of waiting
        return kind(message, provider=provider.id, retry_after=wait, hint=hint)
    if isinstance(failure, (AuthError, PermissionDenied)) and len(blocked) == 1:
        return failure
    if any(s.code == PermissionDenied.code for s in blocked):
        return PermissionDenied(message, provider=provider.id, hint=hint)
    return AuthInvalid(message, provider=provider.id, hint=hint)


def _with_wait(failure: ImagegateError, verdict: Verdict, health: KeyHealth) -> ImagegateError:
    """The provider's own error, saying when the token is usable again."""
    soonest = verdict.soonest()
    if soonest is not None and failure.retry_after is None:
        failure.retry_after = max(1.0, soonest - health.clock())
    return failure


def _describe(state: Any, health: KeyHealth) -> str:
    who = "anonymous" if state.fingerprint == "anonymous" else f"token {state.fingerprint}"
    if state.state == INVALID:
        return f"{who} rejected ({state.code})"
    left = describe_wait(max(0.0, (state.until or 0) - health.clock()))
    what = {"QUOTA_EXCEEDED": "out of quota", "PERMISSION_DENIED": "not allowed"}.get(
        state.code or "", "rate limited"
    )
    scope = f" for {state.model}" if state.model else ""
    return f"{who} {what}{scope} for {left} more"


async def _invoke(
    caller: Callable[..., list[Any]],
    request: ImageRequest,
    model: Model,
    token: str | None,
    context: GenerateContext,
) -> list[GeneratedImage]:
    """One hook call, every failure mapped to `imagegate.errors` naming the provider."""
    provider = model.provider
    with mapped_failures(model, context):
        answers = caller(request=request, model=model, token=token, context=context)
        if not answers:
            raise ProviderError(
                f"the {provider.id} plugin has no generate hook", provider=provider.id
            )
        images = answers[0]
        if inspect.isawaitable(images):
            images = await images
    if not isinstance(images, list) or not images:
        raise ProviderError(f"{provider.display_name} returned no image", provider=provider.id)
    return images


@contextlib.contextmanager
def mapped_failures(model: Any, context: GenerateContext) -> Iterator[None]:
    """Every failure inside as `imagegate.errors`, naming the provider (for any hook)."""
    import httpx

    provider = model.provider
    try:
        yield
    except ImagegateError as exc:
        if exc.provider is None:
            exc.provider = provider.id
        raise
    except asyncio.CancelledError:
        raise
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.NetworkError) as exc:
        # the aiohttp transport reports a refused connection as ConnectTimeout
        raise ProviderUnreachable(
            f"cannot reach {provider.display_name} at {host_of(context.base_url)} "
            f"({type(exc.__cause__ or exc).__name__}); check the network",
            provider=provider.id,
            hint=f"or point {provider.base_url_env} elsewhere",
        ) from None
    except httpx.TimeoutException:
        raise Timeout(
            f"{provider.display_name} did not answer in time ({host_of(context.base_url)})",
            provider=provider.id,
            transient=True,
        ) from None
    except httpx.TransportError as exc:
        raise ProviderUnreachable(
            f"{provider.display_name} at {host_of(context.base_url)} failed mid-request "
            f"({type(exc.__cause__ or exc).__name__})",
            provider=provider.id,
        ) from None
    except Exception as exc:
        raise ProviderError(
            f"{provider.display_name} failed: {type(exc).__name__}: {exc}", provider=provider.id
        ) from exc


def _backoff(attempt: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    return min(8.0, 0.5 * 2 ** (attempt - 1)) * (0.5 + random.random())
