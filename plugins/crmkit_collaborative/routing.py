"""Routing: which team an interaction goes to, and which rule decided.

Rules are tried by descending ``priority`` (ties in list order); the first
whose condition (``crmkit.conditions``) holds over the interaction and its
customer decides.  No match means the configured ``fallback`` team.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator

import attrs

from crmkit.plugin import evaluate_condition

FALLBACK = "fallback"
"""The ``rule`` recorded when no rule matched."""

CORE_FIELDS = frozenset({
    "interaction.kind", "interaction.channel", "interaction.direction", "interaction.language",
    "interaction.amount", "interaction.currency", "interaction.payload.*",
    "customer.external_id", "customer.type", "customer.tags", "customer.lifecycle_stage",
    "customer.preferred_channel", "customer.attributes.*",
})
"""Condition fields always available."""

PLUGIN_FIELDS = {"customer.segment": "analytical", "customer.tier": "loyalty"}
"""Condition fields that need another plugin enabled (checked at configuration time)."""

SEGMENT_OPS = ("eq", "ne", "in", "contains", "exists")
"""``customer.segment`` is a membership test: these operators only."""


@attrs.frozen
class Rule:
    """One routing rule, its condition ready to evaluate."""

    name: str
    team: str
    priority: int
    condition: dict[str, Any]


@attrs.frozen
class Decision:
    """Where an interaction goes: the team and the rule that decided (``fallback`` if none)."""

    team: str
    rule: str


def leaves(condition: Any, pointer: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every ``{field, op, value}`` leaf of a condition with its JSON pointer."""
    if not isinstance(condition, dict):
        return
    for key in ("all", "any"):
        if isinstance(condition.get(key), list):
            for i, part in enumerate(condition[key]):
                yield from leaves(part, f"{pointer}/{key}/{i}")
            return
    if "not" in condition:
        yield from leaves(condition["not"], f"{pointer}/not")
        return
    yield condition, pointer


def rules_of(config: dict[str, Any]) -> list[Rule]:
    """The configured rules in the order they are tried."""
    rules = [Rule(r["name"], r["to"], r.get("priority", 0), _membership(r["if"]))
             for r in config["routing"]["rules"]]
    return sorted(rules, key=lambda r: -r.priority)  # stable: ties keep list order


def _membership(condition: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``customer.segment`` tests as membership in the customer's list of segments."""
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        return {key: [_membership(c) for c in condition[key]]}
    if "not" in condition:
        return {"not": _membership(condition["not"])}
    if condition.get("field") != "customer.segment":
        return condition
    op, value = condition["op"], condition.get("value")
    member = {"field": "customer.segment", "op": "contains"}
    if op in ("eq", "contains"):
        return {**member, "value": value}
    if op == "ne":
        return {"not": {**member, "value": value}}
    if op == "in":
        return {"any": [{**member, "value": v} for v in value]}
    return condition  # exists: the customer belongs to some segment


def referenced(rules: list[Rule], field: str) -> list[dict[str, Any]]:
    """The leaves of every rule that test ``field``."""
    return [leaf for rule in rules for leaf, _ in leaves(rule.condition, "") if leaf.get("field") == field]


def decide(rules: list[Rule], fallback: str, data: dict[str, Any]) -> Decision:
    """The first rule whose condition holds, else the fallback team."""
    for rule in rules:
        if evaluate_condition(rule.condition, data):
            return Decision(rule.team, rule.name)
    return Decision(fallback, FALLBACK)


def routing_data(row: Any) -> dict[str, Any]:
    """The ``{"interaction": …, "customer": …}`` document conditions are evaluated over."""
    payload = row["payload"] or {}
    return {
        "interaction": {
            "kind": row["kind"], "channel": row["channel"], "direction": row["direction"],
            "language": payload.get("language"), "amount": row["amount"],
            "currency": row["currency"], "payload": payload,
        },
        "customer": {
            "id": row["customer_id"], "external_id": row["external_id"], "type": row["type"],
            "tags": list(row["tags"] or []), "lifecycle_stage": row["lifecycle_stage"],
            "preferred_channel": row["preferred_channel"],
            "attributes": dict(row["attributes"] or {}),
        },
    }


def add_plugin_fields(crm, rules: list[Rule], documents: list[dict[str, Any]],
                      as_of: dt.datetime) -> None:
    """Fill ``customer.segment`` / ``customer.tier`` from analytical / loyalty, only when rules use them.

    A plugin that is no longer enabled leaves the field empty (its conditions
    then fail).  Segments: one ``segment_members`` call per referenced segment.
    """
    enabled = crm.enabled_plugins()
    segment_leaves = referenced(rules, "customer.segment")
    if segment_leaves and "analytical" in enabled:
        analytical = crm.plugin("analytical")
        if any(leaf["op"] == "exists" for leaf in segment_leaves):
            names = list(analytical.segment_names())
        else:
            names = sorted({leaf["value"] for leaf in segment_leaves})
        members = {name: set(analytical.segment_members(name, as_of)) for name in names}
        for doc in documents:
            mine = [n for n in names if doc["customer"]["id"] in members[n]]
            doc["customer"]["segment"] = mine or None
    if referenced(rules, "customer.tier") and "loyalty" in enabled:
        loyalty = crm.plugin("loyalty")
        tiers: dict[str, Any] = {}
        for doc in documents:
            external_id = doc["customer"]["external_id"]
            if external_id not in tiers:
                tiers[external_id] = loyalty.tier(external_id)
            doc["customer"]["tier"] = tiers[external_id]
