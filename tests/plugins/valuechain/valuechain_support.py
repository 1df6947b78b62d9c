"""Shared helpers of the valuechain tests: the stand-in analytical plugin.

The stand-in answers the analytical API contract's ``clv_by_customer`` from the
customer attribute ``test_clv``, so suggestions can be checked by hand; the real
analytical plugin is exercised in test_valuechain_analytical.py.
"""

from __future__ import annotations

import types
from decimal import Decimal

from sqlalchemy import select

import crmkit
from crmkit import hookimpl


class StandInAnalytical:
    """``clv_by_customer`` and ``clv_outcome`` answered from the ``test_clv`` attribute."""

    def __init__(self, crm):
        self.crm = crm

    def clv_by_customer(self, as_of=None):
        c = crmkit.tables.customers.c
        with self.crm.read() as conn:
            rows = conn.execute(select(c.id, c.attributes)).all()
        return {i: Decimal(str(a["test_clv"])) for i, a in rows if a and "test_clv" in a}

    def clv_outcome(self, as_of=None):
        return types.SimpleNamespace(values=self.clv_by_customer(as_of), missing=None)


def stand_in_module() -> types.ModuleType:
    module = types.ModuleType("valuechain_stand_in_analytical")
    module.PLUGIN = crmkit.PluginInfo(name="analytical", description="stand-in analytical API")
    module.crmkit_plugin_api = hookimpl(lambda crm: StandInAnalytical(crm))
    return module
