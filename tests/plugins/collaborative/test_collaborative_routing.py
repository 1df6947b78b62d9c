"""Routing: first matching rule by priority, the required fallback, routed kinds, config checks."""

from __future__ import annotations

import datetime as dt

import pytest
from collaborative_support import FakeAnalytical, FakeLoyalty, setup_people, stand_in
from sqlalchemy import func, inspect, select

from crmkit import CRM
from crmkit.errors import ConfigError

RULES = {
    "routing": {
        "rules": [
            {"name": "complaints", "if": {"field": "interaction.kind", "op": "eq",
                                          "value": "complaint"}, "to": "support"},
            {"name": "vip", "priority": 5, "to": "sales",
             "if": {"field": "customer.tags", "op": "contains", "value": "vip"}},
            {"name": "german", "to": "dach",
             "if": {"any": [{"field": "interaction.language", "op": "eq", "value": "de"},
                            {"field": "customer.attributes.country", "op": "eq", "value": "DE"}]}},
            {"name": "invoices", "to": "billing",
             "if": {"field": "interaction.payload.topic", "op": "in",
                    "value": ["invoice", "payment"]}},
        ],
        "fallback": "general",
    }
}


def items(crm):
    """{interaction id: (team, rule)} of every work item."""
    return {i.interaction_id: (i.team, i.rule)
            for team in ("support", "sales", "dach", "billing", "general")
            for i in crm.plugin("collaborative").queue(team)}


