"""Fixtures for the operational tests: enabling the plugin, staff, events by type."""

from __future__ import annotations

import pytest


@pytest.fixture
def operational(crm):
    """A function enabling operational with a config (defaults filled) and returning its API."""

    def enable(config: dict | None = None):
        crm.plugins.enable("operational", config or {})
        return crm.plugin("operational")

    return enable


@pytest.fixture
def staff(crm):
    """A function adding staff members ``handles`` to ``team`` (stable order = order given)."""

    def add(team: str, *handles: str):
        for handle in handles:
            crm.staff.add(handle, handle.title(), team)

    return add


@pytest.fixture
def events(crm):
    """A function returning the payloads of stored events of one type (optionally per customer)."""

    def of_type(event_type: str, customer_id: int | None = None):
        return [e.payload for e in crm.events.list(type=event_type, customer_id=customer_id,
                                                   limit=None)]

    return of_type
