"""Outbound contact: preferred channel, recorded override, the core's consent rules."""

from __future__ import annotations

import pytest
from collaborative_support import setup_people
from sqlalchemy import select

from crmkit import tables
from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConsentError, ValidationError


def outbound(crm):
    return [(i.kind, i.channel, i.direction, i.payload) for i in crm.interactions.list(limit=None)
            if i.direction == "outbound"]


def test_preferred_channel_is_used_and_needs_consent(crm):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    with pytest.raises(ConsentError):
        api.contact("C1", "Your refund")
    assert outbound(crm) == []
    crm.customers.set_consent("C1", "email", True, "web form")
    sent = api.contact("C1", "Your refund")
    assert (sent.channel, sent.preferred_channel, sent.override_reason) == ("email", "email", None)
    assert outbound(crm) == [("message", "email", "outbound", {"subject": "Your refund"})]
    [event] = crm.events.list(type="contact.sent")
    assert event.payload["override"] is False and event.payload["interaction_id"] == sent.interaction_id


def test_other_channel_without_override_is_refused_with_override_recorded(crm):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    crm.customers.set_consent("C1", "sms", True, "web form")
    for reason in (None, "  "):
        with pytest.raises(ValidationError, match=r"'sms' is not the customer's preferred channel "
                                                  r"\('email'\); give an override reason"):
            api.contact("C1", "Parcel at the door", channel="sms", override_reason=reason)
    assert outbound(crm) == []
    sent = api.contact("C1", "Parcel at the door", channel="sms",
                       override_reason="courier waiting outside")
    assert (sent.channel, sent.override_reason) == ("sms", "courier waiting outside")
    assert outbound(crm) == [("message", "sms", "outbound",
                              {"subject": "Parcel at the door",
                               "override_reason": "courier waiting outside"})]
    with crm.read() as conn:
        audit = conn.execute(select(tables.audit_log.c.action, tables.audit_log.c.changes)
                             .where(tables.audit_log.c.action == "channel_override")).all()
    assert [(a.action, a.changes["channel"]) for a in audit] == [("channel_override",
                                                                 ["email", "sms"])]
    assert crm.events.list(type="contact.sent")[0].payload["override"] is True


def test_a_channel_without_consent_is_refused_even_with_override(crm):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    crm.customers.set_consent("C1", "email", True, "web form")
    crm.customers.set_consent("C1", "phone", False, "asked not to be called")
    with pytest.raises(ConsentError):
        api.contact("C1", "Quick call", channel="phone", override_reason="urgent")
    with pytest.raises(ConsentError):
        api.contact("C1", "Quick call", channel="whatsapp", override_reason="urgent")
    assert outbound(crm) == []
    assert crm.events.list(type="contact.sent") == []


def test_contact_rules_for_missing_preferences_and_bad_input(crm, clock):
    setup_people(crm)
    crm.customers.add("C9", "No Preference")
    crm.plugins.enable("collaborative")
    api = crm.plugin("collaborative")
    with pytest.raises(ValidationError, match="C9: channel: the customer has no preferred channel"):
        api.contact("C9", "Hello")
    with pytest.raises(ValidationError, match="subject: required"):
        api.contact("C1", " ")
    crm.customers.set_consent("C9", "email", True, "form")
    assert api.contact("C9", "Hello", channel="email", override_reason="no preference on file"
                       ).override_reason == "no preference on file"
    item = crm.interactions.record("C2", clock.now(), kind="message", channel="sms")
    [work] = api.items_of("C2")
    crm.customers.set_consent("C1", "email", True, "form")
    with pytest.raises(ValidationError, match=f"work item {work.id} belongs to another customer"):
        api.contact("C1", "Re: your message", work_item_id=work.id)
    crm.customers.set_consent("C2", "sms", True, "form")
    answer = api.contact("C2", "Re: your message", work_item_id=work.id)
    assert answer.interaction_id > item.id
    assert api.items_of("C2") == [work]  # outbound replies are not routed


@pytest.mark.parametrize("field", ["subject", "override reason"])
def test_contact_texts_keep_the_core_max_field_length(crm, field):
    setup_people(crm)
    crm.plugins.enable("collaborative")
    crm.customers.set_consent("C1", "sms", True, "form")
    api = crm.plugin("collaborative")
    texts = {"subject": "Hello", "override reason": "asked for sms"}

    def contact(text: str):
        given = dict(texts, **{field: text})
        return api.contact("C1", given["subject"], channel="sms",
                           override_reason=given["override reason"])

    assert_keeps_max_field_length(crm, f"C1: {field}", contact, lambda: outbound(crm))
