"""Automation rules: conditions, waits with unless, cooldown, idempotency, loop guard, config checks."""

from __future__ import annotations

import datetime as dt
import logging
import types

import pytest

import crmkit
from crmkit.errors import ConfigError

UTC = dt.timezone.utc
QUIET = {"assignment": {"assign_leads_on": "never"}, "open_case_on_complaint": False,
         "scoring": {"rules": []}}


def rules(*items, **automation) -> dict:
    return dict(QUIET, automation={"rules": list(items), **automation})


def fired(api, rule=None):
    return sorted((f["customer"], f["status"]) for f in api.firings(rule=rule))


FOLLOW_UP = {"name": "visit-follow-up", "on": "interaction.recorded",
             "if": {"field": "payload.kind", "op": "eq", "value": "visit"},
             "wait_hours": 48, "unless": "interaction.recorded",
             "do": [{"add_tag": "follow-up"},
                    {"create_task": {"subject": "Follow up the visit", "assignee": "ana"}}]}


def test_wait_with_unless_fires_only_for_customers_who_stayed_silent(crm, clock, operational, staff):
    staff("sales", "ana")
    api = operational(rules(FOLLOW_UP))
    crm.customers.add_many([{"external_id": c} for c in ("C1", "C2", "C3")])
    start = clock.now()
    crm.interactions.record_many([{"customer": c, "occurred_at": start, "kind": "visit"}
                                  for c in ("C1", "C2")])
    assert fired(api) == [("C1", "waiting"), ("C2", "waiting")]
    clock.advance(hours=24)
    crm.interactions.record("C2", clock.now(), kind="call")  # C2 spoke up during the wait
    clock.advance(hours=23)
    assert crm.sweep()["operational"]["rules_fired"] == 0  # 47 h: still waiting
    clock.advance(hours=1)
    result = crm.sweep()["operational"]
    assert (result["rules_fired"], result["rules_cancelled"]) == (1, 1)
    assert fired(api) == [("C1", "fired"), ("C2", "cancelled")]
    assert crm.customers.get("C1").tags == ("follow-up",)
    assert crm.customers.get("C2").tags == ()
    [task] = api.tasks(customer="C1")
    assert (task["subject"], task["assignee"], task["kind"]) == ("Follow up the visit", "ana",
                                                                 "automation")
    again = crm.sweep()["operational"]  # idempotent at a fixed clock
    assert (again["rules_fired"], again["rules_cancelled"]) == (0, 0)
    assert len(api.tasks()) == 1


def test_cooldown_stops_a_second_firing_within_the_window(crm, clock, operational):
    rule = {"name": "tag-visitor", "on": "interaction.recorded", "cooldown_hours": 24,
            "if": {"field": "payload.kind", "op": "eq", "value": "visit"},
            "do": [{"emit": {"type": "automation.visited"}}]}
    api = operational(rules(rule))
    crm.customers.add("C1")
    crm.interactions.record_many([{"customer": "C1", "occurred_at": clock.now(), "kind": "visit"}] * 2)
    clock.advance(hours=23)
    crm.interactions.record("C1", clock.now(), kind="visit")
    clock.advance(hours=2)
    crm.interactions.record("C1", clock.now(), kind="visit")
    assert [f["status"] for f in reversed(api.firings())] == ["fired", "cooldown", "cooldown",
                                                              "fired"]
    assert len(crm.events.list(type="automation.visited")) == 2


def test_without_cooldown_every_trigger_fires_once(crm, clock, operational):
    rule = {"name": "tag-visitor", "on": "interaction.recorded",
            "do": [{"emit": {"type": "automation.visited", "payload": {"why": "visit"}}}]}
    api = operational(rules(rule))
    crm.customers.add("C1")
    batch = [{"customer": "C1", "occurred_at": clock.now(), "kind": "visit", "external_id": f"v{i}"}
             for i in range(3)]
    crm.interactions.record_many(batch)
    crm.interactions.record_many(batch)  # re-import: unchanged, nothing fires again
    assert [f["status"] for f in api.firings()] == ["fired"] * 3
    assert [e.payload for e in crm.events.list(type="automation.visited")] == [
        {"why": "visit", "rule": "tag-visitor"}] * 3


