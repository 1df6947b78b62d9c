"""The customer 360 timeline: core interactions and audit entries, plus every plugin's entries.

Each source gives at most ``limit`` newest entries; the core merges them,
newest first (ties: core before plugins, then by plugin order), keeps
``limit`` and names each entry's ``source`` (``core`` or the plugin).

``masked=True`` gives the timeline as a member without ``customers.pii`` may see it: the
personal values an entry names in ``personal`` read ``***`` in its summary; an audit
entry's details are masked by the audit log's rule (:meth:`crmkit.auth.AuthService.mask_audit`:
who and which fields changed stay, personal values and command arguments go); an
interaction's details by the interactions' rule (:func:`crmkit.auth.masked_interaction`:
the payload reads ``***``); a plugin's entry has no details (they may hold anything).

``reader`` (a member; None: the operator, who reads everything) reads a plugin's entries
when their role grants ``<plugin>.read``: all of them when no row-level rule may refuse them
one of its records (``crm.auth.reads_unrestricted``, decided once per plugin); else only
those whose ``resource`` (the record an entry is about) the rules allow them
(``crm.auth.allowed(reader, "<plugin>.read", entry.resource)``), none without a resource
(operational's rule restricting an agent to their own leads, tasks and cases: the stage moves
of their leads, their tasks and cases).  Entries are left out before ``limit`` is applied,
so the timeline still holds ``limit`` entries when there are that many readable: when a
restricted reader reads fewer than ``limit`` of the ``limit`` entries a plugin gave, the
plugin is asked again for twice as many, until it has no more or enough are readable.
"""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import select

from .. import tables
from ..auth import MASK, Principal, masked_changes, masked_command, masked_interaction
from ..clock import UTC
from ..errors import PluginError
from ..models import TimelineEntry
from ..transaction import ReadContext


def timeline(crm, customer_id: int, limit: int = 100, masked: bool = False,
             reader: Principal | None = None) -> list[TimelineEntry]:
    """The merged timeline of one customer (internal id), newest first; ``masked``: as a
    member without ``customers.pii`` may see it; ``reader``: without the plugins' entries
    that member may not read."""
    if limit < 1:
        return []
    hide = _masked if masked else (lambda entry: entry)
    with crm.read() as conn:
        crm.refresh_plugins(conn)
        entries = _interactions(conn, customer_id, limit, masked)
        entries += _audit(conn, customer_id, limit,
                          crm.auth.personal_attributes() if masked else None)
        tx = crm.current_transaction() or ReadContext(crm, conn)
        for plugin, result in crm.hooks.call("crmkit_timeline", tx, customer_id=customer_id,
                                             limit=limit):
            entries += map(hide, _readable(crm, tx, reader, plugin, result, customer_id, limit))
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def _readable(crm, tx, reader: Principal | None, plugin: str, result, customer_id: int,
              limit: int) -> list[TimelineEntry]:
    """The entries of ``plugin``'s answer ``result`` (to ``limit``), checked, that ``reader``
    reads; when a row-level rule leaves them fewer than ``limit`` of a full answer, the
    plugin's entries to a limit twice as large, and so on (the module's rule)."""
    permission = f"{plugin}.read"
    if reader is None or crm.auth.reads_unrestricted(reader, [permission]):
        return [_checked(plugin, entry) for entry in result or ()]
    if not reader.can(permission):
        return []
    asked, given = limit, -1
    while True:
        found = [_checked(plugin, entry) for entry in result or ()]
        readable = [entry for entry in found if entry.resource is not None
                    and crm.auth.allowed(reader, permission, entry.resource)]
        if len(readable) >= limit or len(found) < asked or len(found) <= given:
            return readable
        asked, given = asked * 2, len(found)
        result = crm.hooks.call_one(plugin, "crmkit_timeline", tx, customer_id=customer_id,
                                    limit=asked)


def _masked(entry: TimelineEntry) -> TimelineEntry:
    """``entry`` without personal data: its ``personal`` values read ``***`` in the summary
    (the longest first, so that a value inside another goes with it), and no details."""
    summary = entry.summary
    for value in sorted(set(entry.personal), key=len, reverse=True):
        if value:
            summary = summary.replace(value, MASK)
    return attrs.evolve(entry, summary=summary, details={}, personal=())


