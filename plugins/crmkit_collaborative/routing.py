"""Routing: which team an interaction goes to, and which rule decided.

Rules are tried by descending ``priority`` (ties in list order); the first
whose condition (``crmkit.conditions``) holds over the interaction and its
customer decides.  No match means the configured ``fallback`` team.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterator

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

_NEVER: dict[str, Any] = {"any": []}  # a condition that never holds
_ALWAYS: dict[str, Any] = {"all": []}  # one that always holds


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


def _rewrite(condition: dict[str, Any], leaf: Callable[[dict[str, Any], bool], dict[str, Any]],
             negated: bool = False) -> dict[str, Any]:
    """``condition`` with each ``{field, op, value}`` test replaced by ``leaf(test, negated)``
    (``negated``: the test is under an odd number of ``not``)."""
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        return {key: [_rewrite(c, leaf, negated) for c in condition[key]]}
    if "not" in condition:
        return {"not": _rewrite(condition["not"], leaf, not negated)}
    return leaf(condition, negated)


def _membership(condition: dict[str, Any]) -> dict[str, Any]:
    """Rewrite ``customer.segment`` tests as membership in the customer's list of segments."""
    return _rewrite(condition, lambda test, _: _member_test(test))


def _member_test(test: dict[str, Any]) -> dict[str, Any]:
    """One test, as a membership test if it is on ``customer.segment``."""
    if test.get("field") != "customer.segment":
        return test
    op, value = test["op"], test.get("value")
    member = {"field": "customer.segment", "op": "contains"}
    if op in ("eq", "contains"):
        return {**member, "value": value}
    if op == "ne":
        return {"not": {**member, "value": value}}
    if op == "in":
        return {"any": [{**member, "value": v} for v in value]}
    return test  # exists: the customer belongs to some segment


def _unknown(condition: dict[str, Any], fields: frozenset[str]) -> dict[str, Any]:
    """``condition`` with every test of ``fields`` unknown, as SQL's NULL: neither the test
    nor its ``not`` holds (``all`` then fails, ``any`` needs another part to hold)."""
    if not fields:
        return condition
    return _rewrite(condition, lambda test, negated: test if test.get("field") not in fields
                    else _ALWAYS if negated else _NEVER)


def referenced(rules: list[Rule], field: str) -> list[dict[str, Any]]:
    """The leaves of every rule that test ``field``."""
    return [leaf for rule in rules for leaf, _ in leaves(rule.condition, "") if leaf.get("field") == field]


def _first_match(rules: list[Rule], fallback: str, data: dict[str, Any]) -> Decision:
    """The first rule whose condition holds, else the fallback team."""
    for rule in rules:
        if evaluate_condition(rule.condition, data):
            return Decision(rule.team, rule.name)
    return Decision(fallback, FALLBACK)


def decide(crm, rules: list[Rule], fallback: str, documents: list[dict[str, Any]],
           as_of: dt.datetime) -> list[Decision]:
    """Each document's decision, with the plugin fields the rules use filled in.

    A field whose plugin is no longer enabled is unknown: no test of it holds,
    negated or not (a customer the plugin knows nothing about is another case:
    the field is empty, and ``ne`` holds as for any missing value).
    """
    enabled = crm.enabled_plugins()
    _add_plugin_fields(crm, rules, documents, as_of, enabled)
    missing = frozenset(f for f, plugin in PLUGIN_FIELDS.items() if plugin not in enabled)
    usable = [attrs.evolve(r, condition=_unknown(r.condition, missing)) for r in rules]
    return [_first_match(usable, fallback, d) for d in documents]


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


def _add_plugin_fields(crm, rules: list[Rule], documents: list[dict[str, Any]],
                       as_of: dt.datetime, enabled: list[str]) -> None:
    """Fill ``customer.segment`` / ``customer.tier`` from analytical / loyalty when rules use
    them and the plugin is ``enabled``.  Segments: one ``segment_members`` call per
    referenced segment.
    """
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
