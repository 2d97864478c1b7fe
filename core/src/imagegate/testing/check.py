"""`check_plugin`: a provider plugin's conformance check, reporting every problem at once.

    from imagegate.testing import check_plugin
    import imagegate_acme

    def test_conformance():
        check_plugin(imagegate_acme)                        # answers: PNG bytes
        # check_plugin(plugin, ok=Answer.openai_images())   # an OpenAI-style JSON service

What it checks: hook names and markers (the optional close, list_chat_models and chat too:
a chat list answering like list_models, both chat hooks or neither); model declarations
(unique ids and aliases, prefixes, ranges and defaults, families, size rules); `validate`
on its own and on other providers' models; `generate` against a scripted upstream: images
of the right count and shape, the right `imagegate.errors` class for 401, 403, 429 (with
Retry-After), 5xx and malformed answers, cancellation honoured within a second, and the
token in no message.

By default the upstream is a `FakeUpstream` answering every request with `ok` (one answer,
or a sequence for submit-then-poll protocols). A plugin whose service the fake cannot play
(a Gradio Space) passes `upstream=`: anything with `url` and `play(scenario) -> bool`
(False: cannot play it, skipped), optionally `requests_seen()` and `release()`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..models import ChatModel, Model
from .declarations import check_hooks, check_models
from .fake import Answer, FakeUpstream
from .scenarios import CHECK_TOKEN, RETRY_AFTER, SCENARIOS, Scenarios
from .validating import check_validate

__all__ = [
    "CHECK_TOKEN",
    "SCENARIOS",
    "CheckReport",
    "FakeStage",
    "PluginCheckFailed",
    "Upstream",
    "check_plugin",
    "plugin_problems",
]


class Upstream(Protocol):
    """What the check drives: where the plugin is pointed, and how to make it answer."""

    url: str

    def play(self, scenario: str) -> bool:
        """Answer the next requests as `scenario` (one of SCENARIOS) says; False: cannot."""
        ...


class FakeStage:
    """The default `Upstream`: a `FakeUpstream`, and `ok` as this plugin's success."""

    retry_after = RETRY_AFTER

    def __init__(self, fake: FakeUpstream, ok: Answer | Sequence[Answer]) -> None:
        self.fake = fake
        self.ok = [ok] if isinstance(ok, Answer) else list(ok)

    @property
    def url(self) -> str:
        return self.fake.url

    def play(self, scenario: str) -> bool:
        self.fake.reset()
        if scenario in ("ok", "slow"):
            answers = self.ok if scenario == "ok" else [self.ok[0].after(60), *self.ok[1:]]
            self.fake.answer(*answers[:-1])
            self.fake.always(answers[-1])
            return True
        self.fake.always(
            {
                "401": Answer.error(401, "Incorrect API key provided: {token}", code="bad_key"),
                "403": Answer.error(403, "This key may not use this model", code="forbidden"),
                "429": Answer.error(429, "Too many requests", retry_after=RETRY_AFTER),
                "500": Answer.error(500, "Internal server error"),
                "malformed": Answer.malformed(),
                "truncated": Answer.truncated_json(),
            }[scenario]
        )
        return True

    def requests_seen(self) -> int:
        return len(self.fake.requests)

    def release(self) -> None:
        self.fake.release()


@dataclass
class CheckReport:
    """What `check_plugin` found (`problems`), did (`checked`) and could not do (`skipped`)."""

    plugin: str
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        head = f"imagegate plugin check of {self.plugin}: "
        if self.ok:
            lines = [head + "no problems"]
        else:
            count = len(self.problems)
            lines = [head + f"{count} problem{'s' if count != 1 else ''}"]
            lines += [f"  - {problem}" for problem in self.problems]
        lines.append(f"  checked: {', '.join(self.checked) or 'nothing'}")
        if self.skipped:
            lines.append(f"  skipped: {', '.join(self.skipped)}")
        return "\n".join(lines)


class PluginCheckFailed(AssertionError):
    """Raised by `check_plugin` with the whole report (`report`)."""

    def __init__(self, report: CheckReport) -> None:
        super().__init__(str(report))
        self.report = report


