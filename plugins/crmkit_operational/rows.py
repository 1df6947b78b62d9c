"""Row helpers shared by operational's modules.

Inserts that hand back the new ids (one id range, one bulk insert, no per-row
RETURNING), listings with the customer's external id, and the lookups of customers
and leads the funnel, tasks, cases and assignment all need.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import bindparam, select

from crmkit.plugin import (
    NotFound, ValidationError, allocate_ids, customers, insert_rows, text_limit, where_given,
)

from .tables import leads


def insert_all(conn, table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with consecutive ids from
    ``allocate_ids``; return the ids."""
    if not rows:
        return []
    first = allocate_ids(conn, table, len(rows))
    ids = list(range(first, first + len(rows)))
    insert_rows(conn, table, [dict(row, id=i) for row, i in zip(rows, ids)])
    return ids


def listed(conn, table, *filters: tuple[Any, Any], limit: int | None) -> list[dict[str, Any]]:
    """``table``'s rows, newest first, each with its customer's external id as ``customer``
    (None for a row without a customer), filtered by ``(column, value)`` pairs as
    ``where_given`` filters them (a None value: any), at most ``limit``."""
    query = (select(table, customers.c.external_id.label("customer"))
             .select_from(table.outerjoin(customers, customers.c.id == table.c.customer_id))
             .order_by(table.c.id.desc()))
    return [dict(r) for r in conn.execute(where_given(query, *filters, limit=limit)).mappings()]


SUBJECT_WIDTH = 300
"""The widest task or case subject and opportunity name (lower if the core config's
``max_field_length`` is lower)."""


def required_text(ctx, value: Any, what: str, width: int = SUBJECT_WIDTH) -> str:
    """``value`` trimmed, when it is non-empty text within ``width`` characters and the core
    config's ``max_field_length`` (:func:`crmkit.plugin.text_limit`); else a ValidationError
    starting with ``what`` (``"task subject"``)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{what}: required text")
    value = value.strip()
    if problem := text_limit(ctx.crm, width).problem(value):
        raise ValidationError(f"{what}: {problem}")
    return value


def require_customer(conn, customer_id: int) -> Any:
    """The customers row of ``customer_id``; NotFound if absent, ValidationError if erased."""
    row = conn.execute(select(customers.c.id, customers.c.external_id, customers.c.erased_at)
                       .where(customers.c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"no customer with id {customer_id}")
    if row.erased_at is not None:
        raise ValidationError(f"customer {row.external_id!r} was erased")
    return row


def lead_rows(conn, customer_ids: Sequence[int]) -> dict[int, Any]:
    """Lead rows by customer id."""
    if not customer_ids:
        return {}
    query = select(leads).where(leads.c.customer_id.in_(bindparam("ids", expanding=True)))
    return {r.customer_id: r for r in conn.execute(query, {"ids": list(customer_ids)})}
