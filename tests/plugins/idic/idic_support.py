"""Shared helpers of the idic tests: the stand-in analytical plugin and customer rows.

The stand-in implements the analytical API contract (``current_value``,
``clv_by_customer``, ``segment_names``, ``last_clv_run``) by reading the
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
