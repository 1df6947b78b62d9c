"""Hand-built campaigns for the measurement tests (coupons, attribution, report).

The campaigns, recipients and messages are written straight into the tables, so a
test states exactly who was sent what and when, independent of planning and delivery.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import insert, select

from crmkit.plugin import customers
from crmkit_campaigns.tables import campaigns, recipients

UTC = dt.timezone.utc


def at(day: int, hour: int = 0, month: int = 1, year: int = 2025) -> dt.datetime:
    """An aware UTC instant (January 2025 by default)."""
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


class Campaigns:
    """Writes campaigns, their recipients and delivered messages, and records responses."""

    def __init__(self, crm):
        self.crm = crm
        self.serial = 0

    def customers(self, *external_ids: str) -> None:
        for external_id in external_ids:
            self.crm.customers.add(external_id, email=f"{external_id.lower()}@example.com")

    def _ids(self, conn, external_ids) -> dict[str, int]:
        return dict(conn.execute(select(customers.c.external_id, customers.c.id)
                                 .where(customers.c.external_id.in_(list(external_ids)))).all())

    def planned(self, name: str, planned_at: dt.datetime, *external_ids: str) -> int:
        """A running campaign whose recipients are planned (no message rendered yet)."""
        with self.crm.connect(write=True) as conn:
            campaign_id = conn.execute(insert(campaigns).values(
                name=name, channel="email", audience={"if": {"all": []}}, template="Hi",
                holdout=0.0, cost_fixed=Decimal(0), cost_per_message=Decimal(0),
                status="running", seed=1, created_at=planned_at,
                created_by="test")).inserted_primary_key[0]
            ids = self._ids(conn, external_ids)
            conn.execute(insert(recipients), [
                {"campaign_id": campaign_id, "customer_id": ids[e], "variant": None,
                 "holdout": False, "status": "planned", "planned_at": planned_at}
                for e in external_ids])
            conn.commit()
        return campaign_id

    def purchase(self, external_id: str, amount: str, when: dt.datetime,
                 coupon: str | None = None):
        self.serial += 1
        return self.crm.interactions.record(
            external_id, when, kind="purchase", amount=Decimal(amount),
            external_id=f"P{self.serial}", payload=None if coupon is None else {"coupon": coupon})

    def reply(self, external_id: str, when: dt.datetime, kind: str = "email"):
        self.serial += 1
        return self.crm.interactions.record(external_id, when, kind=kind, channel="email",
                                            external_id=f"R{self.serial}")
