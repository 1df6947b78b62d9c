"""Helpers for the loyalty tests: dates, and recording purchases and refunds."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

UTC = dt.timezone.utc


def at(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    """An aware UTC datetime."""
    return dt.datetime(year, month, day, hour, tzinfo=UTC)


class Shop:
    """Records purchases and refunds for customers of one CRM."""

    def __init__(self, crm):
        self.crm = crm
        self.serial = 0

    def purchase(self, customer: str, amount: str, when: dt.datetime, items=None,
                 external_id: str | None = None):
        self.serial += 1
        payload = {"items": items} if items is not None else None
        return self.crm.interactions.record(
            customer, when, kind="purchase", amount=Decimal(amount),
            external_id=external_id or f"P{self.serial}", payload=payload)

    def refund(self, customer: str, purchase_external_id: str, when: dt.datetime,
               amount: str | None = None):
        self.serial += 1
        return self.crm.interactions.record(
            customer, when, kind="refund", amount=None if amount is None else Decimal(amount),
            external_id=f"R{self.serial}", payload={"refund_of": purchase_external_id})
