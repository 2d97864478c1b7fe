"""`gate_for`: a `Gate` that sees one plugin, pointed at a fake upstream, for tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..gate import Gate
    from .fake import FakeUpstream

__all__ = ["TEST_TOKEN", "gate_for"]

TEST_TOKEN = "test-token-0001"
_DEFAULT = object()


def gate_for(
    plugin: object,
    upstream: FakeUpstream | str | None = None,
    *,
    token: Any = _DEFAULT,
    **settings: Any,
) -> Gate:
    """A `Gate` with only `plugin` (no installed plugins, no stored keys, state in memory,
    no retries unless `retries=` says so), every provider of the plugin pointed at
    `upstream` (a `FakeUpstream` or a URL). `token` goes to every provider; by default
    `TEST_TOKEN` to those that require one. Other keywords are `Gate` settings."""
    from ..catalog import Catalog
    from ..gate import Gate
    from ..plugins import new_plugin_manager

    providers = Catalog(new_plugin_manager([plugin])).providers.values()
    url = getattr(upstream, "url", upstream)
    tokens = {}
    for provider in providers:
        value = (
            (TEST_TOKEN if provider.auth == "required" else None) if token is _DEFAULT else token
        )
        if value:
            tokens[provider.id] = value
    options: dict[str, Any] = {"state": "memory", "retries": 0, "use_stored_tokens": False}
    options.update(settings)
    return Gate(
        plugins=[plugin],
        base_urls={p.id: url for p in providers} if url else None,
        tokens=tokens or None,
        **options,
    )
