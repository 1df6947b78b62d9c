"""Fixtures for the idic tests: idic enabled over a stand-in analytical plugin (idic_support)."""

from __future__ import annotations

import pytest

import crmkit
from idic_support import stand_in_module


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
