"""testvendor's public API."""

from __future__ import annotations

from sqlalchemy import func, select

from crmkit.plugin import customers

from .tables import counts, notes


class TestvendorAPI:
    """testvendor's public API: ``crm.plugin("testvendor")``."""

    def __init__(self, crm):
        self.crm = crm

    def purchases(self, external_id: str) -> int:
        """How many purchases the plugin counted for a customer."""
        with self.crm.read() as conn:
            value = conn.execute(select(counts.c.purchases).join(customers, customers.c.id == counts.c.customer_id)
                                 .where(customers.c.external_id == external_id)).scalar()
        return value or 0

    def customers_counted(self) -> int:
        """How many customers have a purchase count."""
        with self.crm.read() as conn:
            return conn.execute(select(func.count()).select_from(counts)).scalar_one()

    def notes(self, external_id: str) -> list[str]:
        """The notes kept about a customer."""
        with self.crm.read() as conn:
            return list(conn.execute(select(notes.c.note).join(customers, customers.c.id == notes.c.customer_id)
                                     .where(customers.c.external_id == external_id)
                                     .order_by(notes.c.id)).scalars())
