"""Shared helpers of the idic tests: the stand-in analytical plugin and customer rows.

The stand-in implements the analytical API contract (``current_value``,
``clv_by_customer``, ``clv_outcome``, ``segment_names``, ``last_clv_run``) by reading the
customer attributes ``test_current`` and ``test_clv``, so that the value rule
can be checked against numbers worked out by hand.  The real analytical plugin
is exercised in test_idic_analytical.py.
"""

from __future__ import annotations

import types
from decimal import Decimal

from sqlalchemy import select

import crmkit
from crmkit import hookimpl


class StandInAnalytical:
    """The analytical API contract, answered from customer attributes."""

    def __init__(self, crm):
        self.crm = crm

    def _attribute(self, key: str) -> dict[int, Decimal]:
        c = crmkit.tables.customers.c
        with self.crm.read() as conn:
            rows = conn.execute(select(c.id, c.attributes)).all()
        return {i: Decimal(str(a[key])) for i, a in rows if a and key in a}

    def current_value(self, as_of=None):
        return self._attribute("test_current")

    def clv_by_customer(self, as_of=None):
        return self._attribute("test_clv")

    def clv_outcome(self, as_of=None):
        return types.SimpleNamespace(values=self.clv_by_customer(as_of), missing=None)

    def segment_names(self):
        return []

    def last_clv_run(self):
        return None


def stand_in_module() -> types.ModuleType:
    module = types.ModuleType("stand_in_analytical")
    module.PLUGIN = crmkit.PluginInfo(name="analytical", description="stand-in analytical API")
    module.crmkit_plugin_api = hookimpl(lambda crm: StandInAnalytical(crm))
    return module


def add_people(crm, rows):
    """Add customers from (external_id, name, email, phone, attributes) tuples."""
    crm.customers.add_many([
        {"external_id": ext, "name": name, "email": email, "phone": phone,
         "attributes": attributes or {}}
        for ext, name, email, phone, attributes in rows])


def simulated_purchases(n: int, now, seed: int = 3) -> tuple[list[dict], list[dict]]:
    """Customers and purchase histories from a buy-till-you-die process (enough for a CLV fit).

    Every seventh customer also complained five days before ``now``.
    """
    import datetime as dt
    import random

    rng = random.Random(seed)
    people = [{"external_id": f"C{i:03d}", "name": f"Customer {i}"} for i in range(n)]
    rows = []
    for i in range(n):
        at = now - dt.timedelta(days=rng.uniform(30, 360))
        rate, dropout, spend = rng.gammavariate(2.0, 1 / 40.0), rng.betavariate(1, 6), rng.uniform(20, 120)
        while at < now:
            rows.append({"customer": f"C{i:03d}", "occurred_at": at,
                         "amount": str(round(max(5.0, rng.gauss(spend, 5)), 2))})
            if rng.random() < dropout:
                break
            at += dt.timedelta(days=rng.expovariate(rate))
        if i % 7 == 0:
            rows.append({"customer": f"C{i:03d}", "occurred_at": now - dt.timedelta(days=5),
                         "kind": "complaint"})
    return people, rows
