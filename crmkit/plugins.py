"""Plugin discovery (entry-point group ``crmkit``), loading, ordering and hook calls.

Installed is not enabled: every installed plugin is listed, but hooks are only
called for enabled ones.  A plugin that fails to import is *broken*: it is
listed with its error and every other command keeps working.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import inspect
import logging
import os
import re
import sys
from pathlib import Path
from pprint import pprint
from types import ModuleType
from typing import TYPE_CHECKING, Any, Iterable

import attrs
import pluggy

from . import hookspecs, parts
from .errors import CRMError, HookFailed, PluginError
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


def discover(local: dict[str, ModuleType] | None = None) -> dict[str, InstalledPlugin]:
    """Find every plugin of the entry-point group without importing it; ``local`` adds
    already imported plugin modules by name (``--plugin``), replacing an installed one."""
    from .entrypoints import entry_points

    found: dict[str, InstalledPlugin] = {}
    for ep in entry_points(ENTRY_POINT_GROUP):
        found.setdefault(ep.name, InstalledPlugin(ep.name, ep.value, ep.version))
    for name, module in (local or {}).items():
        found[name] = InstalledPlugin(name, module.__name__, "local", module=module)
    return found


def import_local(module_name: str) -> ModuleType:
    """Import a local plugin module (``--plugin``, ``CRMKIT_PLUGINS``); one that is not found
    is a PluginError saying how to make it importable."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not f"{module_name}.".startswith(f"{exc.name}."):
            raise  # the module was found: something it imports was not
        hint = (f"give the module's name, {module_name[:-3]}, not its file's"
                if module_name.endswith(".py") else
                "install it, or put its directory on the Python path: PYTHONPATH=DIR")
        raise PluginError(f"--plugin {module_name}: no module of that name can be imported "
                          f"({hint})") from None


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


TRACE_HOOKS = "CRMKIT_TRACE_HOOKS"
"""Environment variable: ``1`` prints every hook call (arguments, implementations, results)
to stderr."""


CACHE_DIR_ENV = "CRMKIT_CACHE_DIR"
"""Where crmkit keeps its caches (default ``$XDG_CACHE_HOME/crmkit`` or ``~/.cache/crmkit``)."""

LISTING_CACHE = "plugin-listing.json"
VERDICT_CACHE = "plugin-config-verdicts.json"
"""Whether each enabled plugin's installed release accepts its stored configuration, by a
digest of the release, its schema and the configuration (see :func:`config_refusals`)."""


@attrs.frozen
class ListingFacts:
    """What ``crmkit plugins list`` shows of an installed plugin: requirements, description,
    the import error of a broken one, and its configuration schema (None: it has none)."""

    requires: tuple[str, ...]
    description: str
    error: str | None
    schema: dict[str, Any] | None = None


