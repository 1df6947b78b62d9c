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
                 external_id: str | None = None, currency: str | None = None):
        self.serial += 1
        payload = {"items": items} if items is not None else None
        return self.crm.interactions.record(
            customer, when, kind="purchase", amount=Decimal(amount), currency=currency,
            external_id=external_id or f"P{self.serial}", payload=payload)

    def refund(self, customer: str, purchase_external_id: str, when: dt.datetime,
               amount: str | None = None, currency: str | None = None):
        self.serial += 1
        return self.crm.interactions.record(
            customer, when, kind="refund", amount=None if amount is None else Decimal(amount),
            currency=currency, external_id=f"R{self.serial}",
            payload={"refund_of": purchase_external_id})


T_RACE = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)


def redeem_worker(url: str, times: int, barrier, results) -> None:
    """A separate OS process: open its own CRM and try to redeem ``R10`` ``times`` times."""
    from crmkit import CRM, FixedClock
    from crmkit_loyalty.errors import NotEnoughPoints

    ok = refused = 0
    with CRM.open(url, clock=FixedClock(T_RACE)) as crm:
        api = crm.plugin("loyalty")
        barrier.wait()
        for _ in range(times):
            try:
                api.redeem("C1", "R10")
                ok += 1
            except NotEnoughPoints:
                refused += 1
    results.put((ok, refused))


def run_hook(crm, hook: str, **kwargs):
    """Call one data-service hook of the loyalty plugin inside a write transaction."""
    with crm.transaction() as tx:
        return crm.hooks.call_one("loyalty", hook, tx, **kwargs)


def merge(crm, keep: str, duplicate: str) -> None:
    """Merge through the core service when it exists, else through the plugin's hook."""
    if hasattr(crm.customers, "merge"):
        crm.customers.merge(keep, duplicate)
        return
    run_hook(crm, "crmkit_merge_customers", keep_id=crm.customers.get(keep).id,
             duplicate_id=crm.customers.get(duplicate).id)
