"""``crm.plugins``: list installed plugins, enable, disable and configure them.

Enable validates the configuration (defaults filled in), checks requirements,
runs the plugin's migrations and records the state in one transaction: a
failure leaves the database as it was.  The plugin's own check of a configuration
(``crmkit_check_config``, which may wait on the network) runs before that
transaction opens, so no writer waits on it (:meth:`PluginAdmin.enable`); it runs again, on
each enabled plugin's stored configuration, when the core configuration changes
(:meth:`PluginAdmin.configure_core`).  Every change (enable, disable, configure, the core
configuration) holds :data:`crmkit.app.STATE_LOCK` exclusively in its transaction: on
PostgreSQL it waits for the writes in flight, and writes started meanwhile wait for it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite

from . import __version__, plugins, tables
from .auth import Principal, check_roles
from .config import CORE_SCHEMA, check_schema, validate
from .errors import ConfigError, PluginError
from .plugins import PluginStatus
from .types import check_phone_region
from .versions import satisfies


class PluginAdmin:
    """Administer the installed plugins of one CRM."""

    def __init__(self, crm):
        self.crm = crm

    def list(self) -> list[PluginStatus]:
        """Every installed plugin and every one the database records.

        Works without a crmkit database (a missing SQLite file is not created):
        the installed plugins are listed with ``enabled=None``.  A plugin's
        metadata and whether it imports come from a cache keyed by its
        distribution's name, version, entry point and newest source file
        (:func:`crmkit.plugins.listing_facts`), so a listing imports only the
        plugins that changed since the last one.
        """
        crm = self.crm
        recorded = None
        if crm.has_schema():
            with crm.read() as conn:
                recorded = {r.name: {"enabled": r.enabled, "version": r.version,
                                     "config": r.config}
                            for r in conn.execute(select(tables.plugin_state.c.name,
                                                         tables.plugin_state.c.enabled,
                                                         tables.plugin_state.c.version,
                                                         tables.plugin_state.c.config))}
        return plugins.statuses(crm.installed, recorded)

    def payload_keys(self) -> frozenset[str]:
        """The payload keys installed plugins declare not personal (``PluginInfo.payload_keys``).

        Every installed plugin counts, enabled or not: what a plugin wrote while it was
        enabled keeps its meaning after it is disabled.
        """
        keys: set[str] = set()
        for plugin in self.crm.installed.values():
            if not plugins.load(plugin).broken:
                keys.update(plugin.info.payload_keys)
        return frozenset(keys)

    def _usable(self, name: str) -> plugins.InstalledPlugin:
        plugin = self.crm.installed.get(name)
        if plugin is None:
            known = ", ".join(sorted(self.crm.installed)) or "none"
            raise PluginError(f"no plugin named {name!r} is installed (installed: {known})")
        plugins.load(plugin)
        plugins.register(self.crm.pm, plugin)
        if plugin.broken:
            raise PluginError(f"plugin {name!r} is broken: {plugin.error}")
        return plugin

    def schema(self, name: str) -> dict[str, Any]:
        """The plugin's configuration JSON Schema (an empty object schema if it has none)."""
        self._usable(name)
        schema = self.crm.hooks.call_one(name, "crmkit_config_schema", None)
        if schema is None:
            return {"type": "object", "additionalProperties": False, "properties": {}}
        check_schema(schema, f"plugin {name!r} config schema")
        return schema

    def validate_config(self, name: str, config: dict[str, Any] | None) -> dict[str, Any]:
        """Validate a configuration for ``name`` with defaults filled in (no writes)."""
        return validate(self.schema(name), config, f"plugin {name!r} config")

    def enable(self, name: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Enable ``name`` with ``config`` (validated, defaults filled); return the stored config.

        Without ``config``, a configuration kept from an earlier enable (see
        :meth:`kept_config`) is reused, validated against the plugin's current
        schema (keys it added get their defaults); otherwise the defaults.  The
        plugin checks it (``crmkit_check_config``) before the write transaction
        opens (see :meth:`crmkit.CRM.checked_write`): a kept configuration against the
        core configuration as if for the first time, since it may have changed while the
        plugin was disabled.
        """
        crm = self.crm
        plugin = self._usable(name)
        info = plugin.info
        if not satisfies(__version__, info.crmkit_versions):
            raise PluginError(
                f"plugin {name!r} supports crmkit {info.crmkit_versions}, "
                f"this is crmkit {__version__}"
            )

        def checked(_seen) -> dict[str, Any]:
            kept = self._stored_config(name)
            if config is not None or kept is None:
                completed = self.validate_config(name, config)
            else:
                completed = validate(self.schema(name), kept,
                                     f"plugin {name!r} kept configuration (replace it with "
                                     "--config FILE)")
            blocker = self._missing_requirements(name, info)
            if blocker:
                raise PluginError(blocker)
            enabled = crm.plugin_states().get(name, {}).get("enabled", False)
            self._check_config_hook(name, completed, kept, crm.core_config,
                                    crm.core_config if enabled else None)
            return completed

        def write(tx, completed: dict[str, Any]) -> dict[str, Any]:
            self._migrate(tx, name)
            self._store(tx, name, True, plugin.version, completed)
            tx.audit("enable", "plugin_state", name, {"config": completed})
            crm.refresh_plugins(tx.conn)
            return completed

        completed = crm.checked_write(f"plugin {name!r} was not enabled", crm.loaded_state,
                                      checked, write, exclusive=True)
        plugins.remember_accepted(name, plugin.version, self.schema(name), completed)
        return completed

    def _migrate(self, tx, name: str) -> None:
        """Upgrade the plugin's branch to its head; a failing revision names the plugin."""
        from . import migrate

        location = self.crm.hooks.call_one(name, "crmkit_migrations", None)
        if location is not None:
            migrate.upgrade_branch(tx.conn, name, location)

    def _check_config_hook(self, name, config, previous, core_config,
                           previous_core_config) -> None:
        """Let the plugin check what a schema cannot express (``crmkit_check_config``):
        ``config`` with the core configuration ``core_config``; ``previous``, the configuration
        stored now (None if none), was checked with ``previous_core_config`` (None if not
        known)."""
        self.crm.hooks.call_one(name, "crmkit_check_config", None, crm=self.crm, config=config,
                                previous=previous, core_config=core_config,
                                previous_core_config=previous_core_config)

    def disable(self, name: str) -> None:
        """Disable ``name`` (its data is kept); refused while an enabled plugin requires it."""
        crm = self.crm
        with crm.transaction(require_plugins=False, exclusive=True) as tx:
            states = crm.plugin_states()
            state = states.get(name)
            if state is None or not state["enabled"]:
                raise PluginError(f"plugin {name!r} is not enabled")
            blocker = self._dependants(name)
            if blocker:
                raise PluginError(blocker)
            self._store(tx, name, False, state["version"], state["config"])
            tx.audit("disable", "plugin_state", name, {})
            crm.refresh_plugins(tx.conn)

    def blockers(self, name: str) -> tuple[str | None, str | None]:
        """What refuses enabling and disabling ``name`` now: ``(enable, disable)``, each the
        error text :meth:`enable` / :meth:`disable` would raise for the plugin's
        requirements (a missing requirement; an enabled plugin requiring it), or None."""
        with self.crm.read() as conn:
            self.crm.refresh_plugins(conn)
        enable = None
        plugin = self.crm.installed.get(name)
        if plugin is not None and not plugins.load(plugin).broken:
            enable = self._missing_requirements(name, plugin.info)
        return enable, self._dependants(name)

    def _missing_requirements(self, name: str, info) -> str | None:
        """Why ``name`` cannot be enabled while what it requires is not, or None."""
        enabled = {n for n, s in self.crm.plugin_states().items() if s["enabled"]}
        missing = [r for r in info.requires if r not in enabled]
        if not missing:
            return None
        return (f"plugin {name!r} requires {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not enabled: "
                f"`crmkit plugins enable {missing[0]}` first")

    def _dependants(self, name: str) -> str | None:
        """Why ``name`` cannot be disabled while enabled plugins require it, or None."""
        crm = self.crm
        dependants = []
        for other, other_state in crm.plugin_states().items():
            if other_state["enabled"] and other != name and other in crm.installed:
                other_plugin = plugins.load(crm.installed[other])
                if not other_plugin.broken and name in other_plugin.info.requires:
                    dependants.append(other)
        if not dependants:
            return None
        return (f"cannot disable {name!r}: {', '.join(sorted(dependants))} "
                f"require{'s' if len(dependants) == 1 else ''} it; disable "
                f"{'it' if len(dependants) == 1 else 'them'} first")

    def configure(self, name: str, config: dict[str, Any]) -> dict[str, Any]:
        """Replace an enabled plugin's configuration (validated, then checked by the plugin
        before the write transaction opens, as :meth:`enable`'s); return the stored config."""
        crm = self.crm
        completed = self.validate_config(name, config)

        def checked(_seen) -> dict[str, Any]:
            state = crm.plugin_states().get(name)
            if state is None or not state["enabled"]:
                raise PluginError(f"plugin {name!r} is not enabled: `crmkit plugins enable {name}`")
            self._check_config_hook(name, completed, state["config"], crm.core_config,
                                    crm.core_config)
            return state

        def write(tx, state: dict[str, Any]) -> None:
            self._store(tx, name, True, state["version"], completed)
            tx.audit("configure", "plugin_state", name,
                     {"old": state["config"], "new": completed})
            crm.refresh_plugins(tx.conn)

        crm.checked_write(f"plugin {name!r} was not configured", crm.loaded_state, checked,
                          write, exclusive=True)
        plugins.remember_accepted(name, crm.installed[name].version, self.schema(name),
                                  completed)
        return completed

    def config(self, name: str) -> dict[str, Any]:
        """The stored configuration of a plugin (enabled or disabled)."""
        config = self.kept_config(name)
        if config is None:
            raise PluginError(f"plugin {name!r} has never been enabled")
        return config

    def kept_config(self, name: str) -> dict[str, Any] | None:
        """The configuration stored for ``name`` by an earlier enable (None if never enabled).

        Disabling keeps it, and enabling without a configuration reuses it.
        """
        with self.crm.read() as conn:
            self.crm.refresh_plugins(conn)
        return self._stored_config(name)

    def _stored_config(self, name: str) -> dict[str, Any] | None:
        state = self.crm.plugin_states().get(name)
        return None if state is None else state["config"]

    def configure_core(self, config: dict[str, Any], by: Principal | None = None
                       ) -> dict[str, Any]:
        """Replace the core's configuration (validated against ``CORE_SCHEMA``).  ``by``, the
        member asking (the web app's roles page), may add, change or remove only roles that
        grant, before and after, nothing theirs does not
        (:meth:`crmkit.auth.AuthService.require_roles_change`); None: the operator.

        Before the write transaction opens (:meth:`crmkit.CRM.checked_write`), what was
        checked against the configuration it replaces is checked against it: when it narrows
        ``webhooks.allowed_networks``, each active webhook's URL
        (:func:`crmkit.webhooks.check_subscriptions`), and each enabled plugin's stored
        configuration (its ``crmkit_check_config``, given this core configuration).  One
        refused is a ConfigError naming it, and nothing is stored."""
        from .outbound import Destinations
        from .webhooks import active_subscriptions, check_subscriptions

        crm = self.crm
        completed = validate(CORE_SCHEMA, config, "core config")
        check_schema(completed["customer_attributes"], "core config /customer_attributes")
        check_roles(completed["roles"])
        check_phone_region(completed["phone_region"], "core config: /phone_region")
        Destinations.of_setting(completed["webhooks"]["allowed_networks"])

        def depends_on(conn) -> tuple[Any, ...]:
            return (*crm.loaded_state(conn), active_subscriptions(conn))

        def checked(seen) -> None:
            _, current, subscriptions = seen
            if by is not None:
                crm.auth.require_roles_change(by, current["roles"], completed["roles"])
            check_subscriptions(subscriptions, current["webhooks"], completed["webhooks"])
            refused = crm.refused_plugin_configs()
            for name in crm.enabled_plugins():
                if name in refused:
                    continue  # writes stop until it is corrected (crm.refused_plugin_configs)
                stored = crm.plugin_config(name)
                try:
                    self._check_config_hook(name, stored, stored, completed, current)
                except ConfigError as exc:
                    message = (f"core config: the stored configuration of plugin {name!r} "
                               f"would be refused with it: {exc} (change that first: crmkit "
                               f"plugins config {name})")
                    raise ConfigError(message, [("", message)]) from None

        def write(tx, _) -> None:
            staff = tables.staff
            check_roles(completed["roles"], dict(tx.conn.execute(
                select(staff.c.handle, staff.c.role).where(staff.c.active.is_(True))).all()))
            _upsert(tx.conn, tables.settings, {"name": "core", "value": completed,
                                               "updated_at": tx.now()}, ["name"])
            tx.audit("configure", "settings", "core", {"new": completed})

        crm.checked_write("the core config was not changed", depends_on, checked, write,
                          exclusive=True)
        crm.remember_core_config(completed)
        return completed

    def _store(self, tx, name, enabled, version, config) -> None:
        """Record the plugin's state; enabling a disabled (or never enabled) plugin counts one
        more in ``times_enabled`` (:attr:`crmkit.plugin.HookContext.times_enabled`)."""
        state = tables.plugin_state
        _upsert(tx.conn, state,
                {"name": name, "enabled": enabled, "version": version, "config": config,
                 "updated_at": tx.now(), "times_enabled": int(enabled)}, ["name"],
                times_enabled=state.c.times_enabled + case((state.c.enabled, 0),
                                                           else_=int(enabled)))


def _upsert(conn, table, values: dict[str, Any], keys: list[str], **updates: Any) -> None:
    """Insert ``values``, or update the row with the same ``keys`` to them, except that the
    columns named in ``updates`` are set to those expressions of the stored row."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={**{k: v for k, v in values.items() if k not in keys},
                                   **updates})
    conn.execute(stmt)


__all__ = ["PluginAdmin", "PluginStatus"]