def test_first_matching_rule_by_priority_and_fallback(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative", RULES)
    now = clock.now()
    rows = [
        {"customer": "C1", "occurred_at": now, "kind": "complaint", "channel": "email"},  # vip wins (5 > 0)
        {"customer": "C2", "occurred_at": now, "kind": "complaint", "channel": "email"},  # complaints
        {"customer": "C3", "occurred_at": now, "kind": "call", "channel": "phone"},  # german (attribute)
        {"customer": "C2", "occurred_at": now, "kind": "message", "channel": "web",
         "payload": {"language": "de"}},  # german (language)
        {"customer": "C2", "occurred_at": now, "kind": "email", "channel": "email",
         "payload": {"topic": "invoice"}},  # invoices
        {"customer": "C2", "occurred_at": now, "kind": "message", "channel": "sms"},  # no rule
    ]
    crm.interactions.record_many(rows)
    ids = [i.id for i in sorted(crm.interactions.list(limit=None), key=lambda i: i.id)]
    assert items(crm) == {
        ids[0]: ("sales", "vip"), ids[1]: ("support", "complaints"), ids[2]: ("dach", "german"),
        ids[3]: ("dach", "german"), ids[4]: ("billing", "invoices"), ids[5]: ("general", "fallback"),
    }
    item = crm.plugin("collaborative").queue("general")[0]
    assert (item.state, item.assignee, item.subject, item.external_id) == (
        "queued", None, "message via sms", "C2")
    routed = crm.events.list(type="workitem.routed")
    assert [e.payload["rule"] for e in routed] == ["vip", "complaints", "german", "german",
                                                   "invoices", "fallback"]


def test_only_recent_inbound_interactions_of_routed_kinds_become_work(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    now = clock.now()
    crm.interactions.record_many([
        {"customer": "C2", "occurred_at": now, "kind": "purchase", "amount": "5"},
        {"customer": "C2", "occurred_at": now, "kind": "visit", "channel": "web"},
        {"customer": "C2", "occurred_at": now, "kind": "message", "direction": "outbound"},
        {"customer": "C2", "occurred_at": now - dt.timedelta(hours=73), "kind": "message"},
        {"customer": "C2", "occurred_at": now - dt.timedelta(hours=71), "kind": "message"},
    ])
    assert len(items(crm)) == 1


def test_changing_the_defaults_changes_what_is_routed(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative", {"routed_kinds": ["visit"], "routed_directions":
                                         ["inbound", "outbound"], "route_max_age_hours": 100})
    now = clock.now()
    crm.interactions.record_many([
        {"customer": "C2", "occurred_at": now, "kind": "message", "channel": "sms"},
        {"customer": "C2", "occurred_at": now, "kind": "visit", "direction": "outbound"},
        {"customer": "C2", "occurred_at": now - dt.timedelta(hours=99), "kind": "visit"},
        {"customer": "C2", "occurred_at": now - dt.timedelta(hours=101), "kind": "visit"},
    ])
    assert len(items(crm)) == 2


def test_default_rules_send_complaints_to_support_and_vips_to_sales(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    assert (api.route("C1", "complaint").team, api.route("C1", "complaint").rule) == (
        "support", "complaints")
    assert (api.route("C1", "message").team, api.route("C1", "message").rule) == ("sales",
                                                                                  "vip customers")
    assert (api.route("C2", "message").team, api.route("C2", "message").rule) == ("support",
                                                                                  "fallback")
    crm.plugins.configure("collaborative", {"routing": {"rules": [], "fallback": "billing"}})
    assert (api.route("C1", "complaint").team, api.route("C1", "complaint").rule) == (
        "billing", "fallback")


def test_dry_run_matches_real_routing_and_writes_nothing(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative", RULES)
    api = crm.plugin("collaborative")
    decision = api.route("C2", "email", "email", payload={"topic": "payment"})
    assert (decision.team, decision.rule) == ("billing", "invoices")
    assert items(crm) == {}
    stored = crm.interactions.record("C2", clock.now(), kind="email", channel="email",
                                     payload={"topic": "payment"})
    assert api.route_interaction(stored.id) == decision
    assert items(crm) == {stored.id: ("billing", "invoices")}


def test_config_without_fallback_is_rejected_with_its_pointer(crm):
    with pytest.raises(ConfigError, match=r"/routing: 'fallback' is a required property"):
        crm.plugins.enable("collaborative", {"routing": {"rules": []}})
    with crm.connect() as conn:
        assert "collaborative_work_items" not in inspect(conn).get_table_names()
    assert "collaborative" not in crm.enabled_plugins()


@pytest.mark.parametrize("rule, message", [
    ({"name": "x", "to": "t", "if": {"field": "interaction.colour", "op": "eq", "value": 1}},
     r"/routing/rules/0/if/field: unknown field 'interaction.colour'"),
    ({"name": "x", "to": "t", "if": {"all": [{"field": "customer.tier", "op": "eq",
                                              "value": "gold"}]}},
     r"/routing/rules/0/if/all/0/field: 'customer.tier' needs the loyalty plugin"),
    ({"name": "x", "to": "t", "if": {"field": "customer.segment", "op": "eq", "value": "vip"}},
     r"/routing/rules/0/if/field: 'customer.segment' needs the analytical plugin"),
    ({"name": "x", "to": "t", "if": {"field": "interaction.kind", "op": "in", "value": "call"}},
     r"/routing/rules/0/if/value: op 'in' needs a list"),
])
def test_bad_rules_are_rejected_with_their_pointer(crm, rule, message):
    with pytest.raises(ConfigError, match=message):
        crm.plugins.enable("collaborative", {"routing": {"rules": [rule], "fallback": "support"}})
    assert "collaborative" not in crm.enabled_plugins()


def test_rule_names_are_unique_and_a_bad_reconfigure_keeps_the_old_config(crm):
    crm.plugins.enable("collaborative", RULES)
    rule = {"name": "same", "to": "a", "if": {"field": "interaction.kind", "op": "eq", "value": "x"}}
    with pytest.raises(ConfigError, match=r"/routing/rules/1/name: 'same' is already the name "
                                          r"of rule 0"):
        crm.plugins.configure("collaborative", {"routing": {"rules": [rule, rule],
                                                            "fallback": "a"}})
    assert crm.plugins.config("collaborative")["routing"] == RULES["routing"] | {
        "rules": [dict(r, priority=r.get("priority", 0)) for r in RULES["routing"]["rules"]]}


def test_segment_and_tier_conditions_use_the_other_plugins_public_apis(crm_url, clock):
    analytical = FakeAnalytical({"champions": [1], "at_risk": [2]})
    loyalty = FakeLoyalty({"C3": "gold"})
    extra = {"analytical": stand_in("analytical", analytical),
             "loyalty": stand_in("loyalty", loyalty)}
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins=extra) as crm:
        setup_people(crm)
        with pytest.raises(ConfigError, match=r"/routing/rules/0/if/op: 'lt' cannot test segment"):
            crm.plugins.enable("analytical")
            crm.plugins.enable("collaborative", {"routing": {"fallback": "support", "rules": [
                {"name": "x", "to": "sales",
                 "if": {"field": "customer.segment", "op": "lt", "value": "a"}}]}})
        crm.plugins.enable("loyalty")
        crm.plugins.enable("collaborative", {"routing": {"fallback": "support", "rules": [
            {"name": "gold", "to": "sales", "priority": 2,
             "if": {"field": "customer.tier", "op": "eq", "value": "gold"}},
            {"name": "champions", "to": "sales", "priority": 1,
             "if": {"field": "customer.segment", "op": "eq", "value": "champions"}},
            {"name": "not at risk", "to": "marketing",
             "if": {"field": "customer.segment", "op": "ne", "value": "at_risk"}},
        ]}})
        now = clock.now()
        crm.interactions.record_many([{"customer": c, "occurred_at": now, "kind": "message"}
                                      for c in ("C1", "C2", "C3", "C3")])
        got = {i.external_id: (i.team, i.rule)
               for t in ("sales", "marketing", "support")
               for i in crm.plugin("collaborative").queue(t)}
        assert got == {"C1": ("sales", "champions"), "C2": ("support", "fallback"),
                       "C3": ("sales", "gold")}
        assert loyalty.calls == 3  # once per distinct customer of the batch
        crm.plugins.disable("loyalty")  # the field then holds nothing: the rule cannot match
        assert crm.plugin("collaborative").route("C3", "message").rule == "not at risk"


def test_no_test_of_a_disabled_plugins_field_holds_negated_or_not(crm_url, clock):
    extra = {"analytical": stand_in("analytical", FakeAnalytical({"uk": [1]})),
             "loyalty": stand_in("loyalty", FakeLoyalty({"C2": "gold"}))}
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins=extra) as crm:
        setup_people(crm)  # C1 (id 1, vip), C2 (id 2)
        crm.plugins.enable("analytical")
        crm.plugins.enable("loyalty")
        crm.plugins.enable("collaborative", {"routing": {"fallback": "support", "rules": [
            {"name": "uk", "to": "ukteam",
             "if": {"field": "customer.segment", "op": "eq", "value": "uk"}},
            {"name": "not uk", "to": "rest",
             "if": {"field": "customer.segment", "op": "ne", "value": "uk"}},
            {"name": "not gold", "to": "rest",
             "if": {"field": "customer.tier", "op": "ne", "value": "gold"}},
            {"name": "not in gold", "to": "rest",
             "if": {"not": {"field": "customer.tier", "op": "in", "value": ["gold"]}}},
            {"name": "uk or vip", "to": "sales",
             "if": {"any": [{"field": "customer.segment", "op": "in", "value": ["uk"]},
                            {"field": "customer.tags", "op": "contains", "value": "vip"}]}},
        ]}})
        api = crm.plugin("collaborative")

        def rules() -> dict[str, str]:
            return {c: api.route(c, "message", "email").rule for c in ("C1", "C2")}

        assert rules() == {"C1": "uk", "C2": "not uk"}  # in no segment: ne holds
        crm.plugins.disable("analytical")  # C1 has no tier: ne holds; C2 is gold
        assert rules() == {"C1": "not gold", "C2": "fallback"}
        crm.plugins.disable("loyalty")  # C1's tags still match
        assert rules() == {"C1": "uk or vip", "C2": "fallback"}


def test_a_large_batch_becomes_work_items_in_one_pass(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    now = clock.now()
    crm.interactions.record_many([{"customer": "C2", "occurred_at": now, "kind": "call",
                                   "external_id": f"call-{n}"} for n in range(300)])
    from crmkit_collaborative.tables import work_items

    with crm.read() as conn:
        assert conn.execute(select(func.count()).select_from(work_items)).scalar() == 300
    crm.interactions.record_many([{"customer": "C2", "occurred_at": now, "kind": "call",
                                   "external_id": f"call-{n}"} for n in range(300)])  # re-import
    with crm.read() as conn:
        assert conn.execute(select(func.count()).select_from(work_items)).scalar() == 300
