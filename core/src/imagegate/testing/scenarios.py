"""The part of `check_plugin` that calls `generate`: against an upstream playing each
scenario (a good answer, errors, malformed bodies, a slow answer to cancel), on an event
loop of its own thread."""

from __future__ import annotations

import asyncio
import inspect
import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING, Any

from .. import errors
from ..context import GenerateContext
from ..models import Model, Provider
from .loop import Stalled, ThreadLoop
from .shapes import shape_problems, short, texts_of, unusable
from .validating import resolved

if TYPE_CHECKING:
    import pluggy

    from .check import CheckReport, Upstream

__all__ = ["CHECK_TOKEN", "RETRY_AFTER", "SCENARIOS", "Scenarios"]

CHECK_TOKEN = "igcheck-7f3a9c2e41d8"
"""The token the check hands the plugin: distinctive, so a message quoting it is found."""
SCENARIOS = ("ok", "401", "403", "429", "500", "malformed", "truncated", "slow")
RETRY_AFTER = 7
CANCEL_WITHIN = 1.0
"""Seconds a cancelled `generate` may take to stop."""
CALL_TIMEOUT = 30.0
STALL = 2.0
"""Seconds the check's event loop may stay unresponsive before the plugin is said to
block it."""

_EXPECTED: dict[str, tuple[tuple[type[errors.ImagegateError], ...], str]] = {
    "401": ((errors.AuthError,), "AuthInvalid (or AuthExpired)"),
    "403": ((errors.PermissionDenied, errors.AuthError), "PermissionDenied (or an AuthError)"),
    "429": ((errors.RateLimited,), "RateLimited (QuotaExceeded when it says quota)"),
    "500": ((errors.ProviderError,), "ProviderError(transient=True)"),
    "malformed": ((errors.ProviderError, errors.GenerationFailed), "ProviderError"),
    "truncated": ((errors.ProviderError, errors.GenerationFailed), "ProviderError"),
}
_SAID = {
    "ok": "a good answer",
    "401": "a 401 answer",
    "403": "a 403 answer",
    "429": "a 429 answer",
    "500": "a 500 answer",
    "malformed": "a 200 answer with an HTML page for a body",
    "truncated": "a 200 answer with a JSON body cut off",
}
_MAPPING = "imagegate.upstream.error_for_response(response, provider=...) maps answers"


