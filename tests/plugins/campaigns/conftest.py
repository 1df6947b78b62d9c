"""Fixtures of the campaign tests: the plugin enabled; the 1,000 customers of campaigns_support."""

from __future__ import annotations

import pytest
from campaigns_support import CAPS, build


@pytest.fixture
def campaigns(crm):
    """Enable campaigns (frequency caps of campaigns_support unless a config is given)."""

    def enable(config: dict | None = None):
        crm.plugins.enable("campaigns", {"frequency_caps": CAPS} if config is None else config)
        return crm.plugin("campaigns")

    return enable


@pytest.fixture
def thousand(crm, clock, campaigns):
    """The plugin enabled and the 1,000 customers built; returns the API."""
    api = campaigns()
    build(crm, clock)
    return api