def cache_dir() -> Path:
    """The directory of crmkit's caches (``CRMKIT_CACHE_DIR`` overrides the default)."""
    given = os.environ.get(CACHE_DIR_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "crmkit"


def _newest_source(module_name: str) -> int | None:
    """The latest modification time (ns) of the module's Python files (a package: all of
    them, subpackages included); None when the module cannot be found."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    newest = 0
    for folder in spec.submodule_search_locations or []:
        for root, _dirs, files in os.walk(folder):
            for file in files:
                if file.endswith(".py"):
                    newest = max(newest, os.stat(os.path.join(root, file)).st_mtime_ns)
    if spec.origin and os.path.exists(spec.origin):
        newest = max(newest, os.stat(spec.origin).st_mtime_ns)
    return newest


def _listing_key(plugin: InstalledPlugin) -> list[Any]:
    """The cache key: distribution version, entry point and the newest source file's mtime
    (an editable install changes the files, not the version)."""
    return [plugin.name, plugin.version, plugin.source,
            _newest_source(plugin.source.partition(":")[0])]


def _read_cache(path: Path) -> dict[str, Any]:
    """The entries of a JSON cache file (none when it is missing, unreadable or not an
    object)."""
    import json

    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) else {}


def listing_facts(installed: dict[str, InstalledPlugin]) -> dict[str, ListingFacts]:
    """Each installed plugin's :class:`ListingFacts`, without importing it when the cache
    has its facts under an unchanged key; the others are imported (a failure is the
    plugin's error) and the cache is rewritten.  An unreadable or unwritable cache only
    costs the imports."""
    import json

    path = cache_dir() / LISTING_CACHE
    entries = _read_cache(path)
    facts: dict[str, ListingFacts] = {}
    changed = False
    for name, plugin in installed.items():
        key = None if plugin.module is not None else _listing_key(plugin)
        entry = entries.get(name)
        if key is not None and isinstance(entry, dict) and entry.get("key") == key:
            facts[name] = ListingFacts(tuple(entry["requires"]), entry["description"],
                                       entry["error"], entry.get("schema"))
            continue
        load(plugin)
        manager = new_manager()
        register(manager, plugin)  # an invalid hook implementation is broken too
        info = plugin.info
        facts[name] = ListingFacts(tuple(info.requires), info.description, plugin.error,
                                   None if plugin.broken else _schema(manager))
        if key is not None:
            entries[name] = {"key": key, "requires": list(info.requires),
                             "description": info.description, "error": plugin.error,
                             "schema": facts[name].schema}
            changed = True
    if changed:
        _write_atomically(path, json.dumps(entries, indent=1, sort_keys=True))
    return facts


def _schema(manager: pluggy.PluginManager) -> dict[str, Any] | None:
    """The configuration schema of the one plugin registered with ``manager`` (None when it
    has none, or when its hook fails: enabling it reports that)."""
    try:
        answers = manager.hook.crmkit_config_schema()
    except Exception:
        return None
    return answers[0] if answers and isinstance(answers[0], dict) else None


def refused_config(name: str, version: str, problem: str) -> str:
    """The error of an enabled plugin whose installed release refuses its stored
    configuration (``problem``: the validation's message), with the fix."""
    return (f"plugin {name!r} {version} does not accept the configuration stored for it "
            f"({problem}); correct it with `crmkit plugins config {name} --set KEY=VALUE` or "
            f"`crmkit plugins disable {name}`")


def config_refusals(checks: dict[str, tuple[str, dict[str, Any], Any]]) -> dict[str, str]:
    """Of ``{name: (version, schema, stored configuration)}``, the plugins whose schema
    refuses their configuration, with :func:`refused_config`'s error.  Verdicts are cached
    by a digest of the three (:func:`remember_accepted` adds those just validated), so a
    listing validates (and imports the validator) only after a configuration or a release
    changed elsewhere."""
    import json

    path = cache_dir() / VERDICT_CACHE
    entries = _read_cache(path)
    refusals, changed = {}, False
    for name, (version, schema, config) in checks.items():
        digest = _verdict_key(version, schema, config)
        entry = entries.get(name)
        if isinstance(entry, dict) and entry.get("key") == digest:
            error = entry.get("error")
        else:
            from .config import validate
            from .errors import ConfigError

            try:
                validate(schema, config, "stored configuration")
                error = None
            except ConfigError as exc:
                error = refused_config(name, version, str(exc))
            entries[name] = {"key": digest, "error": error}
            changed = True
        if error is not None:
            refusals[name] = error
    if changed:
        _write_atomically(path, json.dumps(entries, indent=1, sort_keys=True))
    return refusals


def remember_accepted(name: str, version: str, schema: dict[str, Any], config: Any) -> None:
    """Record that ``schema`` accepts ``config``, just validated and stored for ``name``, so
    that the next listing need not validate it (see :func:`config_refusals`)."""
    import json

    path = cache_dir() / VERDICT_CACHE
    entries = _read_cache(path)
    entries[name] = {"key": _verdict_key(version, schema, config), "error": None}
    _write_atomically(path, json.dumps(entries, indent=1, sort_keys=True))


def _verdict_key(version: str, schema: dict[str, Any], config: Any) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps([version, schema, config], sort_keys=True,
                                     default=str).encode()).hexdigest()


@attrs.frozen
class PluginStatus:
    """One row of ``crmkit plugins list``.

    ``status`` is ``enabled``, ``disabled``, ``broken``, ``config refused`` (enabled,
    but the installed release refuses the stored configuration: writes are refused until
    it is corrected), ``not installed`` (a plugin the database records but that is not
    installed) or, without a crmkit database, ``installed`` (``enabled`` is then None:
    unknown).
    """

    name: str
    version: str
    enabled: bool | None
    requires: tuple[str, ...]
    status: str
    description: str
    error: str | None = None


def statuses(installed: dict[str, InstalledPlugin],
             recorded: dict[str, dict[str, Any]] | None) -> list[PluginStatus]:
    """Every installed plugin and every one the database records, by name.

    ``recorded`` maps the plugin names of the database's plugin state to their
    ``enabled``, ``version`` and stored ``config``; None when there is no crmkit database.
    """
    known = recorded is not None
    recorded = recorded or {}
    facts = listing_facts(installed)
    refusals = config_refusals({
        name: (installed[name].version, facts[name].schema, state["config"])
        for name, state in recorded.items() if state["enabled"] and name in installed
        and facts[name].error is None and facts[name].schema is not None})
    result = []
    for name in sorted(set(installed) | set(recorded)):
        state = recorded.get(name, {})
        enabled = state.get("enabled", False) if known else None
        if name not in installed:
            result.append(PluginStatus(
                name, state["version"], enabled, (), "not installed",
                f"enabled but not installed: install it or `crmkit plugins disable {name}`"
                if enabled else "not installed; its data and configuration are kept"))
            continue
        fact = facts[name]
        error = fact.error
        if error is not None:
            status = "broken"
        elif not known:
            status = "installed"
        elif name in refusals:
            status, error = "config refused", refusals[name]
        else:
            status = "enabled" if enabled else "disabled"
        result.append(PluginStatus(name, installed[name].version, enabled, fact.requires,
                                   status, fact.description, error))
    return result


def _write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (readers see the old or the new file); errors are ignored."""
    import tempfile

    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                         prefix=".listing-", suffix=".tmp") as handle:
            temporary = handle.name
            handle.write(text)
        os.replace(temporary, path)
    except OSError as exc:
        log.info("plugin listing cache not written to %s: %s", path, exc)
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)


def new_manager() -> pluggy.PluginManager:
    """A pluggy manager with crmkit's hook specifications (tracing when :data:`TRACE_HOOKS`)."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    if os.environ.get(TRACE_HOOKS) == "1":
        pm.add_hookcall_monitoring(_trace_before, _trace_after)
    return pm


def _trace_before(hook_name, hook_impls, kwargs) -> None:
    print(file=sys.stderr)
    print(f"{hook_name}:", file=sys.stderr)
    pprint(dict(kwargs), width=40, indent=4, stream=sys.stderr)
    print("Hook implementations:", file=sys.stderr)
    pprint(list(hook_impls), width=40, indent=4, stream=sys.stderr)


def _trace_after(outcome, hook_name, hook_impls, kwargs) -> None:
    if outcome.exception is not None:
        print(f"Raised: {type(outcome.exception).__name__}: {outcome.exception}", file=sys.stderr)
        return
    results = outcome.get_result()
    print("Results:", file=sys.stderr)
    pprint(results if isinstance(results, list) else [results], width=40, indent=4,
           stream=sys.stderr)


class PluginHooks:
    """The object registered with pluggy for one plugin: its adapted hook implementations as
    attributes."""

    def __init__(self, name: str, implementations: dict[str, Any]):
        self.name = name
        for attr, function in implementations.items():
            setattr(self, attr, function)

    def __repr__(self) -> str:
        return f"<hooks of plugin {self.name!r}>"


def implementations(plugin: InstalledPlugin) -> dict[str, Any]:
    """A loaded plugin's hook implementations by attribute name: its ``@hookimpl`` functions,
    and those of the parts its metadata declares (:func:`crmkit.parts.declared_hooks`) for the
    hooks it does not implement itself."""
    explicit: dict[str, Any] = {}
    hooks: set[str] = set()
    for attr in dir(plugin.module):
        function = getattr(plugin.module, attr, None)
        opts = getattr(function, f"{PROJECT}_impl", None) if inspect.isroutine(function) else None
        if isinstance(opts, dict):
            explicit[attr] = function
            hooks.add(opts.get("specname") or attr)
    info = plugin.info
    declared = parts.declared_hooks(plugin.module, info) if info.api or info.parts else {}
    return {**{hook: f for hook, f in declared.items() if hook not in hooks}, **explicit}


def hook_object(plugin: InstalledPlugin) -> PluginHooks:
    """What crmkit registers with pluggy for a loaded plugin: its hook implementations
    (:func:`implementations`), each adapted (:func:`adapt`)."""
    adapted = {}
    for attr, function in implementations(plugin).items():
        opts = getattr(function, f"{PROJECT}_impl")
        adapted[attr] = adapt(plugin.name, opts.get("specname") or attr, function)
    return PluginHooks(plugin.name, adapted)


def register(pm: pluggy.PluginManager, plugin: InstalledPlugin) -> None:
    """Register a loaded plugin; a hook argument unknown to the spec marks it broken."""
    if plugin.broken or pm.has_plugin(plugin.name):
        return
    try:
        pm.register(hook_object(plugin), name=plugin.name)
    except pluggy.PluginValidationError as exc:
        plugin.error = f"invalid hook implementation: {exc}"
    except PluginError as exc:
        plugin.error = str(exc)


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
    """Calls hooks of the enabled plugins through pluggy, each implementation with its own context.

    The enabled plugins are registered, in reverse dependency order, in a plugin manager of
    their own, so pluggy's call order is the dependency order and a disabled plugin is never
    called; ``tryfirst``/``trylast``, wrappers and ``firstresult`` work as pluggy documents.
    """

    def __init__(self, pm: pluggy.PluginManager, order: Iterable[str]):
        self._pm = pm
        self.order = list(order)
        self._enabled_pm: pluggy.PluginManager | None = None
        self._callers: dict[str, Any] = {}

    @property
    def enabled(self) -> pluggy.PluginManager:
        """The plugin manager holding only the enabled plugins."""
        if self._enabled_pm is None:
            enabled = new_manager()
            for name in reversed(self.order):  # pluggy calls the last registered first
                enabled.register(self._pm.get_plugin(name), name=name)
            self._enabled_pm = enabled
        return self._enabled_pm

    def impls(self, hook: str) -> list[tuple[str, Any, tuple[str, ...]]]:
        """``(plugin, function, argnames)`` of the enabled plugins implementing ``hook``, in
        calling order (wrappers left out)."""
        return [(impl.plugin_name, inspect.unwrap(impl.function), tuple(impl.argnames))
                for impl in reversed(self._caller(hook).get_hookimpls())
                if not (impl.wrapper or impl.hookwrapper)]

    def _caller(self, hook: str):
        """pluggy's caller of ``hook`` on the enabled plugins, without the part implementations
        whose optional function the part does not define (:func:`crmkit.parts.present`,
        decided on first use)."""
        caller = self._callers.get(hook)
        if caller is None:
            caller = getattr(self.enabled.hook, hook)
            absent = [impl.plugin for impl in caller.get_hookimpls()
                      if not parts.present(impl.function)]
            if absent:
                caller = self.enabled.subset_hook_caller(hook, absent)
            self._callers[hook] = caller
        return caller

    def call(self, hook: str, tx: "Transaction | None", after_each=None,
             **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every enabled plugin; return ``(plugin, result)`` pairs in calling
        order, one per implementation that ran (``None`` results included).

        ``ctx`` is built per plugin from ``tx``.  Exceptions are wrapped as
        :class:`PluginError` naming the plugin, except deliberate CRMErrors
        (see :func:`call_impl`).  ``after_each(plugin)``, when given, runs after each
        plugin's call: a check that blames that plugin.
        """
        return _call(self._caller(hook), hook, tx, after_each, kwargs)

    def collect_named(self, hook: str, kind: type, what: str, owners: dict[str, str],
                      **kwargs: Any) -> list[tuple[str, Any]]:
        """The named things (``kind`` objects with a text ``name``) every enabled plugin
        returns from ``hook``, as ``(plugin, thing)`` in calling order.

        ``owners`` maps the names already taken to who provides them ("core", "plugin 'x'")
        and is updated.  A result that is not a ``kind``, or a name already taken, is a
        PluginError naming the plugin; ``what`` names the things in that message.
        """
        found: list[tuple[str, Any]] = []
        for plugin, result in self.call(hook, None, **kwargs):
            for thing in result or ():
                if not isinstance(thing, kind) or not isinstance(thing.name, str):
                    raise PluginError(f"plugin {plugin!r}: {hook} must return {what}, "
                                      f"got {type(thing).__name__}")
                if thing.name in owners:
                    raise PluginError(f"plugin {plugin!r}: {hook}: {thing.name!r} is already "
                                      f"provided by {owners[thing.name]}")
                owners[thing.name] = f"plugin {plugin!r}"
                found.append((plugin, thing))
        return found

    def call_one(self, plugin: str, hook: str, tx: "Transaction | None", **kwargs: Any) -> Any:
        """Call ``hook`` on one plugin (enabled or not); ``None`` if it does not implement it."""
        others = [obj for name, obj in self._pm.list_name_plugin() if name != plugin]
        caller = self._pm.subset_hook_caller(hook, remove_plugins=others)
        if not all(parts.present(impl.function) for impl in caller.get_hookimpls()):
            return None
        for name, result in _call(caller, hook, tx, None, kwargs):
            if name == plugin:
                return result
        return None


@attrs.define
class _Running:
    """What the implementations of the hook call in progress report to (see :func:`_call`)."""

    results: list[tuple[str, Any]] = attrs.Factory(list)
    after_each: Any = None


_RUNNING: contextvars.ContextVar[_Running | None] = contextvars.ContextVar(
    "crmkit_running_hook_call", default=None)


def _call(caller, hook: str, tx, after_each, kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
    """Run a pluggy hook caller; the adapted implementations (:func:`adapt`) record each
    plugin's result.  ``ctx`` is passed as the transaction each adapter builds its context from."""
    if "ctx" in (caller.spec.argnames if caller.spec else ()):
        kwargs = {**kwargs, "ctx": tx}
    running = _Running(after_each=after_each)
    token = _RUNNING.set(running)
    try:
        caller(**kwargs)
    finally:
        _RUNNING.reset(token)
    return running.results


def adapt(plugin: str, hook: str, function):
    """``function`` (a hook implementation of ``plugin``) as pluggy should call it: with its
    own :class:`HookContext` in place of the transaction, failures wrapped
    (:func:`call_impl`), its result recorded for :meth:`HookCaller.call`.  Pluggy reads the
    implementation's argument names and options through ``functools.wraps``."""
    argnames = tuple(p.name for p in inspect.signature(function).parameters.values()
                     if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                            p.POSITIONAL_OR_KEYWORD))
    opts = getattr(function, f"{PROJECT}_impl", {}) or {}

    if opts.get("wrapper") or opts.get("hookwrapper"):
        @functools.wraps(function)
        def wrapped(*args):
            kwargs = dict(zip(argnames, args))
            if "ctx" in kwargs and kwargs["ctx"] is not None:
                kwargs["ctx"] = kwargs["ctx"].context(plugin)
            return (yield from function(**kwargs))
        return wrapped

    @functools.wraps(function)
    def adapted(*args):
        kwargs = dict(zip(argnames, args))
        tx = kwargs.pop("ctx", None)
        result = call_impl(plugin, hook, function, argnames, tx, kwargs)
        running = _RUNNING.get()
        if running is not None:
            running.results.append((plugin, result))
            if running.after_each is not None:
                running.after_each(plugin)
        return result
    return adapted


RESULTS: dict[str, tuple[tuple[type, ...], str]] = {
    "crmkit_validate_customers": ((list, tuple), "a list of (index, field, message) or None"),
    "crmkit_validate_interactions": ((list, tuple), "a list of (index, field, message) or None"),
    "crmkit_sweep": ((dict,), "a dict of counts or None"),
    "crmkit_timeline": ((list, tuple), "a list of TimelineEntry or None"),
    "crmkit_event_resources": ((list, tuple), "a list of one resource (a dict or None) per "
                                              "event given"),
    "crmkit_event_types": ((dict,), "a dict {event type: description or EventType} or None"),
    "crmkit_worker_jobs": ((list, tuple), "a list of crmkit.plugin.Job or None"),
    "crmkit_routes": ((list, tuple), "a list of crmkit.plugin.Endpoint or None"),
    "crmkit_permissions": ((dict,), "a dict {permission: description} or None"),
    "crmkit_permission_allowed": ((bool,), "True, False or None"),
    "crmkit_permission_restricted": ((bool,), "True, False or None"),
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
    from sqlalchemy import event

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
    plugin's doing) becomes a :class:`crmkit.errors.HookFailed` (a PluginError) naming the
    plugin and hook; a result of the wrong type (:data:`RESULTS`), ending the transaction
    (:func:`guard_transactions`) and leaving it failed by swallowing a database error are
    PluginErrors naming them too.
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
        from .db import concurrency_abort

        if concurrency_abort(exc) is not None:  # a concurrent transaction's doing, not the plugin's
            raise
        raise HookFailed(plugin, hook, exc) from exc
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
    "dependency_order", "HookCaller", "call_impl", "adapt", "implementations", "hook_object",
    "PluginHooks", "TRACE_HOOKS", "RESULTS", "RUNNING_HOOK", "guard_transactions",
    "CACHE_DIR_ENV", "ListingFacts", "cache_dir", "listing_facts", "PluginStatus", "statuses",
    "config_refusals", "refused_config", "remember_accepted",
]
