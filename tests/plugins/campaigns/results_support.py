"""Hand-built campaigns for the measurement tests (coupons, attribution, report).

The campaigns, recipients and messages are written straight into the tables, so a
test states exactly who was sent what and when, independent of planning and delivery.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import insert, select

from crmkit.plugin import customers, messages
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

    def campaign(self, name: str, planned_at: dt.datetime, sent: dict[str, tuple],
                 held_out=(), cost_fixed="0", cost_per_message="0", attribution_days=None,
                 bounced=None) -> int:
        """A running campaign planned at ``planned_at``: ``sent`` maps each recipient to
        ``(variant, sent_at)``, ``bounced`` to the variant whose message bounced;
        ``held_out`` recipients received nothing."""
        bounced = bounced or {}
        with self.crm.connect(write=True) as conn:
            campaign_id = conn.execute(insert(campaigns).values(
                name=name, channel="email", audience={"if": {"all": []}}, template="Hi",
                holdout=0.1, cost_fixed=Decimal(cost_fixed),
                cost_per_message=Decimal(cost_per_message), status="running",
                attribution_days=attribution_days, seed=1, created_at=planned_at,
                created_by="test")).inserted_primary_key[0]
            ids = self._ids(conn, list(sent) + list(held_out) + list(bounced))
            for external_id, (variant, sent_at) in sent.items():
                self._message(conn, campaign_id, name, ids[external_id], variant, planned_at,
                              "sent", sent_at)
            for external_id, variant in bounced.items():
                self._message(conn, campaign_id, name, ids[external_id], variant, planned_at,
                              "bounced", None)
            for external_id in held_out:
                conn.execute(insert(recipients).values(
                    campaign_id=campaign_id, customer_id=ids[external_id], variant=None,
                    holdout=True, status="held_out", planned_at=planned_at))
            conn.commit()
        return campaign_id

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

    def _message(self, conn, campaign_id, name, customer_id, variant, planned_at, status,
                 sent_at) -> None:
        self.serial += 1
        message_id = f"<m{self.serial}.{name}@test.example>"
        conn.execute(insert(messages).values(
            message_id=message_id, channel="email", customer_id=customer_id,
            recipient="x@example.com", subject="s", body="b", headers={},
            meta={"campaign": name, "variant": variant}, source="campaigns", status=status,
            attempts=1, next_attempt_at=planned_at, sent_at=sent_at, created_at=planned_at))
        conn.execute(insert(recipients).values(
            campaign_id=campaign_id, customer_id=customer_id, variant=variant, holdout=False,
            status="queued", message_id=message_id, planned_at=planned_at))

    def message_id(self, campaign: str, external_id: str) -> str:
        with self.crm.read() as conn:
            return conn.execute(
                select(recipients.c.message_id)
                .join(campaigns, campaigns.c.id == recipients.c.campaign_id)
                .join(customers, customers.c.id == recipients.c.customer_id)
                .where(campaigns.c.name == campaign,
                       customers.c.external_id == external_id)).scalar_one()

    def track(self, kind: str, campaign: str, external_id: str, when: dt.datetime) -> None:
        """A tracking record (``message.opened`` …) of the customer's message, as the
        tracking links record it."""
        self.serial += 1
        self.crm.interactions.record(
            external_id, when, kind=kind, channel="email", external_id=f"T{self.serial}",
            payload={"message_id": self.message_id(campaign, external_id), "campaign": campaign})

    def purchase(self, external_id: str, amount: str, when: dt.datetime,
                 coupon=None, currency: str | None = None):
        """A purchase (in the CRM's currency unless ``currency``), redeeming ``coupon`` if given."""
        self.serial += 1
        return self.crm.interactions.record(
            external_id, when, kind="purchase", amount=Decimal(amount), currency=currency,
            external_id=f"P{self.serial}", payload=None if coupon is None else {"coupon": coupon})

    def reply(self, external_id: str, when: dt.datetime, kind: str = "email"):
        self.serial += 1
        return self.crm.interactions.record(external_id, when, kind=kind, channel="email",
                                            external_id=f"R{self.serial}")
