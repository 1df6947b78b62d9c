"""A plugin's parts, found by convention and loaded when first needed.

A plugin package declares which parts it has in its metadata
(``PluginInfo(api="LoyaltyAPI", parts=("cli", "tables", …))``); the core then
implements the describing and data-service hooks for it, importing each
module only when its hook is called.  Where each part is, in the plugin's
package:

* ``api`` (``PluginInfo.api``): the class of that name in ``api.py`` → ``crmkit_plugin_api``;
* ``cli``: the click group ``group`` in ``cli.py`` → ``crmkit_cli``;
* ``config``: ``config.schema.json``, with the condition schema added when it refers to
  ``#/$defs/condition`` → ``crmkit_config_schema``;
* ``settings``: ``check_config(crm, config)`` in ``settings.py``, taking any of the hook's
  ``previous``, ``core_config`` and ``previous_core_config`` too → ``crmkit_check_config``;
* ``migrations``: the ``migrations/`` folder → ``crmkit_migrations``;
* ``tables``: the list ``ALL`` in ``tables.py`` → ``crmkit_tables``;
* ``dataservices``: ``merge``, ``export``, ``erase`` and, when the plugin has entries of its
  own for the customer's timeline, ``timeline`` and, when it names the record each of its
  events is about, ``event_resources`` in ``dataservices.py`` → ``crmkit_timeline``,
  ``crmkit_event_resources``, ``crmkit_merge_customers``, ``crmkit_export_customer``,
  ``crmkit_erase_customer``;
* ``routes``: ``endpoints()`` and ``PERMISSIONS`` in ``routes.py`` and, when defined,
  ``permission_allowed(principal, permission, resource)`` and
  ``permission_restricted(principal, permission)`` → ``crmkit_routes``,
  ``crmkit_permissions``, ``crmkit_permission_allowed``, ``crmkit_permission_restricted``;
* ``card``: ``card(crm, principal, customer)`` in ``card.py`` → ``crmkit_customer_card``;
* ``dashboard``: ``panels(crm, principal, as_of)`` in ``dashboard.py`` →
  ``crmkit_dashboard_panels``;
* ``pages``: the list ``PAGES`` in ``pages.py`` (:class:`crmkit.plugin.WebPage`), with the
  package folder's ``templates/`` and ``static/`` → ``crmkit_web_pages``;
* ``work``: ``sections(site, principal, now)`` in ``work.py`` → ``crmkit_my_work``;
* ``locale``: the ``locale/`` folder of gettext catalogues (``locale/<lang>/LC_MESSAGES/
  messages.po``) → ``crmkit_locale_dir``;
* ``demo``: ``run`` and, when defined, ``refresh`` and ``history`` in ``demo.py`` →
  ``crmkit_demo``, ``crmkit_demo_refresh``, ``crmkit_demo_interactions`` (``history`` takes
  that hook's arguments but ``customer``).

An explicit ``@hookimpl`` of the same hook in the plugin's module wins.  A hook behind
an optional function ("when defined") is called only for the plugins whose part module
defines it: the first call of the hook imports those modules and leaves the others out
(:func:`present`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import json
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from .errors import PluginError
from .markers import hookimpl
from .models import PluginInfo

PRESENT = "crmkit_present"
"""Attribute of a part's hook implementation that stands for an optional function of the part
module: a callable telling whether the module defines it (see :func:`present`)."""

PARTS = ("cli", "config", "settings", "migrations", "tables", "dataservices", "demo", "routes",
         "card", "dashboard", "pages", "work", "locale")
"""The parts a plugin may declare in ``PluginInfo.parts`` (the API is ``PluginInfo.api``)."""


def declared_hooks(module: ModuleType, info: PluginInfo) -> dict[str, Callable]:
    """The hook implementations, by hook name, of the parts ``info`` declares for the plugin
    package ``module``; unknown part names are a :class:`PluginError`."""
    unknown = sorted(set(info.parts) - set(PARTS))
    if unknown:
        raise PluginError(f"PLUGIN.parts: unknown part {', '.join(map(repr, unknown))} "
                          f"(allowed: {', '.join(PARTS)})")
    folder = Path(module.__file__).parent
    found: dict[str, Callable] = {}

    def part(name: str) -> ModuleType:
        return importlib.import_module(f"{module.__name__}.{name}")

    if info.api is not None:
        def crmkit_plugin_api(crm):
            return getattr(part("api"), info.api)(crm)
        found["crmkit_plugin_api"] = crmkit_plugin_api
    if "cli" in info.parts:
        def crmkit_cli():
            return part("cli").group
        found["crmkit_cli"] = crmkit_cli
    if "config" in info.parts:
        def crmkit_config_schema():
            return config_schema(folder / "config.schema.json")
        found["crmkit_config_schema"] = crmkit_config_schema
    if "settings" in info.parts:
        def crmkit_check_config(crm, config, previous, core_config, previous_core_config):
            check = part("settings").check_config
            given = {"previous": previous, "core_config": core_config,
                     "previous_core_config": previous_core_config}
            taken = inspect.signature(check).parameters
            check(crm, config, **{name: value for name, value in given.items() if name in taken})
        found["crmkit_check_config"] = crmkit_check_config
    if "migrations" in info.parts:
        def crmkit_migrations():
            return folder / "migrations"
        found["crmkit_migrations"] = crmkit_migrations
    if "tables" in info.parts:
        def crmkit_tables():
            return list(part("tables").ALL)
        found["crmkit_tables"] = crmkit_tables
    if "dataservices" in info.parts:
        found.update(_data_services(part))
    if "demo" in info.parts:
        found.update(_demo(part))
    if "routes" in info.parts:
        found.update(_routes(part))
    if "card" in info.parts:
        def crmkit_customer_card(crm, principal, customer):
            return part("card").card(crm, principal, customer)
        found["crmkit_customer_card"] = crmkit_customer_card
    if "dashboard" in info.parts:
        def crmkit_dashboard_panels(crm, principal, as_of):
            return part("dashboard").panels(crm, principal, as_of)
        found["crmkit_dashboard_panels"] = crmkit_dashboard_panels
    if "pages" in info.parts:
        def crmkit_web_pages(crm):
            from .web.plugin_pages import WebPages

            return WebPages(folder, part("pages").PAGES)
        found["crmkit_web_pages"] = crmkit_web_pages
    if "work" in info.parts:
        def crmkit_my_work(site, principal, now):
            return part("work").sections(site, principal, now)
        found["crmkit_my_work"] = crmkit_my_work
    if "locale" in info.parts:
        def crmkit_locale_dir():
            return folder / "locale"
        found["crmkit_locale_dir"] = crmkit_locale_dir
    return {hook: hookimpl(function) for hook, function in found.items()}


def present(function: Callable) -> bool:
    """Whether a hook implementation is one: False for a part's implementation that stands for
    an optional function its module does not define (importing the module to see)."""
    defined = getattr(function, PRESENT, None)
    try:
        return defined is None or defined()
    except Exception:  # the part does not import: the call then fails naming the plugin
        return True


def _optional(hook: Callable, part: Callable[[str], ModuleType], module: str,
              name: str) -> Callable:
    """Mark ``hook`` as implemented only when the part ``module`` defines ``name``."""
    setattr(hook, PRESENT, lambda: hasattr(part(module), name))
    return hook


def _data_services(part: Callable[[str], ModuleType]) -> dict[str, Callable]:
    @functools.partial(_optional, part=part, module="dataservices", name="timeline")
    def crmkit_timeline(ctx, customer_id, limit):
        return part("dataservices").timeline(ctx, customer_id, limit)

    @functools.partial(_optional, part=part, module="dataservices", name="event_resources")
    def crmkit_event_resources(ctx, events):
        return part("dataservices").event_resources(ctx, events)

    def crmkit_merge_customers(ctx, keep_id, duplicate_id):
        part("dataservices").merge(ctx, keep_id, duplicate_id)

    def crmkit_export_customer(ctx, customer_id):
        return part("dataservices").export(ctx, customer_id)

    def crmkit_erase_customer(ctx, customer_id):
        part("dataservices").erase(ctx, customer_id)

    return {f.__name__: f for f in (crmkit_timeline, crmkit_event_resources,
                                    crmkit_merge_customers, crmkit_export_customer,
                                    crmkit_erase_customer)}


def _demo(part: Callable[[str], ModuleType]) -> dict[str, Callable]:
    def crmkit_demo(crm, rng):
        return part("demo").run(crm, rng)

    @functools.partial(_optional, part=part, module="demo", name="refresh")
    def crmkit_demo_refresh(crm):
        return part("demo").refresh(crm)

    @functools.partial(_optional, part=part, module="demo", name="history")
    def crmkit_demo_interactions(rng, start, end, per_customer, products):
        return part("demo").history(rng, start, end, per_customer, products)

    return {f.__name__: f for f in (crmkit_demo, crmkit_demo_refresh, crmkit_demo_interactions)}


def _routes(part: Callable[[str], ModuleType]) -> dict[str, Callable]:
    def crmkit_routes(crm):
        return part("routes").endpoints()

    def crmkit_permissions():
        return dict(part("routes").PERMISSIONS)

    @functools.partial(_optional, part=part, module="routes", name="permission_allowed")
    def crmkit_permission_allowed(crm, principal, permission, resource):
        return part("routes").permission_allowed(principal, permission, resource)

    @functools.partial(_optional, part=part, module="routes", name="permission_restricted")
    def crmkit_permission_restricted(crm, principal, permission):
        return part("routes").permission_restricted(principal, permission)

    return {f.__name__: f for f in (crmkit_routes, crmkit_permissions, crmkit_permission_allowed,
                                    crmkit_permission_restricted)}


def config_schema(path: Path) -> dict[str, Any]:
    """A plugin's configuration JSON Schema from ``path``, with the condition schema added as
    ``$defs/condition`` when the schema refers to it."""
    text = path.read_text(encoding="utf-8")
    schema = json.loads(text)
    if "#/$defs/condition" in text:
        from .condition_schema import with_condition_schema

        schema = with_condition_schema(schema)
    return schema


__all__ = ["PARTS", "PRESENT", "declared_hooks", "config_schema", "present"]