def test_rules_that_trigger_each_other_stop_at_max_chain_depth(crm, operational, caplog):
    ping = {"name": "ping", "on": "automation.pong", "do": [{"emit": {"type": "automation.ping"}}]}
    pong = {"name": "pong", "on": "automation.ping", "do": [{"emit": {"type": "automation.pong"}}]}
    kick = {"name": "kick", "on": "customer.created", "do": [{"emit": {"type": "automation.ping"}}]}
    api = operational(rules(kick, ping, pong))
    with caplog.at_level(logging.WARNING, logger="crmkit.operational"):
        crm.customers.add("C1")
    statuses = [(f["rule"], f["status"], f["chain_depth"]) for f in reversed(api.firings())]
    assert statuses == [("kick", "fired", 0), ("pong", "fired", 1), ("ping", "fired", 2),
                        ("pong", "fired", 3), ("ping", "fired", 4), ("pong", "stopped", 5)]
    assert "rule 'pong' stopped" in caplog.text and "max_chain_depth 5" in caplog.text
    assert len(crm.events.list(type="automation.ping")) == 3


def test_a_chain_started_by_an_interaction_stops_at_max_chain_depth_like_one_started_by_an_event(
        crm, clock, operational):
    start_i = {"name": "start_i", "on": "interaction.recorded",
               "if": {"field": "payload.kind", "op": "eq", "value": "survey"},
               "do": [{"emit": {"type": "automation.ping"}}]}
    start_c = {"name": "start_c", "on": "case.opened", "do": [{"emit": {"type": "automation.ping"}}]}
    ping = {"name": "ping", "on": "automation.ping", "do": [{"emit": {"type": "automation.pong"}}]}
    pong = {"name": "pong", "on": "automation.pong", "do": [{"emit": {"type": "automation.ping"}}]}
    api = operational(rules(start_i, start_c, ping, pong))
    crm.customers.add_many([{"external_id": c} for c in ("C1", "C2")])
    crm.interactions.record("C1", clock.now(), kind="survey")
    api.open_case("C2", "Broken")
    for start, customer in (("start_i", "C1"), ("start_c", "C2")):
        chain = [(f["rule"], f["status"], f["chain_depth"])
                 for f in reversed(api.firings(customer=customer))]
        assert chain == [(start, "fired", 0), ("ping", "fired", 1), ("pong", "fired", 2),
                         ("ping", "fired", 3), ("pong", "fired", 4), ("ping", "stopped", 5)]


def test_a_chain_through_a_rule_that_waits_keeps_its_depth_across_the_wait(crm, clock, operational):
    """A waiting firing runs at the sweep as the consequence of its trigger: its actions' events
    are one deeper than the trigger, so a loop through it stops at max_chain_depth (it once
    restarted at depth 0 at every sweep and never stopped)."""
    kick = {"name": "kick", "on": "customer.created", "do": [{"emit": {"type": "automation.ping"}}]}
    ping = {"name": "ping", "on": "automation.pong", "wait_hours": 1,
            "do": [{"emit": {"type": "automation.ping"}}]}
    pong = {"name": "pong", "on": "automation.ping", "do": [{"emit": {"type": "automation.pong"}}]}
    api = operational(rules(kick, ping, pong))
    crm.customers.add("C1")
    for _ in range(4):
        clock.advance(hours=1)
        crm.sweep()
    assert [(f["rule"], f["status"], f["chain_depth"]) for f in reversed(api.firings())] == [
        ("kick", "fired", 0), ("pong", "fired", 1), ("ping", "fired", 2), ("pong", "fired", 3),
        ("ping", "fired", 4), ("pong", "stopped", 5)]


def greeter() -> types.ModuleType:
    """A plugin that records a ``welcome`` interaction for each customer created: an interaction
    one event deep (it is a consequence of ``customer.created``)."""
    def on_events(ctx, events):
        for event in events:
            if event.type == "customer.created":
                ctx.crm.interactions.record(event.payload["external_id"], ctx.now(),
                                            kind="welcome")

    module = types.ModuleType("greeter")
    module.PLUGIN = crmkit.PluginInfo(name="greeter", description="welcomes new customers")
    module.crmkit_on_events = crmkit.hookimpl(on_events)
    return module


