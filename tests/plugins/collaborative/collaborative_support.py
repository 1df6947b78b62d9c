"""Helpers for the collaborative plugin's tests: staff, customers, stand-in plugins."""

from __future__ import annotations

import types

import crmkit
from crmkit import hookimpl


def setup_people(crm) -> None:
    """Staff in support, billing and sales; customers C1 (vip, prefers email), C2, C3 (German)."""
    crm.staff.add("dee", "Dee Patel", "support")
    crm.staff.add("eli", "Eli Novak", "support")
    crm.staff.add("ivy", "Ivy Moreau", "billing")
    crm.staff.add("ana", "Ana Costa", "sales")
    crm.customers.add("C1", "Ada", tags=["vip"], preferred_channel="email",
                      lifecycle_stage="active")
    crm.customers.add("C2", "Bob", preferred_channel="sms")
    crm.customers.add("C3", "Claus", preferred_channel="phone", attributes={"country": "DE"})


def stand_in(name: str, api) -> types.ModuleType:
    """A local plugin module named like a built-in whose public API is ``api`` (its contract only)."""
    module = types.ModuleType(f"standin_{name}")
    module.PLUGIN = crmkit.PluginInfo(name=name, description=f"stand-in for {name}")
    module.crmkit_plugin_api = hookimpl(lambda crm: api)
    return module


class FakeOperational:
    """operational's ``assign_to_team`` contract: a handle for support, nobody for other teams."""

    def __init__(self):
        self.calls: list[tuple[str, int, str]] = []

    def assign_to_team(self, team: str, customer_id: int, subject: str) -> str | None:
        self.calls.append((team, customer_id, subject))
        return "dee" if team == "support" else None


class FakeAnalytical:
    """analytical's segment contract with fixed members."""

    def __init__(self, members: dict[str, list[int]]):
        self.members = members

    def segment_names(self) -> list[str]:
        return sorted(self.members)

    def segment_members(self, name: str, as_of=None) -> list[int]:
        return list(self.members.get(name, []))


class FakeLoyalty:
    """loyalty's ``tier`` contract with fixed tiers by external id."""

    def __init__(self, tiers: dict[str, str]):
        self.tiers = tiers
        self.calls = 0

    def tier(self, external_id: str) -> str | None:
        self.calls += 1
        return self.tiers.get(external_id)
