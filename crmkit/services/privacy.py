"""Privacy requests: everything held about one person (access), and erasure.

Both are recorded in ``privacy_requests`` (kind ``export`` or ``erase``, who,
when, and counts — never the personal data itself).

Erasure, in one transaction: every enabled plugin's ``crmkit_erase_customer``;
then the core's own columns — the customer's name, email, phone, preferred
channel, attributes and tags are cleared and ``erased_at`` set; interaction
and event payload text is redacted (:mod:`.redaction`: amounts, dates, scores
and item categories stay, so analytics still add up); the person's audit-log
values and recorded command arguments are replaced (the erasure's own audit
rows record the command without its arguments); consents are withdrawn
(source ``erasure``).  The external id stays as a tombstone, so an old import
file cannot bring the person back — unless it contains the person's name,
email or phone, in which case it is replaced by a random ``erased-…`` id
everywhere (audit keys, payloads, earlier privacy requests, plugin text
columns); so is the external id of each of their interactions that holds
them.  Before committing, the text and JSON
columns of every row pointing at the person, in every table, are searched for
the erased name, email and phone: a hit rolls everything back, naming the
table.  A disabled plugin still holding the person's rows blocks the erasure
and the access request alike (enable it first).
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Callable

import attrs
from sqlalchemy import String, Text, bindparam, cast, func, insert, or_, select, update

from .. import tables
from ..db import lowercase
from ..errors import NotFound, PluginError
from ..messaging import erase_messages
from ..models import Customer, jsonable, to_customer
from .redaction import CORE_KEPT_KEYS, redact_command, redact_payload, redact_values
from .references import CustomerTable, customer_tables, pointing_at

ERASED_FIELDS = ("name", "email", "phone", "preferred_channel", "attributes", "tags")
"""The customers columns erasure clears."""


def export_data(crm, external_id: str,
                deliver: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Everything held about one customer, JSON-ready; the request is recorded.

    Refused, as erasure is, while a disabled plugin still holds rows about them.
    ``deliver`` (if given) receives the document before the request is
    recorded, in the same transaction: if delivering fails, nothing is recorded.
    """
    with crm.transaction() as tx:
        conn = tx.conn
        customer = _load(conn, external_id)
        _refuse_disabled_holders(crm, conn, customer_tables(crm, conn), customer, "export")
        cid = customer.id
        c = tables.customers
        document: dict[str, Any] = {
            "exported_at": tx.now(),
            "customer": _profile(conn, customer),
            "consents": _rows(conn, tables.consents, tables.consents.c.customer_id == cid,
                              tables.consents.c.channel),
            "interactions": _rows(conn, tables.interactions,
                                  tables.interactions.c.customer_id == cid,
                                  tables.interactions.c.id),
            "audit_log": _rows(conn, tables.audit_log, tables.audit_log.c.customer_id == cid,
                               tables.audit_log.c.id),
            "events": _rows(conn, tables.events, tables.events.c.customer_id == cid,
                            tables.events.c.id),
            "messages": _rows(conn, tables.messages, tables.messages.c.customer_id == cid,
                              tables.messages.c.id),
            "privacy_requests": _rows(conn, tables.privacy_requests,
                                      tables.privacy_requests.c.customer_id == cid,
                                      tables.privacy_requests.c.id),
        }
        if customer.type == "organisation":
            document["people"] = [dict(row) for row in conn.execute(
                select(c.c.external_id, c.c.name).where(c.c.organisation_id == cid)
                .order_by(c.c.id)).mappings()]
        document["plugins"] = {name: data for name, data in
                               crm.hooks.call("crmkit_export_customer", tx, customer_id=cid)}
        counts = {k: len(v) for k, v in document.items() if isinstance(v, list)}
        document = jsonable(document)
        if deliver is not None:
            deliver(document)
        conn.execute(insert(tables.privacy_requests), {
            "customer_id": cid, "kind": "export", "at": tx.now(), "actor": tx.actor,
            "details": {"external_id": external_id, "rows": counts,
                        "plugins": sorted(document["plugins"])}})
    return document


