"""Fixtures for the valuechain tests: valuechain over a stand-in analytical plugin."""

from __future__ import annotations

import pytest

import crmkit
from valuechain_support import stand_in_module


@pytest.fixture
def vcrm(crm_url, clock):
    """A CRM with the stand-in analytical plugin and valuechain enabled (default config)."""
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"analytical": stand_in_module()}) as crm:
        crm.plugins.enable("analytical")
        crm.plugins.enable("valuechain")
        yield crm
