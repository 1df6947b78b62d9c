"""``crmkit plugins check NAME``: what a vendor verifies before releasing a plugin.

Every check runs against temporary SQLite files, never the CRM's own database:

* **metadata** — ``PLUGIN`` is a :class:`crmkit.PluginInfo` named like the entry
  point, with a description, a ``crmkit_versions`` range that includes this
  crmkit, and requirements that are installed.
* **schema** — the configuration schema is valid Draft 2020-12, every optional
  key has a ``default``, and the defaults alone form a valid configuration.
* **hooks** — every ``@hookimpl`` names a hook crmkit has and asks only for
  that hook's arguments; functions named like hooks but not marked, or
  misspelt, are reported; describing hooks return what they must.
* **migrations** — the plugin's alembic branch applies on an empty database,
  creates the tables ``crmkit_tables`` declares (same columns), downgrades to
  nothing, and applies again.
* **enable** — enable with the defaults, write through the pipeline, run the
  data-service hooks (merge leaves no row on the duplicate), sweep, disable,
  enable again.
* **web** — serve the web app in-process to a signed-in admin with the plugin
  enabled: its HTTP routes mount, each of its pages without path parameters
  answers 200, and the customer 360 page, the dashboards and My work show its
  card, panels and sections without an error.

A check never stops at the first problem: each finding is ``ok``, ``warn`` or
``fail``, and the command exits non-zero when anything failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import functools
import inspect
import json
import logging
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable, Iterator

import attrs

from .. import __version__, plugins
from ..markers import PROJECT
from ..errors import CRMError, PluginError, ValidationError

OK, WARN, FAIL = "ok", "warn", "fail"


@attrs.frozen
class Finding:
    """One result line: which check, ``ok``/``warn``/``fail``, and what was found."""

    check: str
    status: str
    detail: str
    blocks_enable: bool = False
    """True when enabling cannot work because of this failure (the enable check is not run)."""


@attrs.define
class Report:
    """Every finding about one plugin."""

    plugin: str
    findings: list[Finding] = attrs.field(factory=list)

    @property
    def failures(self) -> list[Finding]:
        """The findings that fail the check."""
        return [f for f in self.findings if f.status == FAIL]

    @property
    def ok(self) -> bool:
        """True when nothing failed (warnings allowed)."""
        return not self.failures


def find_plugin(name: str, local_modules: Iterable[str] = ()) -> plugins.InstalledPlugin:
    """The installed plugin ``name``, or the local module (``--plugin``) whose PLUGIN.name is ``name``."""
    for module_name in local_modules:
        module = plugins.import_local(module_name)
        if getattr(getattr(module, "PLUGIN", None), "name", None) == name:
            return plugins.InstalledPlugin(name, module.__name__, "local", module=module)
    installed = plugins.discover()
    if name not in installed:
        known = ", ".join(sorted(installed)) or "none"
        raise PluginError(
            f"no plugin named {name!r} is installed (installed: {known}); to check a module "
            f"that is not installed: crmkit --plugin MODULE plugins check {name}")
    return installed[name]


def check_plugin(name: str, local_modules: Iterable[str] = ()) -> Report:
    """Run every check on the plugin ``name`` (installed, or a local module)."""
    return check(find_plugin(name, local_modules))


def check(plugin: plugins.InstalledPlugin) -> Report:
    """Run every check on one discovered (or local) plugin."""
    report = Report(plugin.name)
    plugins.load(plugin)
    if plugin.module is None:
        report.findings.append(Finding("import", FAIL, plugin.error or "the module did not load"))
        return report
    report.findings.append(Finding("import", OK, f"{plugin.source} imports"))
    checks: list[tuple[str, Callable[[plugins.InstalledPlugin], list[Finding]]]] = [
        ("metadata", _metadata), ("schema", _schema), ("hooks", _hooks),
        ("migrations", _migrations), ("enable", _enable), ("web", _web),
    ]
    for label, run in checks:
        if label in ("enable", "web") and any(f.blocks_enable for f in report.findings):
            report.findings.append(Finding(label, WARN, "not run: enabling cannot work until "
                                                        "the failures above are fixed"))
            continue
        try:
            report.findings.extend(run(plugin))
        except Exception as exc:  # a check must report, never crash the command
            report.findings.append(Finding(label, FAIL, f"{type(exc).__name__}: {exc}", True))
    return report


# -- metadata -------------------------------------------------------------------------------


def _metadata(plugin: plugins.InstalledPlugin) -> list[Finding]:
    from ..models import PluginInfo
    from ..versions import satisfies

    out = []
    info = getattr(plugin.module, "PLUGIN", None)
    if not isinstance(info, PluginInfo):
        return [Finding("metadata", FAIL, "the module has no PLUGIN = crmkit.PluginInfo(...)",
                        True)]
    if info.name != plugin.name:
        out.append(Finding("metadata", FAIL, f"PLUGIN.name is {info.name!r} but the entry point "
                                             f"is named {plugin.name!r}", True))
    if not info.description.strip():
        out.append(Finding("metadata", FAIL, "PLUGIN.description is empty"))
    try:
        fits = satisfies(__version__, info.crmkit_versions)
    except ValueError as exc:
        out.append(Finding("metadata", FAIL, f"PLUGIN.crmkit_versions: {exc}", True))
    else:
        if not fits:
            out.append(Finding("metadata", FAIL, f"PLUGIN.crmkit_versions is "
                                                 f"{info.crmkit_versions!r}: this crmkit "
                                                 f"({__version__}) is outside it", True))
    installed = plugins.discover()
    missing = [r for r in info.requires if r not in installed]
    if missing:
        out.append(Finding("metadata", FAIL, f"requires {', '.join(missing)}, not installed",
                           True))
    if plugin.version == "local":
        out.append(Finding("metadata", WARN, "a local module, not an installed distribution: "
                                             "ship it as a wheel with a 'crmkit' entry point"))
    if not any(f.status == FAIL for f in out):
        out.append(Finding("metadata", OK, f"{plugin.name} {plugin.version}: "
                                           f"{info.description!r}, crmkit {info.crmkit_versions}"
                           + (f", requires {', '.join(info.requires)}" if info.requires else "")))
    return out


# -- configuration schema -------------------------------------------------------------------


def _call(plugin: plugins.InstalledPlugin, hook: str, **kwargs: Any) -> Any:
    """Call one of the plugin's describing hooks (``None`` when it does not implement it)."""
    function = _implemented(plugin).get(hook)
    if function is None:
        return None
    return function(**{k: v for k, v in kwargs.items() if k in _argnames(function)})


