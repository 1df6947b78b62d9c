"""Fixtures of the catalogue tests: the plugin enabled with the four test products."""

from __future__ import annotations

import pytest
from catalogue_support import PRODUCTS


@pytest.fixture
def catalogue(crm):
    """Enable catalogue (with a config), add the test products, return its API."""

    def enable(config: dict | None = None, customers=("C1",)):
        crm.plugins.enable("catalogue", config or {})
        for external_id in customers:
            crm.customers.add(external_id)
        api = crm.plugin("catalogue")
        api.add_products(PRODUCTS)
        return api

    return enable
