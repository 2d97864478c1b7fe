"""Testing a provider plugin: a scripted fake upstream, gates for one plugin, and
`check_plugin`, the conformance check. Installed with imagegate as a pytest plugin, so
these fixtures need no import:

    fake_upstream   a `FakeUpstream` on a free loopback port, fresh for each test
    gate_for        gate_for(plugin, upstream=None, token=None, **settings) -> Gate
                    (only that plugin, state in memory, pointed at the upstream, closed after)

    from imagegate.testing import Answer, check_plugin

    def test_conformance():
        check_plugin(imagegate_acme)

    def test_rate_limit(fake_upstream, gate_for):
        fake_upstream.always(Answer.error(429, retry_after=7))
        with pytest.raises(imagegate.errors.RateLimited):
            gate_for(imagegate_acme, fake_upstream).generate("a cat", model="acme/flux")

See docs/plugins.md, "Testing a plugin".
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from .answers import Answer, Received
    from .check import (
        CheckReport,
        FakeStage,
        PluginCheckFailed,
        Upstream,
        check_plugin,
        plugin_problems,
    )
    from .fake import FakeUpstream
    from .gates import gate_for
    from .images import png
    from .scenarios import CHECK_TOKEN, SCENARIOS

__all__ = [
    "CHECK_TOKEN",
    "SCENARIOS",
    "Answer",
    "CheckReport",
    "FakeStage",
    "FakeUpstream",
    "PluginCheckFailed",
    "Received",
    "Upstream",
    "check_plugin",
    "gate_for",
    "plugin_problems",
    "png",
]

# Imported on first use: pytest loads this package at start-up for every project that has
# imagegate installed, and must pay nothing for it.
_LAZY = {
    "CheckReport": ".check",
    "FakeStage": ".check",
    "PluginCheckFailed": ".check",
    "Upstream": ".check",
    "check_plugin": ".check",
    "plugin_problems": ".check",
    "Answer": ".answers",
    "FakeUpstream": ".fake",
    "Received": ".answers",
    "gate_for": ".gates",
    "png": ".images",
    "CHECK_TOKEN": ".scenarios",
    "SCENARIOS": ".scenarios",
}


def __getattr__(name: str) -> typing.Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'imagegate.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