def check_plugin(
    plugin: object,
    *,
    ok: Answer | Sequence[Answer] | None = None,
    upstream: Upstream | None = None,
    token: str = CHECK_TOKEN,
    skip: Iterable[str] = (),
) -> CheckReport:
    """Check `plugin` (a module or instance); raise `PluginCheckFailed` listing every
    problem, else return the report. `ok`: the fake upstream's success answer(s) (default
    a PNG); `upstream`: your own stage instead; `skip`: scenarios not to play."""
    report = run_check(plugin, ok=ok, upstream=upstream, token=token, skip=skip)
    if report.problems:
        raise PluginCheckFailed(report)
    return report


def plugin_problems(plugin: object, **options: Any) -> list[str]:
    """`check_plugin`'s problems as a list (empty when the plugin conforms)."""
    return run_check(plugin, **options).problems


def run_check(
    plugin: object,
    *,
    ok: Answer | Sequence[Answer] | None = None,
    upstream: Upstream | None = None,
    token: str = CHECK_TOKEN,
    skip: Iterable[str] = (),
) -> CheckReport:
    name = getattr(plugin, "__name__", None) or type(plugin).__name__
    report = CheckReport(plugin=name)
    report.problems += check_hooks(plugin)
    if report.problems and _is_class(plugin):
        return report
    from ..plugins import new_plugin_manager

    try:
        pm = new_plugin_manager([plugin])
    except Exception as exc:
        report.problems.append(f"pluggy refuses the plugin: {exc}")
        return report
    models = _models(pm, plugin, report)
    report.checked.append("hooks")
    if models is None:
        return report
    report.problems += check_models(models)
    report.checked.append(f"declarations of {len(models)} model(s)")
    own = [m for m in models if isinstance(m, Model)]
    if not own:
        return report
    check_validate(pm, own, report)
    if not _implements(pm, plugin, "generate") or not _chat_models_ok(pm, plugin, report):
        return report
    fake = None
    if upstream is None:
        fake = FakeUpstream().start()
        upstream = FakeStage(fake, ok or Answer.image())
    try:
        Scenarios(pm, plugin, own, upstream, token, report).run(set(skip))
    finally:
        if fake is not None:
            fake.stop()
    return report


def _is_class(plugin: object) -> bool:
    import inspect

    return inspect.isclass(plugin)


def _models(pm: Any, plugin: object, report: CheckReport) -> list[Any] | None:
    return _declared(pm, plugin, report, "list_models", "imagegate.Model")


def _chat_models_ok(pm: Any, plugin: object, report: CheckReport) -> bool:
    """The optional chat list answers like `list_models` (a Gate's catalog calls both)."""
    if not _implements(pm, plugin, "list_chat_models"):
        return True
    found = _declared(pm, plugin, report, "list_chat_models", "imagegate.ChatModel")
    wrong = [m for m in found or () if not isinstance(m, ChatModel)]
    for model in wrong:
        report.problems.append(
            f"list_chat_models returned a {type(model).__name__}; return imagegate.ChatModel"
        )
    return found is not None and not wrong


def _implements(pm: Any, plugin: object, hook: str) -> bool:
    return any(i.plugin is plugin for i in getattr(pm.hook, hook).get_hookimpls())


def _declared(
    pm: Any, plugin: object, report: CheckReport, hook: str, kind: str
) -> list[Any] | None:
    impls = [i for i in getattr(pm.hook, hook).get_hookimpls() if i.plugin is plugin]
    if not impls:
        return None
    try:
        answer = impls[0].function()
    except Exception as exc:
        report.problems.append(
            f"{hook} raised {type(exc).__name__}: {exc}; it must return the "
            "declarations without failing (no network, no configuration needed)"
        )
        return None
    if asyncio.iscoroutine(answer):
        answer.close()
        return None  # check_hooks said so already
    if isinstance(answer, (str, bytes, dict)) or not hasattr(answer, "__iter__"):
        report.problems.append(
            f"{hook} returned a {type(answer).__name__}; return a list of {kind}"
        )
        return None
    return list(answer)
