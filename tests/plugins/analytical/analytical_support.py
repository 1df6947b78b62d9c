"""Shared helpers of the analytical tests: compact purchase histories and a known clock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

UTC = dt.timezone.utc
AS_OF = dt.datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
"""The test clock's now (crmkit.devtools.testing's ``clock`` fixture)."""


def at(text: str) -> dt.datetime:
    """``"2024-12-31"`` → midnight UTC; ``"2024-12-31T10:00"`` → that UTC time."""
    moment = dt.datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def days_ago(days: float, hour: int = 10) -> dt.datetime:
    """A moment ``days`` whole days before AS_OF's date, at ``hour`` UTC."""
    base = dt.datetime(AS_OF.year, AS_OF.month, AS_OF.day, hour, tzinfo=UTC)
    return base - dt.timedelta(days=days)


def row(customer: str, when: dt.datetime | str, kind: str = "purchase",
        amount: Any = None, **payload: Any) -> dict[str, Any]:
    """One interaction row for ``record_many`` (payload keys as keyword arguments)."""
    out: dict[str, Any] = {"customer": customer, "kind": kind,
                           "occurred_at": at(when) if isinstance(when, str) else when}
    if amount is not None:
        out["amount"] = Decimal(str(amount))
    if payload:
        out["payload"] = payload
    return out


def record(crm, rows: Iterable[dict[str, Any]]) -> None:
    """Record rows, creating the customers they name."""
    crm.interactions.record_many(list(rows), create_customers=True)


def ids(crm) -> dict[str, int]:
    """``{external id: customer id}`` of every customer."""
    from sqlalchemy import select

    from crmkit.tables import customers

    with crm.read() as conn:
        return dict(conn.execute(select(customers.c.external_id, customers.c.id)).all())


def surveys(crm, key: str, answers: Iterable[int], when: dt.datetime | None = None) -> None:
    """One survey per answer (``{key: answer}``), each from its own customer S<i>."""
    moment = when or days_ago(1)
    record(crm, [row(f"S{i}", moment, "survey", **{key: a}) for i, a in enumerate(answers)])