def _implemented(plugin: plugins.InstalledPlugin) -> dict[str, Callable]:
    """The plugin's hook implementations by hook name: its own and its declared parts'."""
    return {(getattr(f, f"{PROJECT}_impl").get("specname") or attr): f
            for attr, f in plugins.implementations(plugin).items()}


def _schema(plugin: plugins.InstalledPlugin) -> list[Finding]:
    from ..config import check_schema, validate
    from ..errors import ConfigError

    schema = _call(plugin, "crmkit_config_schema")
    if schema is None:
        return [Finding("schema", OK, "takes no configuration")]
    if not isinstance(schema, dict):
        return [Finding("schema", FAIL, f"crmkit_config_schema returned "
                                        f"{type(schema).__name__}, not a dict", True)]
    try:
        check_schema(schema, "config schema")
    except ConfigError as exc:
        return [Finding("schema", FAIL, str(exc), True)]
    out = [Finding("schema", FAIL, f"{pointer}: optional key without a \"default\" (every "
                                   "optional key needs one so that enable works with no config)")
           for pointer in missing_defaults(schema)]
    try:
        validate(schema, {}, "the defaults")
    except ConfigError as exc:
        out.append(Finding("schema", FAIL, f"enabling with no configuration fails: {exc}", True))
    if schema.get("type") != "object":
        out.append(Finding("schema", FAIL, 'the top level must be {"type": "object", ...}'))
    elif schema.get("additionalProperties", True) is not False:
        out.append(Finding("schema", WARN, 'no "additionalProperties": false at the top: a '
                                           "misspelt key would be accepted silently"))
    undescribed = [p for p, sub in schema_keys(schema) if not sub.get("description")]
    if undescribed:
        out.append(Finding("schema", WARN, "keys without a \"description\" (the generated "
                                           "reference shows it): " + ", ".join(undescribed)))
    if not any(f.status == FAIL for f in out):
        out.append(Finding("schema", OK, f"valid; {len(schema_keys(schema))} keys, all "
                                         "optional keys have defaults"))
    return out