def test_a_rule_on_an_interaction_recorded_in_an_event_chain_fires_at_the_interactions_depth(
        crm_url, clock):
    """An interaction a reaction to an event recorded is one event deep: its firings record
    depth 1 (they recorded 0), the events they emit, at once or after a wait, are at depth 2
    (after the wait they were at 1), and max_chain_depth 1 stops them (they fired)."""
    now = {"name": "now", "on": "interaction.recorded", "do": [{"emit": {"type": "automation.ping"}}]}
    later = {"name": "later", "on": "interaction.recorded", "wait_hours": 1,
             "do": [{"emit": {"type": "automation.pong"}}]}
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"greeter": greeter()}) as crm:
        crm.plugins.enable("operational", rules(now, later))
        crm.plugins.enable("greeter")
        api = crm.plugin("operational")
        crm.customers.add("C1")
        clock.advance(hours=1)
        crm.sweep()
        assert sorted((f["rule"], f["status"], f["chain_depth"]) for f in api.firings()) == [
            ("later", "fired", 1), ("now", "fired", 1)]
        assert sorted((e.type, e.depth) for e in crm.events.list()
                      if e.type.startswith("automation.")) == [("automation.ping", 2),
                                                              ("automation.pong", 2)]
        crm.plugins.configure("operational", rules(now, later, max_chain_depth=1))
        crm.customers.add("C2")
        assert sorted((f["rule"], f["status"], f["chain_depth"])
                      for f in api.firings(customer="C2")) == [("later", "stopped", 1),
                                                               ("now", "stopped", 1)]


def test_max_chain_depth_is_configurable(crm, operational):
    ping = {"name": "ping", "on": "automation.pong", "do": [{"emit": {"type": "automation.ping"}}]}
    pong = {"name": "pong", "on": "automation.ping", "do": [{"emit": {"type": "automation.pong"}}]}
    kick = {"name": "kick", "on": "customer.created", "do": [{"emit": {"type": "automation.ping"}}]}
    api = operational(rules(kick, ping, pong, max_chain_depth=2))
    crm.customers.add("C1")
    assert [(f["rule"], f["status"]) for f in reversed(api.firings())] == [
        ("kick", "fired"), ("pong", "fired"), ("ping", "stopped")]


def test_conditions_see_the_payload_and_the_customer(crm, clock, operational, staff):
    won = {"name": "won-vip", "on": "stage.changed",
           "if": {"all": [{"field": "payload.entity", "op": "eq", "value": "opportunity"},
                          {"field": "payload.to", "op": "eq", "value": "won"},
                          {"field": "payload.amount", "op": "ge", "value": 1000},
                          {"field": "customer.tags", "op": "contains", "value": "vip"}]},
           "do": [{"set_stage": "mql"}, {"add_tag": "big-win"}]}
    big = {"name": "big-order", "on": "interaction.recorded",
           "if": {"all": [{"field": "payload.amount", "op": "gt", "value": 99.5},
                          {"not": {"field": "payload.payload.note", "op": "contains",
                                   "value": "test"}},
                          {"field": "customer.attributes.country", "op": "eq", "value": "UK"}]},
           "do": [{"create_task": {"subject": "Thank the customer", "team": "sales"}}]}
    staff("sales", "ana", "ben")
    api = operational(rules(won, big))
    for ext, tags in (("C1", ["vip"]), ("C2", []), ("C3", ["vip"])):
        crm.customers.add(ext, tags=tags, attributes={"country": "UK"})
    for ext, amount in (("C1", "1000"), ("C2", "5000"), ("C3", "999.99")):
        api.move_opportunity(api.create_opportunity(ext, "Deal", amount, stage="commit"), "won")
    assert fired(api, "won-vip") == [("C1", "fired")]
    assert crm.customers.get("C1").tags == ("big-win", "vip")
    # the lead is at sql since its opportunity: moving it back is refused, the tag still added
    assert api.firings(rule="won-vip")[0]["outcome"] == (
        "set_stage: not moved to 'mql' (funnel rules); add_tag: ok")
    assert api.lead("C1")["stage"] == "sql"
    crm.interactions.record_many([
        {"customer": "C1", "occurred_at": clock.now(), "amount": "99.50"},
        {"customer": "C2", "occurred_at": clock.now(), "amount": "99.51"},
        {"customer": "C3", "occurred_at": clock.now(), "amount": "150", "payload": {"note": "a test"}},
        {"customer": "C3", "occurred_at": clock.now(), "amount": "150", "payload": {"note": 7}}])
    assert [(t["customer"], t["assignee"]) for t in api.tasks()] == [("C2", "ana"), ("C3", "ben")]