def _checked(plugin: str, entry) -> TimelineEntry:
    if not isinstance(entry, TimelineEntry):
        raise PluginError(f"plugin {plugin!r}: crmkit_timeline must return TimelineEntry "
                          f"objects, got {type(entry).__name__}")
    at = entry.at
    if not isinstance(at, dt.datetime) or at.tzinfo is None:
        raise PluginError(f"plugin {plugin!r}: crmkit_timeline entry {entry.summary!r} needs an "
                          "aware UTC datetime in 'at'")
    if not all(isinstance(value, str) for value in entry.personal):
        raise PluginError(f"plugin {plugin!r}: crmkit_timeline entry {entry.summary!r}: "
                          "'personal' must list texts (the personal values in the summary)")
    if entry.resource is not None and not isinstance(entry.resource, dict):
        raise PluginError(f"plugin {plugin!r}: crmkit_timeline entry {entry.summary!r}: "
                          f"'resource' must be a dict (the record the entry is about, as "
                          f"crmkit_permission_allowed receives it) or None, got "
                          f"{type(entry.resource).__name__}")
    return attrs.evolve(entry, at=at.astimezone(UTC), source=plugin)


def _interactions(conn, customer_id: int, limit: int, masked: bool) -> list[TimelineEntry]:
    """The customer's interactions; ``masked``: their details without the payload
    (:func:`crmkit.auth.masked_interaction`; the summary holds no personal value)."""
    t = tables.interactions
    rows = conn.execute(select(t).where(t.c.customer_id == customer_id)
                        .order_by(t.c.occurred_at.desc(), t.c.id.desc()).limit(limit)).mappings()
    shown = masked_interaction if masked else (lambda details: details)
    return [TimelineEntry(at=r["occurred_at"], kind=r["kind"], summary=_summary(r),
                          details=shown({"interaction_id": r["id"],
                                         "external_id": r["external_id"],
                                         "channel": r["channel"], "direction": r["direction"],
                                         "amount": r["amount"], "currency": r["currency"],
                                         "payload": r["payload"]}),
                          source="core")
            for r in rows]


def _summary(row) -> str:
    parts = [row["kind"]]
    if row["amount"] is not None:
        parts.append(f"{row['amount'].normalize():f} {row['currency'] or ''}".strip())
    if row["channel"]:
        parts.append(f"via {row['channel']}")
    if row["direction"] == "outbound":
        parts.append("(outbound)")
    return " ".join(parts)


def _audit(conn, customer_id: int, limit: int, personal: frozenset[str] | None
           ) -> list[TimelineEntry]:
    """The customer's audit entries; with ``personal`` (the personal attributes), their
    details masked as the audit log masks them for a member without ``customers.pii``
    (:meth:`crmkit.auth.AuthService.mask_audit`)."""
    a = tables.audit_log
    rows = conn.execute(select(a).where(a.c.customer_id == customer_id)
                        .order_by(a.c.at.desc(), a.c.id.desc()).limit(limit)).mappings()
    entries = []
    for r in rows:
        changes, command = r["changes"], r["command"]
        if personal is not None:
            changes = masked_changes(r["table_name"], changes, personal)
            command = masked_command(command)
        entries.append(TimelineEntry(at=r["at"], kind=f"{r['table_name']}.{r['action']}",
                                     summary=_audit_summary(r),
                                     details={"actor": r["actor"], "changes": changes,
                                              "command": command},
                                     source="core"))
    return entries


def _audit_summary(row) -> str:
    changes = row["changes"] or {}
    action = row["action"]
    if action == "update":
        return f"updated {', '.join(sorted(changes))} by {row['actor']}"
    if action == "consent":
        granted = (changes.get("granted") or [None, None])[-1]
        return (f"consent {'granted' if granted is True else 'withdrawn'} on "
                f"{changes.get('channel')} by {row['actor']}")
    if action == "merge":
        return f"merged duplicate {changes.get('duplicate')} by {row['actor']}"
    return f"{action} by {row['actor']}"


__all__ = ["timeline"]
