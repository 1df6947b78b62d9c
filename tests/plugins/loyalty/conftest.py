"""Fixtures for the loyalty tests: enabling the plugin, a shop recording purchases and refunds."""

from __future__ import annotations

import pytest
from loyalty_support import Shop


@pytest.fixture
def loyalty(crm):
    """A function enabling loyalty with a config and returning its API."""

    def enable(config: dict | None = None, customers=("C1",)):
        crm.plugins.enable("loyalty", config or {})
        for external_id in customers:
            crm.customers.add(external_id)
        return crm.plugin("loyalty")

    return enable


@pytest.fixture
def shop(crm):
    return Shop(crm)