def test_every_interaction_rule_sees_the_batch_as_it_was_before_any_action(crm, clock, operational):
    tag = {"name": "tag-buyer", "on": "interaction.recorded", "do": [{"add_tag": "buyer"}]}
    second = {"name": "greet-buyer", "on": "interaction.recorded",
              "if": {"field": "customer.tags", "op": "contains", "value": "buyer"},
              "do": [{"emit": {"type": "automation.greeted"}}]}
    api = operational(rules(tag, second))
    crm.customers.add("C1")
    crm.interactions.record("C1", clock.now(), amount="10")
    assert fired(api) == [("C1", "fired")] and crm.customers.get("C1").tags == ("buyer",)
    crm.interactions.record("C1", clock.now(), amount="20")  # now tagged before the batch
    assert fired(api, "greet-buyer") == [("C1", "fired")]
    assert [f["outcome"] for f in api.firings(rule="tag-buyer")] == ["add_tag: unchanged",
                                                                   "add_tag: ok"]
    assert all(f["fired_at"] == clock.now() for f in api.firings())


def outcomes(api, rule):
    return {f["customer"]: f["outcome"] for f in api.firings(rule=rule)}


def test_queue_message_honours_preferred_channel_address_and_consent(crm, operational):
    rule = {"name": "welcome", "on": "customer.created",
            "do": [{"queue_message": {"body": "Welcome!"}}]}
    api = operational(rules(rule))
    crm.customers.add("C0", email="c0@example.com", preferred_channel="email")  # consent comes after
    crm.customers.set_consent("C0", "email", True, "signup form")
    crm.customers.add("C1", email="c1@example.com", phone="+442079460018", preferred_channel="sms")
    crm.customers.add("C2")
    crm.customers.add("C3", preferred_channel="email")
    assert outcomes(api, "welcome") == {
        "C0": "queue_message: refused: no consent for channel 'email'",
        "C1": "queue_message: refused: no consent for channel 'sms'",
        "C2": "queue_message: refused: no channel (none given and no preferred channel)",
        "C3": "queue_message: refused: no address for channel 'email'"}
    assert crm.messages.list() == []
    crm.customers.set_consent("C1", "sms", True, "phone call")
    crm.customers.set_consent("C1", "email", True, "signup form")
    crm.plugins.configure("operational", rules(
        {"name": "hello", "on": "customer.updated",
         "do": [{"queue_message": {"subject": "Hi", "body": "Hello Ada"}}]},
        {"name": "mail", "on": "customer.updated",
         "do": [{"queue_message": {"body": "By mail", "channel": "email"}}]}))
    crm.customers.update("C1", name="Ada L")
    [message] = crm.messages.list()
    assert (message.channel, message.recipient, message.customer, message.subject, message.body,
            message.source, message.meta, message.status) == (
        "sms", "+442079460018", "C1", "Hi", "Hello Ada", "operational", {"rule": "hello"}, "queued")
    assert outcomes(api, "hello")["C1"] == f"queue_message: queued {message.message_id} on sms"
    assert outcomes(api, "mail")["C1"] == "queue_message: refused: the customer prefers 'sms'"
    assert [e.payload for e in crm.events.list(type="message.queued")] == [
        {"message_id": message.message_id, "channel": "sms", "rule": "hello"}]


def test_a_queued_message_rolls_back_with_the_change_that_fired_it(crm, operational):
    from crmkit.errors import ValidationError

    api = operational(rules({"name": "hello", "on": "customer.updated",
                             "do": [{"queue_message": {"body": "Hello"}}]}))
    crm.customers.add("C1", email="c1@example.com", preferred_channel="email")
    crm.customers.set_consent("C1", "email", True, "signup form")

    def update_then_fail(tx):
        crm.customers.update("C1", name="Ada")
        raise ValidationError("stop")

    with pytest.raises(ValidationError, match="stop"):
        crm.run_transaction(update_then_fail)
    assert crm.messages.list() == [] and api.firings() == []
    crm.customers.update("C1", name="Ada")
    [message] = crm.messages.list()
    assert (message.recipient, message.body) == ("c1@example.com", "Hello")


