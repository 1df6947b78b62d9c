"""Merging a duplicate customer into the one kept: fields, core rows, every plugin's rows, atomically.

Field rule: KEEP's non-empty values win; an empty field of KEEP (name, email,
phone, organisation, preferred channel, lifecycle stage, and each attribute
key) is filled from DUPLICATE; tags are the union; ``created_at`` becomes the
earlier of the two.  Rows move to KEEP: interactions, consents (per channel the
most recent decision wins; a tie keeps KEEP's), people of an organisation,
audit-log, event and privacy-request references, then every enabled plugin's
rows through ``crmkit_merge_customers``.  Afterwards every column of every
table that points at a customer is scanned: if any row still points at
DUPLICATE the merge is rolled back, naming the table.  The duplicate's
``customers`` row is then deleted (its external id becomes free), the merge is
audited and ``customer.merged`` is emitted — all in one transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import delete, exists, select, update

from .. import tables
from ..db import lock_rows
from ..errors import ConflictError, NotFound, PluginError, ValidationError
from ..models import Customer, to_customer
from .references import customer_tables, pointing_at

FILLED = ("name", "email", "phone", "organisation_id", "preferred_channel", "lifecycle_stage")
"""Fields KEEP takes from DUPLICATE when its own value is empty."""

_MOVED_BY_CORE = (tables.interactions, tables.audit_log, tables.events, tables.privacy_requests,
                  tables.messages)


@attrs.frozen
class MergeResult:
    """What a merge did (or, with ``dry_run``, would do)."""

    customer: Customer
    """KEEP after the merge."""
    duplicate: Customer
    changes: dict[str, tuple[Any, Any]]
    """KEEP's fields that change: ``{field: (old, new)}``."""
    moved: dict[str, int]
    """Rows that pointed at DUPLICATE, by ``table.column``."""
    dry_run: bool = False


def merge(crm, keep_external_id: str, duplicate_external_id: str,
          dry_run: bool = False) -> MergeResult:
    """Merge DUPLICATE into KEEP (see the module docstring); ``dry_run`` writes nothing."""
    if dry_run:
        with crm.read() as conn:
            crm.refresh_plugins(conn)
            keep, dup, changes, moved = _plan(crm, conn, keep_external_id, duplicate_external_id)
        merged = attrs.evolve(keep, **{k: v[1] for k, v in changes.items()})
        return MergeResult(merged, dup, changes, moved, dry_run=True)
    return crm.run_transaction(lambda tx: _merge(crm, tx, keep_external_id,
                                                 duplicate_external_id))


def _merge(crm, tx, keep_external_id: str, duplicate_external_id: str) -> MergeResult:
    conn = tx.conn
    keep, dup, changes, moved = _plan(crm, conn, keep_external_id, duplicate_external_id,
                                      lock=True)
    c = tables.customers
    if changes:
        conn.execute(update(c).where(c.c.id == keep.id).values(
            **{k: v[1] for k, v in changes.items()}, updated_at=tx.now()))
    conn.execute(update(c).where(c.c.organisation_id == dup.id).values(organisation_id=keep.id))
    _move_consents(conn, keep.id, dup.id)
    for table in _MOVED_BY_CORE:
        conn.execute(update(table).where(table.c.customer_id == dup.id)
                     .values(customer_id=keep.id))
    crm.hooks.call("crmkit_merge_customers", tx, keep_id=keep.id, duplicate_id=dup.id)
    tx.deliver_events()
    events = tables.events
    conn.execute(update(events).where(events.c.customer_id == dup.id)
                 .values(customer_id=keep.id))
    enabled = set(crm.enabled_plugins())
    left = list(pointing_at(conn, customer_tables(crm, conn), dup.id))
    if left:
        error = ConflictError if any(t.owner == "core" for t, _, _ in left) else PluginError
        raise error(f"merge of {dup.external_id!r} into {keep.external_id!r} rolled back: "
                    + "; ".join(_left_message(t, col, n, enabled) for t, col, n in left))
    conn.execute(delete(c).where(c.c.id == dup.id))
    tx.audit("merge", "customers", keep.external_id, {
        "duplicate": dup.external_id,
        "duplicate_id": dup.id,
        "fields": {k: [_json(v[0]), _json(v[1])] for k, v in changes.items()},
        "moved": moved,
        "duplicate_profile": {k: _json(v) for k, v in attrs.asdict(dup).items()
                              if k not in ("id", "external_id")},
    }, customer_id=keep.id)
    if changes:
        tx.emit("customer.updated", keep.id, {"external_id": keep.external_id,
                                              "fields": sorted(changes)})
    tx.emit("customer.merged", keep.id, {"external_id": keep.external_id,
                                         "duplicate_id": dup.id,
                                         "duplicate_external_id": dup.external_id})
    row = conn.execute(select(c).where(c.c.id == keep.id)).mappings().one()
    return MergeResult(to_customer(row), dup, changes, moved)


