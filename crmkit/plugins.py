"""Plugin discovery (entry-point group ``crmkit``), loading, ordering and hook calls.

Installed is not enabled: every installed plugin is listed, but hooks are only
called for enabled ones.  A plugin that fails to import is *broken*: it is
listed with its error and every other command keeps working.
"""

from __future__ import annotations

import importlib
import logging
import re
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable

import attrs
import pluggy
from sqlalchemy import event

from . import hookspecs
from .db import concurrency_abort
from .errors import CRMError, PluginError
from .markers import PROJECT
from .models import PluginInfo

if TYPE_CHECKING:
    from .transaction import Transaction

log = logging.getLogger("crmkit.plugins")

ENTRY_POINT_GROUP = "crmkit"

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

    def call(self, hook: str, tx: "Transaction | None", after_each=None,
             **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every enabled plugin; return ``(plugin, result)`` pairs.

        ``ctx`` is built per plugin from ``tx``.  Exceptions are wrapped as
        :class:`PluginError` naming the plugin, except deliberate CRMErrors
        (see :func:`call_impl`).  ``after_each(plugin)``, when given, runs after each
        plugin's call: a check that blames that plugin.
        """
        results = []
        for name, function, argnames in self.impls(hook):
            results.append((name, call_impl(name, hook, function, argnames, tx, kwargs)))
            if after_each is not None:
                after_each(name)
        return results

    def call_one(self, plugin: str, hook: str, tx: "Transaction | None", **kwargs: Any) -> Any:
        """Call ``hook`` on one plugin (enabled or not); ``None`` if it does not implement it."""
        for impl in getattr(self._pm.hook, hook).get_hookimpls():
            if impl.plugin_name == plugin:
                return call_impl(plugin, hook, impl.function, tuple(impl.argnames), tx, kwargs)
        return None


RESULTS: dict[str, tuple[tuple[type, ...], str]] = {
    "crmkit_validate_customers": ((list, tuple), "a list of (index, field, message) or None"),
    "crmkit_validate_interactions": ((list, tuple), "a list of (index, field, message) or None"),
    "crmkit_sweep": ((dict,), "a dict of counts or None"),
    "crmkit_timeline": ((list, tuple), "a list of TimelineEntry or None"),
    "crmkit_event_types": ((dict,), "a dict {event type: description} or None"),
    "crmkit_routes": ((list, tuple), "a list of crmkit.plugin.Endpoint or None"),
    "crmkit_permissions": ((dict,), "a dict {permission: description} or None"),
    "crmkit_permission_allowed": ((bool,), "True, False or None"),
}
"""What the hooks whose result the core uses must return (as the hook specifications say)."""

RUNNING_HOOK = "crmkit_running_hook"
"""Key of ``Connection.info``: ``(plugin, hook)`` while a hook runs on that connection."""

_ENDS_TRANSACTION = re.compile(
    r"\s*(COMMIT|END|ABORT|ROLLBACK(?!\s+(WORK\s+|TRANSACTION\s+)?TO\b))\b", re.IGNORECASE)


def guard_transactions(engine) -> None:
    """Refuse, with a PluginError naming the plugin and the hook, a commit or rollback of the
    write transaction (``ctx.conn.commit()``, a ``COMMIT`` statement…) while a hook runs.

    The transaction belongs to the command: a hook that ended it would commit half a
    batch.  Savepoints (``ctx.conn.begin_nested()``) stay allowed.
    """
    def refuse(conn, *_args) -> None:
        running = conn.info.get(RUNNING_HOOK)
        if running is not None:
            raise PluginError(_ended_message(*running))

    def refuse_statement(conn, _cursor, statement, *_args) -> None:
        if conn.info.get(RUNNING_HOOK) is not None and _ENDS_TRANSACTION.match(statement):
            refuse(conn)

    event.listen(engine, "commit", refuse)
    event.listen(engine, "rollback", refuse)
    event.listen(engine, "before_cursor_execute", refuse_statement)


def _ended_message(plugin: str, hook: str) -> str:
    return (f"plugin {plugin!r} tried to end the transaction (commit or rollback) in {hook}: "
            "a hook must leave that to crmkit; nothing of this command was written")


def _transaction_state(conn) -> str:
    """``open``, ``failed`` (PostgreSQL: a statement failed) or ``none``, as the driver sees it."""
    driver = conn.connection.driver_connection
    info = getattr(driver, "info", None)
    if info is not None and hasattr(info, "transaction_status"):  # psycopg
        return {"INTRANS": "open", "INERROR": "failed"}.get(info.transaction_status.name, "none")
    return "open" if driver.in_transaction else "none"


def call_impl(plugin, hook, function, argnames, tx, kwargs):
    """Call one hook implementation with the arguments it asks for.

    Any exception but a deliberate CRMError (or a concurrency abort, which is not the
    plugin's doing) becomes a PluginError naming the plugin and hook; so do a result of
    the wrong type (:data:`RESULTS`), ending the transaction (:func:`guard_transactions`),
    and leaving it failed by swallowing a database error.
    """
    args = dict(kwargs)
    conn = None
    if "ctx" in argnames:
        if tx is None:
            raise PluginError(f"hook {hook} needs a transaction")
        args["ctx"] = tx.context(plugin)
        conn = tx.conn
    if conn is not None:
        before = _transaction_state(conn)
        outer = conn.info.get(RUNNING_HOOK)
        conn.info[RUNNING_HOOK] = (plugin, hook)
    try:
        result = function(**{k: args[k] for k in argnames})
    except CRMError:
        raise
    except Exception as exc:
        if concurrency_abort(exc) is not None:  # a concurrent transaction's doing, not the plugin's
            raise
        raise PluginError(
            f"plugin {plugin!r} failed in {hook}: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        if conn is not None:
            conn.info[RUNNING_HOOK] = outer
    if conn is not None and before == "open":
        after = _transaction_state(conn)
        if after == "none":  # past the guard: a COMMIT straight on the driver's connection
            raise PluginError(f"plugin {plugin!r} ended the transaction in {hook} on the "
                              "database driver's connection: a hook must leave that to "
                              "crmkit; what this command wrote before may be committed")
        if after == "failed":
            raise PluginError(f"plugin {plugin!r} left the transaction failed in {hook}: one of "
                              "its statements failed and it went on; nothing of this command "
                              "was written")
    expected = RESULTS.get(hook)
    if expected is not None and result is not None and not isinstance(result, expected[0]):
        raise PluginError(f"plugin {plugin!r}: {hook} must return {expected[1]}, "
                          f"got {type(result).__name__}")
    return result


__all__ = [
    "ENTRY_POINT_GROUP", "InstalledPlugin", "discover", "load", "new_manager", "register",
    "dependency_order", "HookCaller", "call_impl", "RESULTS", "RUNNING_HOOK", "guard_transactions",
]
