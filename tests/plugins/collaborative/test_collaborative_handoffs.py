"""Work item states, hand-offs with a mandatory note, acknowledgement deadline, escalation once."""

from __future__ import annotations

import pytest
from collaborative_support import FakeOperational, setup_people, stand_in

from crmkit import CRM
from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConflictError, NotFound, ValidationError


def complaint(crm, clock, customer="C2") -> int:
    """Record a complaint (routed to support by the default rules); return its work item id."""
    interaction = crm.interactions.record(customer, clock.now(), kind="complaint", channel="email")
    [item] = [i for i in crm.plugin("collaborative").items_of(customer)
              if i.interaction_id == interaction.id]
    return item.id


def test_states_move_queued_assigned_in_progress_done(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    item = complaint(crm, clock)
    with pytest.raises(ConflictError, match=r"work item \d+ is queued; start needs state assigned"):
        api.start(item)
    with pytest.raises(ValidationError, match="'ivy' is in team 'billing'.*hand it off first"):
        api.assign(item, "ivy")
    with pytest.raises(NotFound, match="no active staff member 'zed'"):
        api.assign(item, "zed")
    assert api.assign(item, "dee").state == "assigned"
    assert api.assign(item, "eli").assignee == "eli"
    assert api.start(item).state == "in_progress"
    with pytest.raises(ConflictError, match="assign needs state queued or assigned"):
        api.assign(item, "dee")
    assert api.complete(item).state == "done"
    with pytest.raises(ConflictError, match="only open items"):
        api.hand_off(item, "billing", "too late")
    assert [(h.action, h.from_state, h.to_state, h.assignee) for h in api.history(item)] == [
        ("routed", None, "queued", None), ("assigned", "queued", "assigned", "dee"),
        ("assigned", "assigned", "assigned", "eli"), ("started", "assigned", "in_progress", "eli"),
        ("done", "in_progress", "done", "eli")]
    changes = crm.events.list(type="workitem.changed")
    assert [e.payload["to"] for e in changes] == ["assigned", "assigned", "in_progress", "done"]


def test_hand_off_needs_a_note_and_a_known_other_team(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    item = complaint(crm, clock)
    before = api.history(item)
    for note in ("", "   ", None):
        with pytest.raises(ValidationError, match=r"note: required"):
            api.hand_off(item, "billing", note)
    with pytest.raises(ValidationError, match=r"team: unknown team 'biling' \(known: billing, "
                                              r"sales, support\)"):
        api.hand_off(item, "biling", "typo")
    with pytest.raises(ValidationError, match="already with 'support'"):
        api.hand_off(item, "support", "same team")
    assert api.history(item) == before
    assert api.work_item(item).team == "support"
    assert crm.events.list(type="handoff.created") == []


def test_unacknowledged_hand_off_escalates_exactly_once(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative", {"escalation_team": "sales"})
    api = crm.plugin("collaborative")
    item = complaint(crm, clock)
    start = clock.now()
    handed = api.hand_off(item, "billing", "customer asks about a double charge")
    assert (handed.team, handed.state, handed.ack_due_at) == ("billing", "queued",
                                                              start.replace(hour=16))
    clock.advance(hours=3, minutes=59)
    assert crm.sweep()["collaborative"] == {"handoffs_escalated": 0}
    clock.advance(minutes=1)  # exactly at the deadline
    assert crm.sweep()["collaborative"] == {"handoffs_escalated": 1}
    assert crm.sweep()["collaborative"] == {"handoffs_escalated": 0}
    clock.advance(days=2)
    assert crm.sweep()["collaborative"] == {"handoffs_escalated": 0}
    [event] = crm.events.list(type="handoff.escalated")
    assert (event.payload["from"], event.payload["to"], event.payload["work_item_id"]) == (
        "billing", "sales", item)
    escalated = api.work_item(item)
    assert (escalated.team, escalated.state, escalated.ack_due_at) == ("sales", "queued", None)
    chain = [(h.action, h.from_team, h.team, h.note) for h in api.history(item)
             if h.action in ("handed_off", "escalated")]
    assert chain == [("handed_off", "support", "billing", "customer asks about a double charge"),
                     ("escalated", "billing", "sales", "not acknowledged within 4 h")]
    with pytest.raises(ConflictError, match="no hand-off waiting for acknowledgement"):
        api.acknowledge(item)


def test_acknowledged_or_started_hand_offs_do_not_escalate(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    acked, started = complaint(crm, clock), complaint(crm, clock)
    api.hand_off(acked, "billing", "invoice")
    api.hand_off(started, "billing", "refund")
    clock.advance(hours=1)
    assert api.acknowledge(acked).ack_due_at is None
    api.assign(started, "ivy")
    api.start(started)  # starting work acknowledges
    clock.advance(hours=10)
    assert crm.sweep()["collaborative"] == {"handoffs_escalated": 0}
    assert [e.payload["work_item_id"] for e in crm.events.list(type="handoff.acknowledged")] == [
        acked, started]


def test_ack_hours_default_and_changed(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative", {"ack_hours": 1})
    api = crm.plugin("collaborative")
    item = complaint(crm, clock)
    api.hand_off(item, "billing", "invoice")
    clock.advance(hours=1)
    assert crm.sweep()["collaborative"] == {"handoffs_escalated": 1}
    assert api.work_item(item).team == "support"  # default escalation team


def test_handing_on_acknowledges_the_previous_hand_off(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    item = complaint(crm, clock)
    api.hand_off(item, "billing", "invoice")
    clock.advance(hours=2)
    api.hand_off(item, "sales", "wants an upgrade instead")
    clock.advance(hours=3)  # 5 h after the first, 3 h after the second
    assert crm.sweep()["collaborative"] == {"handoffs_escalated": 0}
    clock.advance(hours=1)
    assert crm.sweep()["collaborative"] == {"handoffs_escalated": 1}
    assert crm.events.list(type="handoff.escalated")[0].payload["from"] == "sales"


def test_operational_assigns_inside_the_team_when_enabled(crm_url, clock):
    operational = FakeOperational()
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"operational": stand_in("operational", operational)}) as crm:
        setup_people(crm)
        crm.plugins.enable("operational")
        crm.plugins.enable("collaborative")
        api = crm.plugin("collaborative")
        item = complaint(crm, clock)
        assert (api.work_item(item).state, api.work_item(item).assignee) == ("assigned", "dee")
        c2 = crm.customers.get("C2").id
        assert operational.calls == [("support", c2, "complaint via email")]
        api.hand_off(item, "billing", "invoice")  # the stand-in finds nobody in billing
        assert (api.work_item(item).state, api.work_item(item).assignee) == ("queued", None)
        clock.advance(hours=4)
        crm.sweep()  # escalated to support: assigned again through operational
        assert (api.work_item(item).team, api.work_item(item).assignee) == ("support", "dee")
        assert [c[0] for c in operational.calls] == ["support", "billing", "support"]


def test_team_load_counts_open_work_and_overdue_acknowledgements(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    a, b, c = complaint(crm, clock), complaint(crm, clock), complaint(crm, clock)
    api.assign(a, "dee")
    api.hand_off(b, "billing", "invoice")
    api.hand_off(c, "billing", "refund")
    clock.advance(hours=1)
    api.acknowledge(c)
    load = {t.team: (t.queued, t.assigned, t.in_progress, t.awaiting_ack, t.overdue_ack)
            for t in api.team_load(as_of=clock.now())}
    assert load == {"billing": (2, 0, 0, 1, 0), "support": (0, 1, 0, 0, 0)}
    later = {t.team: t.overdue_ack for t in api.team_load(as_of=clock.now().replace(hour=17))}
    assert later == {"billing": 1, "support": 0}


def test_a_note_keeps_the_core_max_field_length(crm, clock):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    item = complaint(crm, clock)
    assert_keeps_max_field_length(crm, "note", lambda note: api.hand_off(item, "billing", note),
                                  lambda: api.work_item(item).team)
