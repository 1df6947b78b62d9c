"""idic — interact: contact plans per group, who is due, recorded dialogues."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConsentError, NotFound, ValidationError

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def grouped(icrm):
    """V1 is MVC (plan 30 days), M1..M4 maintain (plan 90 days); differentiated at NOW."""
    icrm.customers.add_many([
        {"external_id": "V1", "name": "Vera Top", "preferred_channel": "phone",
         "attributes": {"test_clv": 1000}},
        {"external_id": "M1", "name": "Max One", "preferred_channel": "sms"},
        {"external_id": "M2", "name": "Mia Two"},
        {"external_id": "M3", "name": "Mo Three", "attributes": {"city": "York"}},
        {"external_id": "M4", "name": "Meg Four"},
    ])
    icrm.interactions.record_many([
        {"customer": "V1", "occurred_at": NOW - dt.timedelta(days=31), "kind": "call"},
        {"customer": "M1", "occurred_at": NOW - dt.timedelta(days=89), "kind": "visit"},
        {"customer": "M2", "occurred_at": NOW - dt.timedelta(days=5), "kind": "purchase",
         "amount": "20"},                                  # a purchase is not a dialogue
        {"customer": "M4", "occurred_at": NOW - dt.timedelta(days=120), "kind": "visit"},
    ])
    icrm.plugin("idic").differentiate(NOW)
    return icrm


def due_ids(crm, **kw):
    return [d.customer for d in crm.plugin("idic").due(**kw)]


def test_who_is_due_under_the_default_plans(grouped):
    due = {d.customer: d for d in grouped.plugin("idic").due()}
    # V1: 31 days since the call >= 30 (MVC); M1: 89 < 90; M2: no dialogue; M3: none;
    # M4: 120 >= 90
    assert sorted(due) == ["M2", "M3", "M4", "V1"]
    assert (due["V1"].plan, due["V1"].frequency_days, due["V1"].channel,
            due["V1"].days_since) == ("MVC", 30, "phone", 31)
    assert due["M2"].last_contact is None and due["M2"].channel == "email"   # default_channel
    assert due_ids(grouped, group="MVC") == ["V1"]


def test_plan_frequency_and_channel_come_from_config(grouped):
    grouped.plugins.configure("idic", {
        "contact_plans": {"MVC": {"frequency_days": 45, "channel": "letter"},
                          "maintain": {"frequency_days": 60}},
        "default_channel": "sms"})
    due = {d.customer: d for d in grouped.plugin("idic").due()}
    assert sorted(due) == ["M1", "M2", "M3", "M4"]         # V1 31 < 45; M1 89 >= 60
    assert due["M2"].channel == "sms"


def test_the_more_frequent_plan_of_value_and_needs_group_applies(grouped):
    grouped.plugins.configure("idic", {
        "needs_groups": [{"name": "yorkies",
                          "condition": {"field": "attributes.city", "op": "eq", "value": "York"}}],
        "contact_plans": {"maintain": {"frequency_days": 90},
                          "yorkies": {"frequency_days": 7, "channel": "visit"}}})
    api = grouped.plugin("idic")
    api.differentiate(NOW)
    [m3] = api.due(group="yorkies")
    assert (m3.customer, m3.plan, m3.frequency_days, m3.channel) == ("M3", "yorkies", 7, "visit")


def test_dialogue_kinds_decide_what_counts_as_contact(grouped):
    grouped.plugins.configure("idic", {"dialogue_kinds": ["call", "visit", "purchase"]})
    assert "M2" not in due_ids(grouped)                    # the purchase 5 days ago now counts
    assert "M4" in due_ids(grouped)


def test_recorded_dialogues_reset_the_clock_and_need_consent(grouped, clock):
    api = grouped.plugin("idic")
    with pytest.raises(ConsentError):
        api.record_dialogue("V1", "Quarterly review")     # outbound on phone, no consent yet
    assert "V1" in due_ids(grouped)
    grouped.customers.set_consent("V1", "phone", True, "signed form")
    dialogue_id = api.record_dialogue("V1", "Quarterly review")
    assert "V1" not in due_ids(grouped)
    [event] = grouped.events.list(type="idic.dialogue_recorded")
    assert event.payload == {"dialogue_id": dialogue_id, "channel": "phone",
                             "direction": "outbound", "plan": "MVC"}
    api.record_dialogue("M2", "Asked about delivery", channel="web", direction="inbound")
    assert "M2" not in due_ids(grouped)                    # inbound needs no consent
    clock.advance(days=30)
    assert "V1" in due_ids(grouped)


def test_bad_dialogues_are_refused(grouped):
    api = grouped.plugin("idic")
    with pytest.raises(NotFound, match="no customer 'NOPE'"):
        api.record_dialogue("NOPE", "hi", direction="inbound")
    with pytest.raises(ValidationError, match="direction: 'sideways' is not one of inbound, outbound"):
        api.record_dialogue("M1", "hi", direction="sideways")
    for channel, problem in (("x" * 500, "500 characters; at most 40"),
                             ("ph\x07one", "contains U+0007")):
        with pytest.raises(ValidationError, match=f"^channel: {re.escape(problem)}"):
            api.record_dialogue("M1", "hi", channel=channel, direction="inbound")
    assert grouped.events.list(type="idic.dialogue_recorded") == []


def test_a_dialogue_s_channel_is_named_as_consent_is(grouped):
    """``Phone`` is the channel ``phone``: its consent counts, and it is stored so."""
    grouped.customers.set_consent("V1", "phone", True, "signed form")
    grouped.plugin("idic").record_dialogue("V1", "Quarterly review", channel=" Phone ")
    [event] = grouped.events.list(type="idic.dialogue_recorded")
    assert event.payload["channel"] == "phone"


def test_due_needs_a_differentiation(icrm):
    with pytest.raises(NotFound, match="run `crmkit idic differentiate`"):
        icrm.plugin("idic").due()


def test_a_summary_keeps_the_core_max_field_length(grouped):
    api = grouped.plugin("idic")
    assert_keeps_max_field_length(
        grouped, "summary", lambda text: api.record_dialogue("M1", text, direction="inbound"),
        lambda: grouped.events.list(type="idic.dialogue_recorded"))