def test_migration_0003_drops_the_old_automation_outbox(crm_url, clock):
    from pathlib import Path

    import sqlalchemy as sa

    import crmkit_operational
    from crmkit import CRM, migrate

    migrations = Path(crmkit_operational.__file__).parent / "migrations"
    with CRM.open(crm_url, clock=clock, create=True) as crm:
        crm.plugins.enable("operational", QUIET)
        crm.customers.add("C1")
        with crm.connect(write=True) as conn:
            migrate.downgrade(conn, "operational@operational_0002", [migrations])
            conn.execute(sa.text(
                "INSERT INTO operational_outbox (id, customer_id, template, status, created_at) "
                "VALUES (1, 1, 'welcome', 'queued', '2030-01-01 00:00:00')"))
            conn.commit()
    with CRM.open(crm_url, clock=clock, upgrade=True) as crm, crm.connect() as conn:
        assert "operational_outbox" not in sa.inspect(conn).get_table_names()
        assert crm.plugin("operational").firings() == []


@pytest.mark.parametrize("rule, pointer, message", [
    ({"name": "r", "on": "order.shipped", "do": [{"add_tag": "x"}]},
     "/automation/rules/0/on", "unknown event type 'order.shipped'"),
    ({"name": "r", "on": "stage.changed", "unless": "lead.vanished", "do": [{"add_tag": "x"}]},
     "/automation/rules/0/unless", "unknown event type 'lead.vanished'"),
    ({"name": "r", "on": "stage.changed", "if": {"field": "payload.colour", "op": "eq", "value": 1},
      "do": [{"add_tag": "x"}]}, "/automation/rules/0/if/field", "unknown field 'payload.colour'"),
    ({"name": "r", "on": "customer.created",
      "if": {"all": [{"field": "customer.tags", "op": "contains", "value": "a"},
                     {"field": "shoe.size", "op": "eq", "value": 1}]},
      "do": [{"add_tag": "x"}]}, "/automation/rules/0/if/all/1/field", "unknown field 'shoe.size'"),
    ({"name": "r", "on": "customer.created", "do": [{"add_tag": "x"}, {"send_fax": {}}]},
     "/automation/rules/0/do/1", "unknown action 'send_fax' (allowed: create_task, assign"),
    ({"name": "r", "on": "customer.created", "do": [{"add_tag": "gold\nvip"}]},
     "/automation/rules/0/do/0/add_tag", "contains U+000A (a control character)"),
    ({"name": "r", "on": "customer.created", "do": [{"set_stage": "won"}]},
     "/automation/rules/0/do/0/set_stage", "'won' is not a lead stage"),
    ({"name": "r", "on": "customer.created", "do": [{"emit": {"type": "stage.changed"}}]},
     "/automation/rules/0/do/0/emit/type", "must be named 'automation.<name>'"),
    ({"name": "r", "on": "interaction.recorded",
      "if": {"field": "customer.tags", "op": "eq", "value": "vip"}, "do": [{"add_tag": "x"}]},
     "/automation/rules/0/if", "tags support only the contains and exists operators"),
])
def test_a_bad_rule_is_rejected_at_config_time_with_its_pointer(crm, operational, rule, pointer,
                                                                 message):
    with pytest.raises(ConfigError) as error:
        operational(rules(rule))
    assert str(error.value).startswith(f"{pointer}: ") and message in str(error.value)
    assert "operational" not in crm.enabled_plugins()
    operational(rules())
    with pytest.raises(ConfigError, match=pointer):
        crm.plugins.configure("operational", rules(rule))
    assert crm.plugins.config("operational")["automation"]["rules"] == []


def test_rule_names_are_unique_and_other_plugins_events_need_that_plugin(crm, operational):
    rule = {"name": "r", "on": "customer.created", "do": [{"add_tag": "x"}]}
    with pytest.raises(ConfigError, match=r"/automation/rules/1/name: 'r' appears twice"):
        operational(rules(rule, rule))
    with pytest.raises(ConfigError, match=r"unknown event type 'tier.changed'; is the plugin that "
                                          "emits it enabled"):
        operational(rules({"name": "t", "on": "tier.changed", "do": [{"add_tag": "gold"}]}))


