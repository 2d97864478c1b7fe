"""The plugin manager: built-in plugins, entry points of group `imagegate`, loaded once.

`IMAGEGATE_LOAD_PLUGINS=a,b` limits which entry points load (empty: none);
`IMAGEGATE_PLUGINS=pkg.module,pkg.other:obj` registers extra plugins by import path;
`IMAGEGATE_TRACE_PLUGINS=1` prints every hook call to stderr, tokens redacted.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import pluggy

from . import hookspecs

__all__ = ["PluginInfo", "get_plugin_manager", "new_plugin_manager", "plugin_info", "register"]

ENTRY_POINT_GROUP = "imagegate"
BUILTIN_PLUGINS = ("imagegate.validation",)


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin came from: its name, and its distribution when installed."""

    name: str
    distribution: str | None = None
    version: str | None = None


_manager: pluggy.PluginManager | None = None
_info: dict[int, PluginInfo] = {}


def new_plugin_manager(
    plugins: Iterable[object] = (), *, entry_points: bool = False
) -> pluggy.PluginManager:
    """A manager with the built-in plugins, `plugins`, and optionally the installed ones."""
    pm = pluggy.PluginManager("imagegate")
    pm.add_hookspecs(hookspecs)
    for dotted in BUILTIN_PLUGINS:
        pm.register(importlib.import_module(dotted), name=dotted)
    for plugin in plugins:
        pm.register(plugin)
    if entry_points:
        _load_entry_points(pm)
        _load_named_plugins(pm, os.environ.get("IMAGEGATE_PLUGINS", ""))
    if os.environ.get("IMAGEGATE_TRACE_PLUGINS") == "1":
        pm.add_hookcall_monitoring(_trace_before, _trace_after)
    return pm


# Hook arguments that carry a credential; printed as <redacted> (a server would otherwise
# print every caller's token).
_SECRET_ARGUMENTS = frozenset({"token", "tokens", "api_key", "secret", "password"})
_TRACE_WIDTH = 300


def _shown(name: str, value: object) -> str:
    if name in _SECRET_ARGUMENTS:
        return "None" if value is None else "<redacted>"
    text = repr(value)
    return text if len(text) <= _TRACE_WIDTH else text[: _TRACE_WIDTH - 3] + "..."


def _trace_before(hook_name: str, hook_impls: list, kwargs: dict) -> None:
    arguments = ", ".join(f"{name}={_shown(name, value)}" for name, value in kwargs.items())
    plugins = ", ".join(impl.plugin_name for impl in hook_impls)
    print(f"imagegate: hook {hook_name}({arguments}) -> [{plugins}]", file=sys.stderr)


def _trace_after(outcome: pluggy.Result, hook_name: str, hook_impls: list, kwargs: dict) -> None:
    failed = outcome.exception
    ending = f"raised {type(failed).__name__}" if failed else "returned"
    print(f"imagegate: hook {hook_name} {ending}", file=sys.stderr)


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide manager, with installed plugins loaded on first use."""
    global _manager
    if _manager is None:
        _manager = new_plugin_manager(entry_points=True)
    return _manager


def register(plugin: object, name: str | None = None) -> None:
    """Register a plugin object (a module or an instance) with the process-wide manager;
    registering one already there does nothing."""
    pm = get_plugin_manager()
    if not pm.is_registered(plugin):
        pm.register(plugin, name=name)


def plugin_info(plugin: object) -> PluginInfo:
    return _info.get(id(plugin), PluginInfo(name=getattr(plugin, "__name__", repr(plugin))))


def _load_named_plugins(pm: pluggy.PluginManager, spec: str) -> None:
    """Register `module` or `module:attribute` plugins named in IMAGEGATE_PLUGINS, so a
    plugin can be tried (or tested in a subprocess) before it is packaged."""
    for name in (part.strip() for part in spec.split(",")):
        if not name or pm.has_plugin(name):
            continue
        module_name, _, attribute = name.partition(":")
        try:
            plugin = importlib.import_module(module_name)
            if attribute:
                plugin = getattr(plugin, attribute)
        except Exception as exc:
            _warn_failed(name, exc)
            continue
        if pm.is_registered(plugin):  # installed too: its entry point already loaded it
            continue
        pm.register(plugin, name=name)


def _warn_failed(name: str, exc: Exception) -> None:
    print(
        f"imagegate: warning: plugin {name!r} failed to load "
        f"({type(exc).__name__}: {exc}); continuing without it",
        file=sys.stderr,
    )


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    from importlib.metadata import entry_points

    allowed = os.environ.get("IMAGEGATE_LOAD_PLUGINS")
    wanted = None if allowed is None else {n.strip() for n in allowed.split(",") if n.strip()}
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and entry_point.name not in wanted:
            continue
        if pm.get_plugin(entry_point.name) is not None:
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:  # one broken plugin must not break the others
            _warn_failed(entry_point.name, exc)
            continue
        pm.register(plugin, name=entry_point.name)
        dist = entry_point.dist
        _info[id(plugin)] = PluginInfo(
            name=entry_point.name,
            distribution=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
        )