def erase(crm, external_id: str) -> Customer:
    """Erase one customer's personal data everywhere (see the module docstring)."""
    with crm.transaction() as tx:
        tx.command = redact_command(tx.command)
        conn = tx.conn
        customer = _load(conn, external_id)
        cid = customer.id
        found = customer_tables(crm, conn)
        _refuse_disabled_holders(crm, conn, found, customer, "erase")
        needles = tuple(_needles(customer))
        plugins = [name for name, _ in crm.hooks.call("crmkit_erase_customer", tx,
                                                      customer_id=cid)]
        tx.deliver_events()
        now = tx.now()
        aliases = _personal_external_ids(conn, cid, external_id, needles)
        new_id = aliases.get(external_id, external_id)
        c = tables.customers
        conn.execute(update(c).where(c.c.id == cid).values(
            external_id=new_id, name=None, email=None, phone=None, preferred_channel=None,
            attributes={}, tags=[], erased_at=now, updated_at=now))
        _replace_aliases(conn, found, cid, aliases)
        kept_keys = CORE_KEPT_KEYS | crm.plugins.payload_keys()
        rows = {
            "interactions": _redact_json(conn, tables.interactions, "payload", cid,
                                         lambda v: redact_payload(v, kept_keys, aliases=aliases,
                                                                  needles=needles)),
            "events": _redact_json(conn, tables.events, "payload", cid,
                                   lambda v: redact_payload(v, kept_keys, aliases=aliases,
                                                            needles=needles)),
            "audit_log": _redact_audit(conn, cid),
        }
        rows["messages"] = erase_messages(conn, cid)
        _redact_json(conn, tables.privacy_requests, "details", cid,
                     lambda v: redact_payload(v, kept=True, aliases=aliases, needles=needles))
        consents = tables.consents
        rows["consents"] = conn.execute(
            update(consents).where(consents.c.customer_id == cid)
            .values(granted=False, source="erasure", recorded_at=now)).rowcount
        left = _personal_text_left(conn, found, cid, list(needles))
        if left:
            raise PluginError(f"erasure of {external_id!r} rolled back: personal data is "
                              "still in " + ", ".join(left))
        conn.execute(insert(tables.privacy_requests), {
            "customer_id": cid, "kind": "erase", "at": now, "actor": tx.actor,
            "details": {"external_id": new_id, "external_id_replaced": new_id != external_id,
                        "rows": rows, "plugins": plugins}})
        tx.audit("erase", "customers", new_id,
                 {"erased": list(ERASED_FIELDS), "plugins": plugins}, customer_id=cid)
        tx.emit("customer.erased", cid, {"external_id": new_id})
        return to_customer(conn.execute(select(c).where(c.c.id == cid)).mappings().one())


def _personal_external_ids(conn, cid: int, external_id: str,
                           needles: tuple[str, ...]) -> dict[str, str]:
    """``{old: new}`` for the customer's and their interactions' external ids that hold a
    needle: each gets a random ``erased-…`` id."""
    i = tables.interactions
    ids = [external_id, *conn.execute(select(i.c.external_id).where(
        i.c.customer_id == cid, i.c.external_id.is_not(None))).scalars()]
    return {old: "erased-" + secrets.token_hex(8) for old in ids
            if any(n in old.lower() for n in needles)}


def _replace_aliases(conn, found: list[CustomerTable], cid: int, aliases: dict[str, str]) -> None:
    """Replace every alias (longest first) in the plain-text columns of every row about ``cid``
    (the interactions' external ids, audit keys, text a plugin copied an id into)."""
    for held in found:
        if held.name == "customers":
            continue
        about = or_(*[held.clause.c[r] == cid for r in held.refs])
        for name in held.texts:
            col = held.clause.c[name]
            if not isinstance(col.type, String):
                continue
            for old in sorted(aliases, key=len, reverse=True):
                conn.execute(update(held.clause).where(about, col.contains(old, autoescape=True))
                             .values({name: func.replace(col, old, aliases[old])}))