def test_each_firing_names_the_task_its_own_action_created(crm, clock, operational, staff):
    """A customer who already has an open task and fires twice in one batch: three tasks, and
    each firing's outcome names the task that firing created."""
    staff("sales", "ana")
    rule = {"name": "call-back", "on": "interaction.recorded",
            "do": [{"create_task": {"subject": "Call back", "assignee": "ana"}}]}
    api = operational(rules(rule))
    crm.customers.add("C1")
    existing = api.create_task("C1", "Earlier task", "ana", clock.now() + dt.timedelta(days=1))
    crm.interactions.record_many([{"customer": "C1", "occurred_at": clock.now(), "kind": "call",
                                   "external_id": f"call-{i}"} for i in range(2)])
    created = sorted(t["id"] for t in api.tasks(customer="C1") if t["id"] != existing)
    assert len(created) == 2
    outcomes = sorted(f["outcome"] for f in api.firings(rule="call-back"))
    assert outcomes == [f"create_task: task {tid} for ana" for tid in created]


def test_an_amount_with_more_places_than_money_keeps_is_a_config_error(crm, clock, operational):
    rule = {"name": "big", "on": "interaction.recorded",
            "if": {"field": "payload.amount", "op": "gt", "value": 99.99999},
            "do": [{"add_tag": "big"}]}
    with pytest.raises(ConfigError, match=r"^/automation/rules/0/if/value: 99\.99999 has more "
                                          r"than 4 decimal places"):
        operational(rules(rule))
    assert "operational" not in crm.enabled_plugins()
    api = operational(rules(dict(rule, **{"if": dict(rule["if"], value=99.9999)})))
    crm.customers.add_many([{"external_id": "C1"}, {"external_id": "C2"}])
    crm.interactions.record_many([{"customer": "C1", "occurred_at": clock.now(), "amount": "100"},
                                  {"customer": "C2", "occurred_at": clock.now(),
                                   "amount": "99.9999"}])
    assert fired(api) == [("C1", "fired")]


def test_an_event_amount_compares_as_the_money_the_rule_wrote(crm, operational):
    """stage.changed is matched in Python: 0.1 in the rule is the amount 0.1, as in SQL."""
    api = operational(rules({"name": "tiny", "on": "stage.changed",
                             "if": {"all": [{"field": "payload.to", "op": "eq", "value": "won"},
                                            {"field": "payload.amount", "op": "eq",
                                             "value": 0.1}]},
                             "do": [{"add_tag": "tiny-win"}]}))
    crm.customers.add("C1")
    opportunity = api.create_opportunity("C1", "Sample", "0.10", "GBP")
    api.move_opportunity(opportunity, "won")
    assert fired(api) == [("C1", "fired")] and crm.customers.get("C1").tags == ("tiny-win",)


def test_a_failed_action_s_outcome_says_why_a_refusal_and_nothing_else_of_other_errors(
        crm, operational, monkeypatch, caplog):
    """A refusal (a crmkit error saying what was refused) is kept with its kind; any other
    error's text (SQL, paths, a database URL) goes only to the log: the outcome is read by
    everyone who sees the customer's timeline.  The rule's other actions still run."""
    from crmkit.errors import DatabaseError, PluginError
    from crmkit_operational import actions

    rule = {"name": "welcome", "on": "customer.created",
            "do": [{"create_task": {"subject": "Call", "assignee": "ghost"}},
                   {"add_tag": "new"}, {"emit": {"type": "automation.welcomed"}}]}
    api = operational(rules(rule))
    crm.customers.add("C1")
    assert outcomes(api, "welcome") == {
        "C1": "create_task: failed (not found): no staff member 'ghost'; add_tag: ok; emit: ok"}
    for n, error in enumerate((
            RuntimeError("SELECT secret FROM /srv/crm/keys"),
            DatabaseError("postgresql://crm:pw@db.internal/crm: connection refused"),
            PluginError("plugin 'x' failed in crmkit_validate_customers: KeyError: 'secret'"))):
        def broken(ctx, rule, args, ids, error=error):
            raise error

        monkeypatch.setitem(actions.RUNNERS, "add_tag", broken)
        with caplog.at_level(logging.ERROR, logger="crmkit.operational"):
            crm.customers.add(f"D{n}")
        assert outcomes(api, "welcome")[f"D{n}"] == (
            "create_task: failed (not found): no staff member 'ghost'; add_tag: failed: "
            "internal error, see the server log; emit: ok")
        assert "automation rule 'welcome': action add_tag failed" in caplog.text
        assert str(error) in caplog.text and "Traceback" in caplog.text
    assert len(crm.events.list(type="automation.welcomed")) == 4
