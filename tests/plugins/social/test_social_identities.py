"""Identities: normalised (platform, handle), one owner, mentions follow the link."""

from __future__ import annotations

import pytest

from crmkit.errors import ConflictError, NotFound, ValidationError


def test_at_alice_and_alice_are_one_identity_a_second_customer_cannot_claim(crm):
    crm.plugins.enable("social")
    crm.customers.add("C1", "Alice")
    crm.customers.add("C2", "Mallory")
    api = crm.plugin("social")
    c1 = crm.customers.get("C1").id
    assert api.link_handle("C1", "Twitter", "@Alice") is True
    assert api.link_handle("C1", "twitter", "alice") is False
    assert api.handles() == [(c1, "twitter", "alice")]
    for claim in ("alice", "@ALICE", "  @alice "):
        with pytest.raises(ConflictError, match="twitter handle 'alice' already belongs to "
                                                "customer 'C1'"):
            api.link_handle("C2", "TWITTER", claim)
    assert api.handles() == [(c1, "twitter", "alice")]
    assert api.link_handle("C2", "instagram", "alice") is True  # another platform
    assert api.owner("Instagram", "@Alice") == "C2"


@pytest.mark.parametrize("platform, handle, message", [
    ("twitter", "@", "handle: empty handle"),
    ("twitter", "al ice", "handle: 'al ice' is not a handle"),
    ("twitter", "@@alice", "handle: '@@alice' is not a handle"),
    ("two words", "alice", "platform: 'two words' is not a platform name"),
])
def test_bad_handles_and_platforms_are_refused(crm, platform, handle, message):
    crm.plugins.enable("social")
    crm.customers.add("C1")
    with pytest.raises(ValidationError, match=message):
        crm.plugin("social").link_handle("C1", platform, handle)
    assert crm.plugin("social").handles() == []


def test_linking_attaches_earlier_mentions_and_unlinking_detaches_them(crm):
    crm.plugins.enable("social")
    crm.customers.add("C1")
    api = crm.plugin("social")
    api.import_mentions([{"platform": "twitter", "post_id": "p1", "handle": "@Alice",
                          "text": "hello", "posted_at": "2024-12-01"}])
    assert [m.external_id for m in api.mentions()] == [None]
    api.link_handle("C1", "twitter", "alice")
    assert [m.external_id for m in api.mentions()] == ["C1"]
    with pytest.raises(NotFound, match="customer 'C1' has no twitter handle 'bob'"):
        api.unlink_handle("C1", "twitter", "bob")
    api.unlink_handle("C1", "twitter", "@ALICE")
    assert api.handles() == [] and [m.external_id for m in api.mentions()] == [None]
