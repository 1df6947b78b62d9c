"""Fixtures for the idic tests: a CRM with idic enabled over a stand-in analytical plugin.

The stand-in implements the analytical API contract (``current_value``,
``clv_by_customer``, ``segment_names``, ``last_clv_run``) by reading the
customer attributes ``test_current`` and ``test_clv``, so that the value rule
can be checked against numbers worked out by hand.  The real analytical plugin
is exercised in test_idic_analytical.py.
"""

from __future__ import annotations

import datetime as dt
import types
from decimal import Decimal

import pytest
from sqlalchemy import select

import crmkit
from crmkit import hookimpl

UTC = dt.timezone.utc


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


@pytest.fixture
def open_crm(crm_url, clock):
    """Open (another handle on) the test database with the stand-in analytical plugin."""
    opened = []

    def make():
        crm = crmkit.CRM.open(crm_url, clock=clock, create=True,
                              extra_plugins={"analytical": stand_in_module()})
        opened.append(crm)
        return crm

    yield make
    for crm in opened:
        crm.close()


@pytest.fixture
def icrm(open_crm):
    """A CRM with the stand-in analytical plugin and idic enabled (default config)."""
    crm = open_crm()
    crm.plugins.enable("analytical")
    crm.plugins.enable("idic")
    return crm


def add_people(crm, rows):
    """Add customers from (external_id, name, email, phone, attributes) tuples."""
    crm.customers.add_many([
        {"external_id": ext, "name": name, "email": email, "phone": phone,
         "attributes": attributes or {}}
        for ext, name, email, phone, attributes in rows])
