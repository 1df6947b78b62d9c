"""Plugin discovery (entry-point group ``crmkit``), loading, ordering and hook calls.

Installed is not enabled: every installed plugin is listed, but hooks are only
called for enabled ones.  A plugin that fails to import is *broken*: it is
listed with its error and every other command keeps working.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable

import attrs
import pluggy

from . import hookspecs
from .errors import CRMError, PluginError
from .markers import PROJECT
from .models import PluginInfo

if TYPE_CHECKING:
    from .transaction import Transaction

log = logging.getLogger("crmkit.plugins")

ENTRY_POINT_GROUP = "crmkit"

# Hooks that describe one plugin: called on that plugin alone.
PER_PLUGIN_HOOKS = frozenset(
    {
        "crmkit_config_schema",
        "crmkit_migrations",
        "crmkit_tables",
        "crmkit_cli",
        "crmkit_plugin_api",
        "crmkit_event_types",
        "crmkit_customer_schema",
    }
)


@attrs.define
class InstalledPlugin:
    """One installed plugin: where it comes from, its module once loaded, or its load error."""

    name: str
    source: str
    version: str
    module: ModuleType | None = None
    error: str | None = None

    @property
    def info(self) -> PluginInfo:
        """The plugin's declared metadata (``PLUGIN`` in its module)."""
        info = getattr(self.module, "PLUGIN", None)
        if not isinstance(info, PluginInfo):
            return PluginInfo(name=self.name, description="(no PLUGIN metadata)")
        return info

    @property
    def broken(self) -> bool:
        """True when the plugin could not be imported or registered."""
        return self.error is not None


def discover() -> dict[str, InstalledPlugin]:
    """Find every plugin of the entry-point group without importing it."""
    from .entrypoints import entry_points

    found: dict[str, InstalledPlugin] = {}
    for ep in entry_points(ENTRY_POINT_GROUP):
        found.setdefault(ep.name, InstalledPlugin(ep.name, ep.value, ep.version))
    return found


def load(plugin: InstalledPlugin) -> InstalledPlugin:
    """Import a discovered plugin's module; a failure marks it broken with the error."""
    if plugin.module is not None or plugin.error is not None:
        return plugin
    try:
        module_name, _, attr = plugin.source.partition(":")
        module = importlib.import_module(module_name)
        plugin.module = getattr(module, attr) if attr else module
    except Exception as exc:  # a broken plugin must never break the CLI
        plugin.error = f"{type(exc).__name__}: {exc}"
        log.info("plugin %s failed to import: %s", plugin.name, plugin.error)
        return plugin
    info = getattr(plugin.module, "PLUGIN", None)
    if isinstance(info, PluginInfo) and info.name != plugin.name:
        plugin.error = f"PLUGIN.name is {info.name!r} but the entry point is named {plugin.name!r}"
    return plugin


def new_manager() -> pluggy.PluginManager:
    """A pluggy manager with crmkit's hook specifications."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def register(pm: pluggy.PluginManager, plugin: InstalledPlugin) -> None:
    """Register a loaded plugin; a hook argument unknown to the spec marks it broken."""
    if plugin.broken or pm.has_plugin(plugin.name):
        return
    try:
        pm.register(plugin.module, name=plugin.name)
    except pluggy.PluginValidationError as exc:
        plugin.error = f"invalid hook implementation: {exc}"


def dependency_order(plugins: dict[str, PluginInfo]) -> list[str]:
    """Order plugin names so each comes after those it requires and those it declares
    ``after``; ties by name.

    Requirements outside ``plugins`` are ignored here (enable checks them).
    """
    everyone = {name for name, info in plugins.items() if "*" not in info.after}
    before: dict[str, set[str]] = {}
    for name, info in plugins.items():
        wanted = set(info.requires) | (set(info.after) - {"*"})
        if "*" in info.after:
            wanted |= everyone
        before[name] = (wanted & set(plugins)) - {name}
    ordered: list[str] = []
    placed: set[str] = set()
    remaining = sorted(plugins)
    while remaining:
        progress = False
        for name in list(remaining):
            needs = before[name]
            if all(r in placed for r in needs):
                ordered.append(name)
                placed.add(name)
                remaining.remove(name)
                progress = True
                break
        if not progress:
            raise PluginError("plugin requirements form a cycle: " + ", ".join(remaining))
    return ordered


class HookCaller:
    """Calls hooks of the enabled plugins, in dependency order, each with its own context."""

    def __init__(self, pm: pluggy.PluginManager, order: Iterable[str]):
        self._pm = pm
        self.order = list(order)
        self._impls: dict[str, list[tuple[str, Any, tuple[str, ...]]]] = {}

    def impls(self, hook: str) -> list[tuple[str, Any, tuple[str, ...]]]:
        """``(plugin, function, argnames)`` of the enabled plugins implementing ``hook``."""
        cached = self._impls.get(hook)
        if cached is None:
            by_plugin = {
                impl.plugin_name: (impl.function, tuple(impl.argnames))
                for impl in getattr(self._pm.hook, hook).get_hookimpls()
            }
            cached = [(name, *by_plugin[name]) for name in self.order if name in by_plugin]
            self._impls[hook] = cached
        return cached

    def call(self, hook: str, tx: "Transaction | None", **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every enabled plugin; return ``(plugin, result)`` pairs.

        ``ctx`` is built per plugin from ``tx``.  Exceptions are wrapped as
        :class:`PluginError` naming the plugin, except deliberate CRMErrors.
        """
        results = []
        for name, function, argnames in self.impls(hook):
            results.append((name, call_impl(name, hook, function, argnames, tx, kwargs)))
        return results

    def call_one(self, plugin: str, hook: str, tx: "Transaction | None", **kwargs: Any) -> Any:
        """Call ``hook`` on one plugin (enabled or not); ``None`` if it does not implement it."""
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin:
                return call_impl(plugin, hook, impl.function, tuple(impl.argnames), tx, kwargs)
        return None


def call_impl(plugin, hook, function, argnames, tx, kwargs):
    """Call one hook implementation with the arguments it asks for."""
    args = dict(kwargs)
    if "ctx" in argnames:
        if tx is None:
            raise PluginError(f"hook {hook} needs a transaction")
        args["ctx"] = tx.context(plugin)
    try:
        return function(**{k: args[k] for k in argnames})
    except CRMError:
        raise
    except Exception as exc:
        raise PluginError(
            f"plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {exc}"
        ) from exc


__all__ = [
    "ENTRY_POINT_GROUP", "PER_PLUGIN_HOOKS", "InstalledPlugin", "discover", "load", "new_manager",
    "register", "dependency_order", "HookCaller", "call_impl",
]
