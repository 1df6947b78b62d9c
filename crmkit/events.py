"""Reading the append-only domain event log, and the core's own event types."""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator, Sequence

import attrs
from sqlalchemy import select

from . import tables
from .auth import CORE_PERMISSIONS, Principal, granted_beyond
from .errors import PluginError
from .messaging import EVENT_TYPES as MESSAGE_EVENT_TYPES
from .models import INTERACTION_RECORDED, Event, EventType
from .transaction import ReadContext

CORE_EVENT_TYPES: dict[str, str | EventType] = {
    "customer.created": "a customer was created",
    "customer.updated": "fields of a customer changed (payload: external_id, fields)",
    "customer.merged": "a duplicate was merged into a customer (payload: duplicate_id)",
    "customer.erased": "a customer's personal data was erased",
    "consent.changed": "a customer granted or withdrew consent on a channel",
    INTERACTION_RECORDED: "an interaction was recorded; not stored per row: plugins see "
                            "interactions set-based in crmkit_react_interactions",
    **MESSAGE_EVENT_TYPES,
}
"""Event types the core itself emits: a description, or an EventType naming the payload keys
whose values are personal data."""


def event_types_problem(declared: Any) -> str | None:
    """What is wrong with what a plugin's ``crmkit_event_types`` returned, or None."""
    if not isinstance(declared, dict):
        return "crmkit_event_types must return {event type: description or EventType}"
    for name, value in declared.items():
        description = value.description if isinstance(value, EventType) else value
        personal = value.personal if isinstance(value, EventType) else ()
        if (not isinstance(name, str) or not name or not isinstance(description, str)
                or not description.strip()
                or not all(isinstance(key, str) and key for key in personal)):
            return (f"crmkit_event_types declares {name!r}: {value!r}; each event type must "
                    "map to a one-line description, or to crmkit.plugin.EventType(description, "
                    "personal=[payload keys])")
    return None


@attrs.frozen
class ReadableTypes:
    """The event types a member may read (``crm.events.readable_by``): of
    ``declared``, every type declared now, those in ``shown`` in full and those in
    ``checked`` event by event; with ``undeclared``, every type nobody declares now as well.

    ``checked`` maps a type to the plugins declaring it whose row-level rules may restrict
    ``principal`` on ``<plugin>.read`` (their role granting it) and which say what each of
    their events is about (``crmkit_event_resources``): an event of such a type is read when
    each of them names its record and the rules allow it (:meth:`EventLog.readable`)."""

    declared: frozenset[str]
    shown: frozenset[str]
    undeclared: bool
    checked: dict[str, tuple[str, ...]] = attrs.field(factory=dict, hash=False)
    principal: Principal | None = attrs.field(default=None, hash=False)

    def where(self, column) -> Any:
        """The SQL condition on an event type ``column`` that keeps the readable types (those
        ``checked`` too), or None when every type is."""
        if not self.undeclared:
            return column.in_(sorted(self.shown | set(self.checked)))
        hidden = self.declared - self.shown - set(self.checked)
        return column.not_in(sorted(hidden)) if hidden else None


def _resources(plugin: str, events: Sequence[Event], answer: Any) -> list[dict | None]:
    """``plugin``'s ``crmkit_event_resources`` ``answer`` for ``events``, checked: a list of
    one dict or None per event, else a PluginError naming the plugin."""
    if not isinstance(answer, (list, tuple)) or len(answer) != len(events):
        got = (f"{len(answer)} for {len(events)} events" if isinstance(answer, (list, tuple))
               else type(answer).__name__)
        raise PluginError(f"plugin {plugin!r}: crmkit_event_resources must return a list of "
                          f"one resource (a dict or None) per event given, got {got}")
    for event, resource in zip(events, answer):
        if resource is not None and not isinstance(resource, dict):
            raise PluginError(f"plugin {plugin!r}: crmkit_event_resources: the resource of "
                              f"event {event.id} ({event.type}) must be a dict (the record it "
                              f"is about, as crmkit_permission_allowed receives it) or None, "
                              f"got {type(resource).__name__}")
    return list(answer)


def _event_type(value: str | EventType) -> EventType:
    return value if isinstance(value, EventType) else EventType(value)