class Scenarios:
    def __init__(
        self,
        pm: pluggy.PluginManager,
        plugin: object,
        models: list[Model],
        upstream: Upstream,
        token: str,
        report: CheckReport,
    ) -> None:
        self.plugin, self.models, self.upstream = plugin, models, upstream
        self.token, self.report = token, report
        others = [p for p in pm.get_plugins() if p is not plugin]
        self.caller = pm.subset_hook_caller("generate", remove_plugins=others)
        self.raised: list[tuple[str, BaseException]] = []
        self.warnings: list[str] = []
        self.client: Any = None

    def problem(self, text: str) -> None:
        self.report.problems.append(text)

    def run(self, skip: set[str]) -> None:
        with ThreadLoop() as self.loop:
            self.loop.run(self._open(), 15)
            try:
                if "ok" not in skip:
                    self.success()
                for name in ("401", "403", "429", "500", "malformed", "truncated"):
                    if name in skip:
                        self.report.skipped.append(name)
                    elif name in ("401", "403") and self.models[0].provider.auth == "none":
                        self.report.skipped.append(f"{name} (auth is none)")
                    else:
                        self.failure(name)
                if "slow" in skip:
                    self.report.skipped.append("slow")
                else:
                    self.cancellation()
            finally:
                self._release()
                self.loop.run(self._close(), 15)
        self.leaks()

    # -- calls ----------------------------------------------------------------------------

    async def _open(self) -> None:
        from ..http import new_async_client

        self.client = new_async_client(CALL_TIMEOUT)

    async def _close(self) -> None:
        await self.client.aclose()

    def token_for(self, model: Model) -> str | None:
        return None if model.provider.auth == "none" else self.token

    async def call(self, model: Model, n: int = 1, timeout: float = CALL_TIMEOUT) -> Any:
        request = resolved(model, n=n)
        context = GenerateContext(
            client=self.client,
            base_url=self.upstream.url,
            deadline=time.monotonic() + timeout,
            provider=model.provider.id,
            model=model.full_id,
        )
        answers = self.caller(
            request=request, model=model, token=self.token_for(model), context=context
        )
        images = answers[0] if answers else None
        if inspect.isawaitable(images):
            images = await images
        self.warnings += context.warnings
        return images

    def play(self, scenario: str) -> bool:
        if self.upstream.play(scenario):
            return True
        self.report.skipped.append(f"{scenario} (the upstream cannot play it)")
        return False

    def _release(self) -> None:
        release = getattr(self.upstream, "release", None)
        if release is not None:
            release()

    # -- scenarios ------------------------------------------------------------------------

    def success(self) -> None:
        before = len(self.report.problems)
        for model in self.models:
            n = min(2, max(1, model.capabilities.max_images_per_call))
            if not self.play("ok"):
                return
            try:
                images = self.loop.run(self.call(model, n), CALL_TIMEOUT + 5)
            except FutureTimeout:
                self.problem(f"generate for {model.full_id} did not finish in {CALL_TIMEOUT:g} s")
                continue
            except Exception as exc:
                self.raised.append(("ok", exc))
                self.problem(
                    f"generate for {model.full_id} raised {type(exc).__name__} on a good "
                    f"answer: {short(exc)}"
                )
                continue
            for text in self.loop.run(shape_problems(images, n, self.client), CALL_TIMEOUT):
                self.problem(f"generate for {model.full_id}: {text}")
        self.report.checked.append(f"generate for {len(self.models)} model(s)")
        if len(self.report.problems) == before and self.play("ok"):
            self.loop.run(self.through_gate(self.models[0]), CALL_TIMEOUT + 5)

    async def through_gate(self, model: Model) -> None:
        """The whole pipeline once: routing, tokens, checks, base64."""
        from ..gate import Gate

        provider = model.provider
        token = self.token_for(model)
        gate = Gate(
            plugins=[self.plugin],
            base_urls={provider.id: self.upstream.url},
            tokens={provider.id: token} if token else None,
            use_stored_tokens=False,
            state="memory",
            retries=0,
            timeout=CALL_TIMEOUT,
        )
        async with gate:
            try:
                result = await gate.agenerate(
                    "a lighthouse at dawn", model=model.full_id, response_format="b64_json"
                )
            except Exception as exc:
                self.problem(f"imagegate.Gate could not generate with {model.full_id}: {exc}")
                return
        if len(result.images) != 1 or result.images[0].data is None:
            self.problem(f"imagegate.Gate got {len(result.images)} images for n=1")
        self.report.checked.append("a Gate generation")

    def failure(self, name: str) -> None:
        model = self.models[0]
        if not self.play(name):
            return
        expected, wanted = _EXPECTED[name]
        said = _SAID[name]
        try:
            images = self.loop.run(self.call(model), CALL_TIMEOUT + 5)
        except FutureTimeout:
            self.problem(f"on {said}, generate did not finish in {CALL_TIMEOUT:g} s")
            return
        except Exception as exc:
            self.raised.append((name, exc))
            self.judge(name, exc, expected, wanted, model.provider)
        else:
            if name in ("malformed", "truncated") and unusable(images):
                pass  # the core checks every image and reports it as a ProviderError
            else:
                self.problem(f"on {said}, generate returned instead of raising {wanted}")
        self.report.checked.append(name)

    def judge(
        self,
        name: str,
        exc: Exception,
        expected: tuple[type[errors.ImagegateError], ...],
        wanted: str,
        provider: Provider,
    ) -> None:
        said = _SAID[name]
        if not isinstance(exc, errors.ImagegateError):
            self.problem(
                f"on {said}, generate raised {type(exc).__name__} ({short(exc)}); raise "
                f"imagegate.errors.{wanted} instead ({_MAPPING})"
            )
            return
        if not isinstance(exc, expected):
            self.problem(
                f"on {said}, generate raised {type(exc).__name__} ({exc.code}); "
                f"expected {wanted} ({_MAPPING})"
            )
        if name == "500" and not exc.transient:
            self.problem(
                f"on {said}, the ProviderError is not transient=True, so it is not retried"
            )
        wait = getattr(self.upstream, "retry_after", None)
        if name == "429" and wait is not None and isinstance(exc, errors.RateLimited):
            self._check_wait(exc, wait)
        if exc.provider not in (None, provider.id):
            self.problem(
                f"on {said}, the error names provider {exc.provider!r}, not {provider.id!r}; "
                "leave provider unset (the core fills it in) or use your Provider's id"
            )
        if not exc.message.strip():
            self.problem(f"on {said}, the error has an empty message; say what went wrong")

    def _check_wait(self, exc: errors.RateLimited, wait: float) -> None:
        if exc.retry_after is None or abs(exc.retry_after - wait) > 1:
            self.problem(
                f"on a 429 with Retry-After: {wait}, retry_after is {exc.retry_after!r}; "
                "read the header (imagegate.errors.retry_after_seconds, or the upstream mapping)"
            )

    def cancellation(self) -> None:
        model = self.models[0]
        if not self.play("slow"):
            return
        seen = getattr(self.upstream, "requests_seen", None)
        before = seen() if seen else 0

        async def scenario() -> tuple[str, asyncio.Future[Any]]:
            task = asyncio.ensure_future(self.call(model, timeout=120))
            deadline = time.monotonic() + 5
            while not task.done() and time.monotonic() < deadline:
                if seen is not None and seen() > before:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)  # let it settle into waiting for the answer
            if task.done():
                return "finished", task
            task.cancel()
            done, _ = await asyncio.wait([task], timeout=CANCEL_WITHIN)
            return ("stopped" if done else "late"), task

        try:
            outcome, task = self.loop.run(scenario(), 10, stall=STALL)
        except (FutureTimeout, Stalled):
            self.problem(
                "generate blocked the event loop while waiting for a slow answer; await the "
                "shared context.client (or run blocking work with asyncio.to_thread)"
            )
            self._release()
            return
        self.report.checked.append("cancellation")
        if outcome == "finished":
            self.report.checked.pop()
            self.report.skipped.append("slow (generate ended before it could be cancelled)")
            if not task.cancelled() and task.exception() is not None:
                self.raised.append(("slow", task.exception()))
        elif outcome == "late":
            self.problem(
                f"generate was still running {CANCEL_WITHIN:g} s after it was cancelled; "
                "await the shared context.client and let asyncio.CancelledError propagate"
            )
            self._release()
        elif not task.cancelled():
            error = task.exception()
            if error is None:
                self.problem(
                    "generate returned after it was cancelled; let asyncio.CancelledError "
                    "propagate (do not catch it, or BaseException)"
                )
            else:
                self.problem(
                    f"generate raised {type(error).__name__} when cancelled; let "
                    "asyncio.CancelledError propagate (do not catch it, or BaseException)"
                )

    def leaks(self) -> None:
        token = self.token
        for name, exc in self.raised:
            if any(token in text for text in texts_of(exc)):
                self.problem(
                    f"the error for {_SAID.get(name, name)} contains the token; pass "
                    "secrets=[token] to imagegate.upstream.error_for_response, or "
                    "imagegate.errors.redact(text, [token]) before quoting the provider"
                )
        if any(token in warning for warning in self.warnings):
            self.problem("a warning (context.warn) contains the token; never quote it")