def _plan(crm, conn, keep_external_id, duplicate_external_id, lock: bool = False):
    if keep_external_id == duplicate_external_id:
        raise ValidationError(f"cannot merge customer {keep_external_id!r} into itself")
    keep = _load(crm, conn, keep_external_id, "KEEP")
    dup = _load(crm, conn, duplicate_external_id, "DUPLICATE")
    if lock:  # both rows, in id order, before anything else (see CustomerService.lock)
        present = {r.id for r in lock_rows(conn, tables.customers, [keep.id, dup.id],
                                           exclusive=True)}
        for customer, role in ((keep, "KEEP"), (dup, "DUPLICATE")):
            if customer.id not in present:  # merged away while this merge waited for it
                raise NotFound(crm.customers.missing_message(conn, customer.external_id, role))
        keep = _load(crm, conn, keep_external_id, "KEEP")  # as the lock found them
        dup = _load(crm, conn, duplicate_external_id, "DUPLICATE")
    for role, customer in (("into", keep), ("", dup)):
        if customer.erased_at is not None:
            what = f"into {customer.external_id!r}" if role else f"{customer.external_id!r}"
            raise ValidationError(f"cannot merge {what}: the customer was erased on "
                                  f"{customer.erased_at:%Y-%m-%d} (privacy request)")
    if keep.type != dup.type:
        raise ValidationError(f"cannot merge {dup.type} {dup.external_id!r} into {keep.type} "
                              f"{keep.external_id!r}: both must be of the same type")
    changes = resolve(keep, dup)
    if "attributes" in changes:
        problems = crm.customers.attribute_problems(changes["attributes"][1])
        if problems:
            raise ValidationError(f"merged attributes of {keep.external_id!r} break the "
                                  "attributes schema: " + "; ".join(problems))
    moved = {f"{t.name}.{col}": n for t, col, n in
             pointing_at(conn, customer_tables(crm, conn), dup.id)}
    return keep, dup, changes, moved


def resolve(keep: Customer, dup: Customer) -> dict[str, tuple[Any, Any]]:
    """KEEP's fields after the merge, as ``{field: (old, new)}`` for those that change."""
    changes: dict[str, tuple[Any, Any]] = {}
    for field in FILLED:
        mine, theirs = getattr(keep, field), getattr(dup, field)
        if _empty(mine) and not _empty(theirs):
            changes[field] = (mine, theirs)
    tags = sorted(set(keep.tags) | set(dup.tags))
    if tags != list(keep.tags):
        changes["tags"] = (list(keep.tags), tags)
    merged = dict(keep.attributes)
    for key, value in dup.attributes.items():
        if _empty(merged.get(key)) and not _empty(value):
            merged[key] = value
    if merged != keep.attributes:
        changes["attributes"] = (dict(keep.attributes), merged)
    if dup.created_at is not None and keep.created_at is not None and \
            dup.created_at < keep.created_at:
        changes["created_at"] = (keep.created_at, dup.created_at)
    return changes


def _move_consents(conn, keep_id: int, dup_id: int) -> None:
    """Per channel the most recent decision wins (a tie keeps KEEP's); then move the rest."""
    c = tables.consents
    other = c.alias("other")
    conn.execute(delete(c).where(c.c.customer_id == dup_id, exists().where(
        other.c.customer_id == keep_id, other.c.channel == c.c.channel,
        other.c.recorded_at >= c.c.recorded_at)))
    conn.execute(delete(c).where(c.c.customer_id == keep_id, exists().where(
        other.c.customer_id == dup_id, other.c.channel == c.c.channel)))
    conn.execute(update(c).where(c.c.customer_id == dup_id).values(customer_id=keep_id))


def _left_message(found, column: str, count: int, enabled: set[str]) -> str:
    where = f"{count} row(s) of {found.name}.{column} still point at the duplicate"
    if found.owner == "core":
        return (f"{where} (written by a command that ran at the same time without locking "
                "the duplicate: run the merge again)")
    if found.owner in enabled:
        return f"{where} (plugin {found.owner!r} did not move them in crmkit_merge_customers)"
    if found.owner == "unknown":
        return f"{where} (a table of no installed plugin: move or delete those rows first)"
    return (f"{where} (plugin {found.owner!r} is not enabled, so it cannot move them: "
            f"`crmkit plugins enable {found.owner}` first)")


def _load(crm, conn, external_id: str, role: str) -> Customer:
    row = conn.execute(select(tables.customers)
                       .where(tables.customers.c.external_id == external_id)).mappings().first()
    if row is None:
        raise NotFound(crm.customers.missing_message(conn, external_id, role))
    return to_customer(row)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


__all__ = ["FILLED", "MergeResult", "merge", "resolve"]