class EventLog:
    """``crm.events``: query stored domain events."""

    def __init__(self, crm):
        self.crm = crm

    def list(self, type: str | None = None, customer_id: int | None = None,
             since: dt.datetime | None = None, after_id: int | None = None,
             limit: int | None = 1000, readable: ReadableTypes | None = None
             ) -> list[Event]:
        """Stored events in id order, filtered by type, customer, time or id, and to the
        ``readable`` types (in SQL, so ``limit`` counts only those)."""
        e = tables.events
        query = select(e).order_by(e.c.id)
        if type is not None:
            query = query.where(e.c.type == type)
        if readable is not None and (kept := readable.where(e.c.type)) is not None:
            query = query.where(kept)
        if customer_id is not None:
            query = query.where(e.c.customer_id == customer_id)
        if since is not None:
            query = query.where(e.c.occurred_at >= since)
        if after_id is not None:
            query = query.where(e.c.id > after_id)
        if limit is not None:
            query = query.limit(limit)
        with self.crm.read() as conn:
            return [Event(**dict(r)) for r in conn.execute(query).mappings()]

    def readable_by(self, principal: Principal) -> ReadableTypes:
        """The event types ``principal`` may read in the log (``events.read`` is the
        route's to ask, and leaving out a customer a rule hides the caller's): every core
        type; a type plugins declare when the role grants each declaring plugin's
        ``<plugin>.read``: in full when no plugin's row-level rule may refuse them one
        (``crm.auth.restricted_by``), else event by event when each declaring plugin says
        which record its events are about (``crmkit_event_resources``, see
        :meth:`readable`), and not at all when one does not (a rule decides on records, and
        such a plugin's events name none); a type nobody declares now (operational's
        ``automation.<name>``, a disabled plugin's), whose area is unknown, only when the
        role reads every area (``*.read``, nothing excluded) and no rule restricts them on
        an enabled plugin's ``<plugin>.read``."""
        auth = self.crm.auth
        verdicts: dict[tuple[str, ...], bool] = {}
        telling: set[str] | None = None

        def reads(plugins: tuple[str, ...]) -> bool:
            if plugins not in verdicts:
                verdicts[plugins] = auth.reads_unrestricted(
                    principal, [f"{plugin}.read" for plugin in plugins])
            return verdicts[plugins]

        def checks(plugins: tuple[str, ...]) -> bool:
            nonlocal telling
            if not all(principal.can(f"{plugin}.read") for plugin in plugins):
                return False
            if telling is None:
                telling = {plugin for plugin, *_ in
                           self.crm.hooks.impls("crmkit_event_resources")}
            return telling.issuperset(plugins)

        shown: set[str] = set()
        checked: dict[str, tuple[str, ...]] = {}
        declared_by = self.declared_by()
        for name, sources in declared_by.items():
            plugins = tuple(source for source in sources if source != "core")
            if reads(plugins):
                shown.add(name)
            elif checks(plugins):
                checked[name] = plugins
        every_area = not [permission for permission in granted_beyond(["*.read"],
                                                                      principal.permissions)
                          if permission not in CORE_PERMISSIONS]
        return ReadableTypes(frozenset(declared_by), frozenset(shown),
                             every_area and reads(tuple(self.crm.enabled_plugins())),
                             checked, principal)

    def readable(self, events: Sequence[Event], readable: ReadableTypes) -> list[Event]:
        """Of ``events`` (a page :meth:`list` gave with ``readable``), those its member reads:
        every event of a type not ``checked``; one of a checked type when each plugin
        checking it names the record it is about (``crmkit_event_resources``, one call per
        plugin for the whole page) and ``crm.auth.allowed(member, "<plugin>.read", record)``.
        An answer that is not a list of one dict or None per event is a PluginError naming
        the plugin."""
        asked: dict[str, list[Event]] = {}
        for event in events:
            for plugin in readable.checked.get(event.type, ()):
                asked.setdefault(plugin, []).append(event)
        if not asked:
            return list(events)
        refused: set[int] = set()
        with self.crm.read() as conn:
            tx = self.crm.current_transaction() or ReadContext(self.crm, conn)
            for plugin, of_plugin in asked.items():
                permission = f"{plugin}.read"
                answer = self.crm.hooks.call_one(plugin, "crmkit_event_resources", tx,
                                                 events=list(of_plugin))
                for event, resource in zip(of_plugin, _resources(plugin, of_plugin, answer)):
                    if resource is None or not self.crm.auth.allowed(readable.principal,
                                                                     permission, resource):
                        refused.add(event.id)
        return [event for event in events if event.id not in refused]

    def declared(self) -> dict[str, EventType]:
        """Every known event type as declared: the core's, then each enabled plugin's
        ``crmkit_event_types`` (a PluginError names a plugin whose declaration is malformed)."""
        known: dict[str, EventType] = {}
        for _, declared in self._declarations():
            known.update((name, _event_type(value)) for name, value in declared.items())
        return known

    def declared_by(self) -> dict[str, list[str]]:
        """Who declares each known event type: ``core`` and the enabled plugins whose
        ``crmkit_event_types`` name it, in :meth:`declared`'s order."""
        found: dict[str, list[str]] = {}
        for source, declared in self._declarations():
            for name in declared:
                found.setdefault(name, []).append(source)
        return found

    def _declarations(self) -> Iterator[tuple[str, dict[str, str | EventType]]]:
        """``("core", CORE_EVENT_TYPES)``, then each enabled plugin and its checked
        ``crmkit_event_types``."""
        yield "core", CORE_EVENT_TYPES
        for plugin in self.crm.enabled_plugins():
            declared = self.crm.hooks.call_one(plugin, "crmkit_event_types", None) or {}
            problem = event_types_problem(declared)
            if problem:
                raise PluginError(f"plugin {plugin!r}: {problem}")
            yield plugin, declared

    def types(self) -> dict[str, str]:
        """Every known event type and its description (:meth:`declared`)."""
        return {name: declared.description for name, declared in self.declared().items()}


__all__ = ["CORE_EVENT_TYPES", "EventLog", "ReadableTypes", "event_types_problem"]
