"""relcheck's behaviour: set-based react rows and counter, profile copies, data services."""

from __future__ import annotations

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from crmkit.plugin import customers, interactions

from .tables import counts, profiles, reacts


def _insert(conn, table):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def react(ctx, batch) -> None:
    """One react row per interaction of the batch, and the counters: two statements per batch."""
    i = interactions.c
    in_batch = i.id.between(batch.first_id, batch.last_id)
    ctx.conn.execute(_insert(ctx.conn, reacts).from_select(
        ["interaction_id", "customer_id", "batch_first", "batch_last"],
        select(i.id, i.customer_id, literal(batch.first_id), literal(batch.last_id))
        .where(in_batch)))
    per_customer = (select(i.customer_id, func.count().label("n")).where(in_batch)
                    .group_by(i.customer_id))
    stmt = _insert(ctx.conn, counts).from_select(["customer_id", "reacts"], per_customer)
    ctx.conn.execute(stmt.on_conflict_do_update(
        index_elements=["customer_id"], set_={"reacts": counts.c.reacts + stmt.excluded.reacts}))


def copy_profiles(ctx, customer_ids) -> None:
    """Copy new customers' name and email (personal data the privacy scan must see erased)."""
    ids = [c for c in customer_ids if c is not None]
    if ids:
        c = customers.c
        ctx.conn.execute(_insert(ctx.conn, profiles).from_select(
            ["customer_id", "name", "email"],
            select(c.id, c.name, c.email).where(c.id.in_(ids))).on_conflict_do_nothing())


def merge(ctx, keep_id, duplicate_id) -> None:
    """Move the duplicate's rows to the kept customer; add its counter to the kept one."""
    conn = ctx.conn
    conn.execute(update(reacts).where(reacts.c.customer_id == duplicate_id)
                 .values(customer_id=keep_id))
    moved = conn.execute(select(counts.c.reacts).where(counts.c.customer_id == duplicate_id)).scalar()
    if moved is not None:
        conn.execute(delete(counts).where(counts.c.customer_id == duplicate_id))
        stmt = _insert(conn, counts).values(customer_id=keep_id, reacts=moved)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["customer_id"], set_={"reacts": counts.c.reacts + moved}))
    conn.execute(delete(profiles).where(profiles.c.customer_id == duplicate_id))


def export(ctx, customer_id):
    """The profile copy and the counter of one customer."""
    row = ctx.conn.execute(select(profiles.c.name, profiles.c.email)
                           .where(profiles.c.customer_id == customer_id)).first()
    return {"profile": dict(row._mapping) if row else None,
            "reacts": ctx.conn.execute(select(counts.c.reacts)
                                       .where(counts.c.customer_id == customer_id)).scalar()}


def erase(ctx, customer_id) -> None:
    """Drop the personal profile copy; counters are not personal and stay."""
    ctx.conn.execute(delete(profiles).where(profiles.c.customer_id == customer_id))
