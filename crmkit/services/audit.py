"""Reading the append-only audit log: who (staff or ``system``) changed what, when, how.

Rows are written by the operations themselves (``Transaction.audit``):
customer create / update (old → new per field), merge, erase, consent,
import, staff, plugin enable / disable / configure, core configuration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import and_, or_, select

from .. import tables
from ..db import where_given


@attrs.frozen
class AuditEntry:
    """One audit-log row."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    table_name: str
    record_key: str | None
    customer_id: int | None
    changes: dict[str, Any]
    command: str | None


class AuditLog:
    """Query the audit log (``crmkit audit``)."""

    def __init__(self, crm):
        self.crm = crm

    def list(self, customer: str | None = None, since: dt.datetime | None = None,
             action: str | None = None, actor: str | None = None, table: str | None = None,
             limit: int | None = 100, command: str | None = None,
             before: tuple[dt.datetime, int] | None = None) -> list[AuditEntry]:
        """Entries newest first, filtered.

        ``customer`` (an external id) matches the customer's rows and, for a
        customer merged away, the customer rows still keyed by that id.
        ``command`` matches entries whose command contains that text (any case);
        ``before`` (an entry's ``(at, id)``) pages on: only entries older than it.
        """
        a = tables.audit_log
        query = select(a).order_by(a.c.at.desc(), a.c.id.desc())
        with self.crm.read() as conn:
            if customer is not None:
                c = tables.customers
                cid = conn.execute(select(c.c.id).where(c.c.external_id == customer)).scalar()
                by_key = and_(a.c.table_name == "customers", a.c.record_key == customer)
                query = query.where(by_key if cid is None else or_(a.c.customer_id == cid, by_key))
            if since is not None:
                query = query.where(a.c.at >= since)
            query = where_given(query, (a.c.action, action), (a.c.actor, actor),
                                (a.c.table_name, table))
            if command is not None:
                query = query.where(a.c.command.icontains(command, autoescape=True))
            if before is not None:
                at, row_id = before
                query = query.where(or_(a.c.at < at, and_(a.c.at == at, a.c.id < row_id)))
            if limit is not None:
                query = query.limit(limit)
            return [AuditEntry(**dict(r)) for r in conn.execute(query).mappings()]


__all__ = ["AuditEntry", "AuditLog"]