_DONE = {"erase": "erased", "export": "exported"}
"""What each privacy request does to a plugin's data, for messages."""


def _refuse_disabled_holders(crm, conn, found: list[CustomerTable], customer,
                             verb: str) -> None:
    """Raise PluginError if a table of a disabled or uninstalled plugin holds rows about
    ``customer``: ``verb`` (``erase``, ``export``) would leave those rows out."""
    enabled = set(crm.enabled_plugins()) | {"core"}
    outside = [t for t in found if t.owner not in enabled]
    for held, column, count in pointing_at(conn, outside, customer.id):
        where = (f"cannot {verb} {customer.external_id!r}: {held.name}.{column} holds "
                 f"{count} row(s) about them")
        if held.owner == "unknown":
            raise PluginError(f"{where}, in a table of no installed plugin: delete those rows "
                              "first")
        raise PluginError(f"{where}: run `crmkit plugins enable {held.owner}` first so its "
                          f"data is {_DONE[verb]} too")


def _needles(customer: Customer) -> list[str]:
    """The personal texts that must not survive erasure (name, email, phone), lower-cased."""
    values = [customer.name, customer.email, customer.phone]
    needles = []
    for value in values:
        if isinstance(value, str) and len(value.strip()) >= 3:
            text = value.strip().lower()
            needles.append(text)
            escaped = json.dumps(text)[1:-1]
            if escaped != text:
                needles.append(escaped)  # how JSON text stores non-ASCII characters
    return needles


def _personal_text_left(conn, found: list[CustomerTable], cid: int,
                        needles: list[str]) -> list[str]:
    if not needles:
        return []
    hits = []
    for held in found:
        if not held.texts:
            continue
        refs = ["id"] if held.name == "customers" else list(held.refs)
        about = or_(*[held.clause.c[r] == cid for r in refs])
        for name in held.texts:
            text = lowercase(cast(held.clause.c[name], Text))
            matches = or_(*[text.contains(n, autoescape=True) for n in needles])
            if conn.execute(select(func.count()).select_from(held.clause)
                            .where(about, matches)).scalar_one():
                hits.append(f"{held.describe()} column {name}")
    return hits


def _redact_json(conn, table, column: str, cid: int, redact) -> int:
    """Redact one JSON column of the customer's rows; one executemany for the changed rows."""
    col = table.c[column]
    changed = []
    for row_id, value in conn.execute(select(table.c.id, col).where(table.c.customer_id == cid,
                                                                    col.is_not(None))):
        new = redact(value)
        if new != value:
            changed.append({"row_id": row_id, "new_value": new})
    if changed:
        conn.execute(update(table).where(table.c.id == bindparam("row_id"))
                     .values({column: bindparam("new_value")}), changed)
    return len(changed)


def _redact_audit(conn, cid: int) -> int:
    a = tables.audit_log
    changed = []
    for row_id, changes, command in conn.execute(
            select(a.c.id, a.c.changes, a.c.command).where(a.c.customer_id == cid)):
        changed.append({"row_id": row_id, "new_changes": redact_values(changes or {}),
                        "new_command": redact_command(command)})
    if changed:
        conn.execute(update(a).where(a.c.id == bindparam("row_id"))
                     .values(changes=bindparam("new_changes"), command=bindparam("new_command")),
                     changed)
    return len(changed)


def _profile(conn, customer: Customer) -> dict[str, Any]:
    profile = attrs.asdict(customer)
    if customer.organisation_id is not None:
        c = tables.customers
        profile["organisation"] = conn.execute(
            select(c.c.external_id).where(c.c.id == customer.organisation_id)).scalar()
    return profile


def _rows(conn, table, condition, order) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(select(table).where(condition).order_by(order))
            .mappings()]


def _load(conn, external_id: str) -> Customer:
    row = conn.execute(select(tables.customers)
                       .where(tables.customers.c.external_id == external_id)).mappings().first()
    if row is None:
        raise NotFound(f"no customer {external_id!r}")
    return to_customer(row)


__all__ = ["ERASED_FIELDS", "erase", "export_data"]