def schema_keys(schema: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every key a configuration may hold, as ``(JSON pointer, subschema)``.

    Nested objects give ``/outer/inner``; objects inside arrays ``/list/*/key``.
    """
    found: list[tuple[str, dict[str, Any]]] = []
    for key, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        pointer = f"{prefix}/{key}"
        found.append((pointer, sub))
        found.extend(schema_keys(sub, pointer))
        items = sub.get("items")
        if isinstance(items, dict):
            found.extend(schema_keys(items, pointer + "/*"))
    return found


def missing_defaults(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """JSON pointers of optional keys without a ``default``.

    Checked at the top level and inside nested objects reached through
    ``properties`` (those are filled from defaults); objects inside arrays are
    written by the user in full and are not required to have defaults.
    """
    required = set(schema.get("required") or ())
    missing = []
    for key, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        pointer = f"{prefix}/{key}"
        if key not in required and "default" not in sub:
            missing.append(pointer)
        if sub.get("properties"):
            missing.extend(missing_defaults(sub, pointer))
    return missing


# -- hook implementations -------------------------------------------------------------------


def hook_specs() -> dict[str, tuple[str, ...]]:
    """Every hook crmkit defines, with its argument names."""
    pm = _manager()
    return {name: tuple(getattr(pm.hook, name).spec.argnames)
            for name in dir(pm.hook) if name.startswith("crmkit_")}


@functools.cache
def _manager():
    return plugins.new_manager()


def _marker(module: ModuleType, attr: str) -> dict[str, Any] | None:
    """The ``@hookimpl`` options of ``module.attr`` (``None`` when it is missing or not marked)."""
    if not hasattr(module, attr):  # pluggy 1.5 raises AttributeError for a missing name
        return None
    return _manager().parse_hookimpl_opts(module, attr)


def _argnames(function: Callable) -> tuple[str, ...]:
    """The arguments a hook implementation asks for (those without defaults, as pluggy sees them)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple(p.name for p in parameters
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                 and p.default is p.empty)


def _suggest(name: str, specs: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(specs), n=1, cutoff=0.8)
    return f"; did you mean {close[0]}?" if close else ""


def _hooks(plugin: plugins.InstalledPlugin) -> list[Finding]:
    import pluggy

    module = plugin.module
    specs = hook_specs()
    out: list[Finding] = []
    implemented = []
    for attr in sorted(dir(module)):
        value = getattr(module, attr, None)
        if not callable(value) or isinstance(value, type):
            continue
        opts = _marker(module, attr)
        hook = (opts or {}).get("specname") or attr
        if opts is not None:
            if hook not in specs:
                out.append(Finding("hooks", FAIL, f"{attr} is marked @hookimpl but crmkit has no "
                                                  f"hook {hook!r}{_suggest(hook, specs)}"))
                continue
            wrong = [a for a in _argnames(value) if a not in specs[hook]]
            if wrong:
                out.append(Finding("hooks", FAIL, f"{attr}({', '.join(_argnames(value))}): "
                                                  f"{', '.join(map(repr, wrong))} not among the "
                                                  f"arguments of {hook}({', '.join(specs[hook])})",
                                   True))
                continue
            implemented.append(hook)
        elif attr in specs:
            out.append(Finding("hooks", FAIL, f"{attr} is not decorated with @crmkit.hookimpl, "
                                              "so crmkit never calls it"))
        elif attr.startswith("crmkit_") or _suggest(attr, specs):
            hint = _suggest(attr, specs)
            out.append(Finding("hooks", FAIL if hint else WARN,
                               f"{attr} looks like a hook but crmkit has no hook of that name"
                               + (hint or " (rename it if it is a helper)")))
    # pluggy's own view, in case it objects to something the scan above accepted
    if not any(f.status == FAIL for f in out):
        pm = plugins.new_manager()
        try:
            pm.register(plugins.hook_object(plugin), name=plugin.name)
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            out.append(Finding("hooks", FAIL, f"pluggy refuses the plugin: {exc}", True))
        except PluginError as exc:
            out.append(Finding("hooks", FAIL, str(exc), True))
        else:
            implemented = sorted(set(implemented) | set(_implemented(plugin)))
    out.extend(_describing_hooks(plugin))
    out.extend(_unnamed_event_records(plugin))
    if not any(f.status == FAIL for f in out):
        out.append(Finding("hooks", OK, f"{len(implemented)} hooks: " + ", ".join(
            h.removeprefix("crmkit_") for h in sorted(implemented))))
    return out


def _unnamed_event_records(plugin: plugins.InstalledPlugin) -> list[Finding]:
    """A plugin with a row-level rule whose events name no record: the event log shows them
    to no member the rule restricts (a warning: that may be what the vendor wants)."""
    hooks = _implemented(plugin)
    if ("crmkit_permission_allowed" not in hooks or "crmkit_event_types" not in hooks
            or "crmkit_event_resources" in hooks):
        return []
    return [Finding("hooks", WARN, "crmkit_permission_allowed restricts members but "
                                   "crmkit_event_resources does not say which record each of "
                                   "its events is about, so the event log shows its events to "
                                   "no member its rule restricts")]


def _describing_hooks(plugin: plugins.InstalledPlugin) -> list[Finding]:
    """What the describing hooks return has the right shape."""
    import click

    from ..auth import permissions_problem
    from ..config import check_schema, fill_defaults
    from ..errors import ConfigError
    from ..events import event_types_problem

    out = []
    events = _call(plugin, "crmkit_event_types")
    problem = event_types_problem(events) if events is not None else None
    if problem:
        out.append(Finding("hooks", FAIL, problem))
    declared = _call(plugin, "crmkit_permissions")
    problem = permissions_problem(plugin.name, declared) if declared is not None else None
    if problem:
        out.append(Finding("hooks", FAIL, problem))
    schema = _call(plugin, "crmkit_config_schema")
    defaults = fill_defaults(schema, {}) if isinstance(schema, dict) else {}
    fragment = _call(plugin, "crmkit_customer_schema", config=defaults)
    if fragment is not None:
        if not isinstance(fragment, dict) or not isinstance(fragment.get("properties"), dict):
            out.append(Finding("hooks", FAIL, "crmkit_customer_schema must return a dict with "
                                              "\"properties\""))
        else:
            try:
                check_schema({"type": "object", **fragment}, "crmkit_customer_schema")
            except ConfigError as exc:
                out.append(Finding("hooks", FAIL, str(exc)))
    group = _call(plugin, "crmkit_cli")
    if group is not None:
        if not isinstance(group, click.Command):
            out.append(Finding("hooks", FAIL, f"crmkit_cli returned {type(group).__name__}, "
                                              "not a click command or group"))
        elif group.name != plugin.name:
            out.append(Finding("hooks", WARN, f"crmkit_cli's group is named {group.name!r}; it "
                                              f"mounts as `crmkit {plugin.name}`, so name it "
                                              f"{plugin.name!r} for consistent help"))
    return out


# -- migrations and tables ------------------------------------------------------------------


@contextlib.contextmanager
def _scratch_crm(plugin: plugins.InstalledPlugin) -> Iterator[Any]:
    """A CRM on a temporary SQLite file that knows ``plugin`` (even when it is not installed)."""
    from ..app import CRM
    from ..clock import FixedClock

    with tempfile.TemporaryDirectory(prefix="crmkit-check-") as folder:
        extra = {plugin.name: plugin.module} if plugin.version == "local" else None
        clock = FixedClock(dt.datetime(2025, 1, 1, 12, tzinfo=dt.timezone.utc))
        crm = CRM.open(f"sqlite:///{Path(folder) / 'check.db'}", clock=clock, create=True,
                       extra_plugins=extra)
        try:
            yield crm
        finally:
            crm.close()


def _declared_tables(plugin: plugins.InstalledPlugin) -> list[Any]:
    return list(_call(plugin, "crmkit_tables") or [])


def _migrations(plugin: plugins.InstalledPlugin) -> list[Finding]:
    from sqlalchemy import Table

    from .. import migrate

    name = plugin.name
    location = _call(plugin, "crmkit_migrations")
    declared = _declared_tables(plugin)
    out = []
    bad = [t for t in declared if not isinstance(t, Table)]
    if bad:
        return [Finding("tables", FAIL, "crmkit_tables must return SQLAlchemy Table objects", True)]
    out += [Finding("tables", FAIL, f"table {t.name!r} is not named {name}_<thing>")
            for t in declared if not t.name.startswith(f"{name}_")]
    holding = [t.name for t in declared if "customer_id" in t.c]
    if holding:
        missing = [h for h in ("crmkit_merge_customers", "crmkit_export_customer",
                               "crmkit_erase_customer")
                   if h not in _implemented(plugin)]
        if missing:
            out.append(Finding("tables", FAIL, f"{', '.join(holding)} hold customer rows but "
                                               f"the plugin does not implement "
                                               f"{', '.join(missing)}"))
    if location is None:
        if declared:
            out.append(Finding("migrations", FAIL, "crmkit_tables declares tables but "
                                                   "crmkit_migrations returns nothing", True))
        else:
            out.append(Finding("migrations", OK, "no tables, no migrations"))
        return out
    location = Path(location)
    if not location.is_dir():
        return out + [Finding("migrations", FAIL, f"crmkit_migrations returned {location}, "
                                                  "which is not a directory", True)]
    out += _revision_layout(name, location)
    if any(f.status == FAIL for f in out if f.check == "migrations"):
        return out
    with _scratch_crm(plugin) as crm:
        with crm.connect(write=True) as conn:
            before = _tables_in(conn)
            try:
                migrate.upgrade(conn, f"{name}@head", [location])
            except Exception as exc:
                conn.rollback()
                return out + [Finding("migrations", FAIL, f"upgrade {name}@head fails on an "
                                                          f"empty database: {exc}", True)]
            conn.commit()
            created = _tables_in(conn) - before
            out += _compare_tables(name, declared, created, conn)
            try:
                migrate.downgrade(conn, f"{name}@base", [location])
                conn.commit()
            except Exception as exc:
                conn.rollback()
                return out + [Finding("migrations", FAIL, f"downgrade {name}@base fails: {exc}")]
            left = sorted(_tables_in(conn) - before)
            if left:
                return out + [Finding("migrations", FAIL, f"downgrade {name}@base leaves "
                                                          f"{', '.join(left)} behind: "
                                                          "downgrade() must undo upgrade()")]
            try:
                migrate.upgrade(conn, f"{name}@head", [location])
                conn.commit()
            except Exception as exc:
                return out + [Finding("migrations", FAIL, f"upgrade after a downgrade fails: {exc}")]
    out.append(Finding("migrations", OK, f"upgrade creates {', '.join(sorted(created)) or 'no tables'};"
                                         " downgrade removes them; upgrade again works"))
    return out


def _tables_in(conn) -> set[str]:
    """The database's tables, without alembic's version bookkeeping (``alembic_version*``)."""
    from sqlalchemy import inspect

    return {t for t in inspect(conn).get_table_names() if not t.startswith("alembic_version")}


def _revision_layout(name: str, location: Path) -> list[Finding]:
    """The branch's revisions: one root labelled ``name``, ids that will not collide."""
    from .. import migrate

    script = migrate.script_directory([location])
    own = [r for r in script.walk_revisions()
           if Path(r.path).resolve().parent == location.resolve()]
    if not own:
        return [Finding("migrations", FAIL, f"{location} holds no alembic revisions", True)]
    roots = [r for r in own if r.down_revision is None]
    out = []
    if len(roots) != 1 or name not in (roots[0].branch_labels or ()):
        out.append(Finding("migrations", FAIL, f"the first revision needs down_revision = None "
                                               f"and branch_labels = ({name!r},)", True))
    foreign = [r.revision for r in own if not r.revision.startswith(f"{name}_")]
    if foreign:
        out.append(Finding("migrations", WARN, f"revision ids {', '.join(foreign)} do not start "
                                               f"with {name}_: they may collide with another "
                                               "plugin's"))
    return out


def _compare_tables(name: str, declared: list[Any], created: set[str], conn) -> list[Finding]:
    """The tables the migration created against the Table objects crmkit_tables declares."""
    from sqlalchemy import inspect

    out = []
    inspector = inspect(conn)
    for table in declared:
        if table.name not in created:
            out.append(Finding("tables", FAIL, f"{table.name} is declared in crmkit_tables but "
                                               f"the migrations do not create it", True))
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        want = {c.name for c in table.columns}
        if have != want:
            diff = [f"missing in the migration: {', '.join(sorted(want - have))}"] if want - have else []
            diff += [f"missing in tables.py: {', '.join(sorted(have - want))}"] if have - want else []
            out.append(Finding("tables", FAIL, f"{table.name}: columns differ ({'; '.join(diff)})",
                               True))
    undeclared = sorted(created - {t.name for t in declared})
    if undeclared:
        out.append(Finding("tables", WARN, f"the migrations create {', '.join(undeclared)}, "
                                           "which crmkit_tables does not list"))
    if not any(f.status == FAIL for f in out) and declared:
        out.append(Finding("tables", OK, f"{', '.join(t.name for t in declared)} match the "
                                         "migrations"))
    return out


# -- enable, use, disable -------------------------------------------------------------------


def _requirements(plugin: plugins.InstalledPlugin) -> list[str]:
    """The installed plugins ``plugin`` requires, directly or not, each after its own requirements."""
    installed = plugins.discover()
    order: list[str] = []

    def visit(info) -> None:
        for required in info.requires:
            found = installed.get(required)
            if required in order or found is None or plugins.load(found).broken:
                continue
            visit(found.info)
            order.append(required)

    visit(plugin.info)
    return order


def _enable(plugin: plugins.InstalledPlugin) -> list[Finding]:
    from sqlalchemy import func, select

    from ..models import TimelineEntry, jsonable

    name = plugin.name
    out = []
    requirements = _requirements(plugin)
    with _scratch_crm(plugin) as crm:
        try:
            for required in requirements:
                crm.plugins.enable(required)
        except Exception as exc:
            return [Finding("enable", FAIL, f"enabling its requirements fails: {exc}")]
        try:
            config = crm.plugins.enable(name)
        except Exception as exc:
            return [Finding("enable", FAIL, f"enable with the defaults fails: {exc}")]
        status = {p.name: p.status for p in crm.plugins.list()}.get(name)
        if status != "enabled":
            return [Finding("enable", FAIL, f"after enable, `plugins list` shows {status!r}")]
        crm.customers.add_many([{"external_id": "CHECK-1", "name": "Check One"},
                                {"external_id": "CHECK-2", "name": "Check Two"}])
        when = crm.clock.now() - dt.timedelta(days=1)
        rows = [{"customer": c, "occurred_at": when, "kind": kind, "channel": "web",
                 **({"amount": "10"} if kind == "purchase" else {})}
                for c in ("CHECK-1", "CHECK-2")
                for kind in ("purchase", "visit", "call", "message", "complaint", "survey")]
        try:
            crm.interactions.record_many(rows)
        except ValidationError as exc:
            out.append(Finding("enable", WARN, f"the plugin rejects plain sample interactions: {exc}"))
        except Exception as exc:
            out.append(Finding("enable", FAIL, f"recording interactions fails: {exc}"))
        if "crmkit_plugin_api" in _implemented(plugin):
            try:
                crm.plugin(name)
            except Exception as exc:
                out.append(Finding("enable", FAIL, f"crm.plugin({name!r}) fails: {exc}"))
        try:
            crm.sweep()
        except Exception as exc:
            out.append(Finding("enable", FAIL, f"crmkit sweep fails: {exc}"))
        keep, duplicate = crm.customers.get("CHECK-1").id, crm.customers.get("CHECK-2").id
        try:
            with crm.transaction() as tx:
                entries = crm.hooks.call_one(name, "crmkit_timeline", tx, customer_id=keep,
                                             limit=50) or []
                if not all(isinstance(e, TimelineEntry) for e in entries):
                    out.append(Finding("enable", FAIL, "crmkit_timeline must return "
                                                       "crmkit.TimelineEntry objects"))
                exported = crm.hooks.call_one(name, "crmkit_export_customer", tx,
                                              customer_id=keep)
                json.dumps(jsonable(exported))
                crm.hooks.call_one(name, "crmkit_merge_customers", tx, keep_id=keep,
                                   duplicate_id=duplicate)
                for table in _declared_tables(plugin):
                    if "customer_id" in table.c:
                        left = tx.conn.execute(select(func.count()).select_from(table).where(
                            table.c.customer_id == duplicate)).scalar_one()
                        if left:
                            out.append(Finding("enable", FAIL, f"after crmkit_merge_customers "
                                                               f"{left} row(s) of {table.name} "
                                                               "still point at the duplicate"))
                crm.hooks.call_one(name, "crmkit_erase_customer", tx, customer_id=keep)
        except (TypeError, ValueError) as exc:
            out.append(Finding("enable", FAIL, f"crmkit_export_customer is not JSON-ready: {exc}"))
        except CRMError as exc:
            out.append(Finding("enable", FAIL, f"a data-service hook fails: {exc}"))
        try:
            crm.plugins.disable(name)
            if {p.name: p.enabled for p in crm.plugins.list()}.get(name):
                out.append(Finding("enable", FAIL, "still enabled after disable"))
            again = crm.plugins.enable(name, config)
            if again != config:
                out.append(Finding("enable", FAIL, f"enable again stores {again}, not {config}"))
            crm.plugins.disable(name)
        except Exception as exc:
            out.append(Finding("enable", FAIL, f"disable/enable round trip fails: {exc}"))
    if not any(f.status == FAIL for f in out):
        after = f" (after enabling {', '.join(requirements)})" if requirements else ""
        out.append(Finding("enable", OK, f"enables with its defaults{after}; pipeline, sweep, "
                                         "timeline, export, merge, erase, disable and re-enable work"))
    return out


# -- web ------------------------------------------------------------------------------------

WEB_CORE_PAGES = ("/openapi.json", "/customers/CHECK-1", "/dashboards", "/my-work")
"""The core pages the web check asks for: the API's description (which mounts every plugin's
routes) and the pages that show plugins' cards, panels and My work sections."""


class _ErrorsLogged(logging.Handler):
    """Collects the error messages crmkit logs (the web app logs a plugin part it cannot show)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _web(plugin: plugins.InstalledPlugin) -> list[Finding]:
    """Serve the web app with the plugin enabled to a signed-in admin: the core pages showing
    plugin parts and the plugin's own GET pages without path parameters must answer 200
    with no error logged about the plugin."""
    from .webclient import web_client

    name = plugin.name
    with _scratch_crm(plugin) as crm:
        try:
            for required in _requirements(plugin):
                crm.plugins.enable(required)
            crm.plugins.enable(name)
        except Exception as exc:
            return [Finding("web", WARN, f"not run: enabling fails ({exc})")]
        crm.customers.add("CHECK-1", "Check One")
        try:
            pages = crm.hooks.call_one(name, "crmkit_web_pages", None, crm=crm)
        except CRMError as exc:
            return [Finding("web", FAIL, f"its web pages cannot be served: {exc}")]
        own = [f"/{name}{page.path}" for page in (pages.pages if pages else ())
               if "GET" in page.methods and "{" not in page.path]
        out = []
        logged = _ErrorsLogged()
        logger = logging.getLogger("crmkit")
        logger.addHandler(logged)
        try:
            with web_client(crm, role="admin") as client:
                for path in WEB_CORE_PAGES + tuple(own):
                    try:
                        status = client.get(path).status_code
                    except Exception as exc:  # the app re-raises what it did not answer
                        out.append(Finding("web", FAIL, f"GET {path} fails: "
                                                        f"{type(exc).__name__}: {exc}"))
                        continue
                    if status != 200:
                        out.append(Finding("web", FAIL, f"GET {path} answers {status}"))
        finally:
            logger.removeHandler(logged)
        out += [Finding("web", FAIL, message) for message in logged.messages
                if f"plugin {name!r}" in message]
    if not out:
        shown = (f"its page {own[0]} answers 200; " if len(own) == 1 else
                 f"its pages {', '.join(own)} answer 200; " if own else "")
        out.append(Finding("web", OK, f"{shown}its routes mount and the 360 page, dashboards "
                                      "and My work show its parts without an error"))
    return out


__all__ = ["Finding", "Report", "check", "check_plugin", "find_plugin", "hook_specs",
           "missing_defaults", "schema_keys"]
