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


OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


@pytest.mark.parametrize("platform, given, stored_platform, stored", [
    ("WeChat", "Alice_Wang", "wechat", "alice_wang"),           # WeChat ID: case-insensitive
    ("weixin", "@alice_wang", "wechat", "alice_wang"),           # alias
    ("wechat", f"OpenID:{OPENID}", "wechat", f"openid:{OPENID}"),  # the ID keeps its case
    ("wechat", "unionid:o6_bmasdasdsad6_2sgVt7hMZOPfL", "wechat",
     "unionid:o6_bmasdasdsad6_2sgVt7hMZOPfL"),
    ("WeChat-Work", "wmAbCdEfGhIjKlMnOp_12", "wecom", "wmAbCdEfGhIjKlMnOp_12"),
    ("qq", "QQ:10001", "qq", "10001"),
    ("QQ", "qq123456789", "qq", "123456789"),
    ("weibo", "@用户Alice", "weibo", "用户alice"),
    ("douyin", "@Dy_Shop.88", "douyin", "dy_shop.88"),
])
def test_chinese_platform_handles_are_normalised(crm, platform, given, stored_platform, stored):
    crm.plugins.enable("social")
    crm.customers.add("C1")
    api = crm.plugin("social")
    assert api.link_handle("C1", platform, given) is True
    assert api.handles() == [(crm.customers.get("C1").id, stored_platform, stored)]
    assert api.owner(stored_platform, stored) == "C1"


def test_openids_differing_only_in_case_are_two_people(crm):
    crm.plugins.enable("social")
    crm.customers.add("C1")
    crm.customers.add("C2")
    api = crm.plugin("social")
    assert api.link_handle("C1", "wechat", f"openid:{OPENID}") is True
    assert api.link_handle("C2", "wechat", f"openid:{OPENID.lower()}") is True
    assert api.owner("wechat", f"OPENID:{OPENID}") == "C1"


@pytest.mark.parametrize("platform, handle, message", [
    ("wechat", "abc", "handle: 'abc' is not a WeChat ID (a letter, then 5-19 letters, digits, "
                      "'_' or '-') nor openid:ID / unionid:ID"),
    ("wechat", "openid:short", "handle: 'openid:short' is not a WeChat openid (16-64 letters, "
                               "digits, '_' or '-')"),
    ("wecom", "张三", "handle: '张三' is not a WeChat Work user ID"),
    ("qq", "012345", "handle: '012345' is not a QQ number (5-12 digits, not starting with 0)"),
    ("qq", "qq:abc12", "handle: 'qq:abc12' is not a QQ number"),
])
def test_bad_chinese_platform_handles_are_one_clear_error(crm, platform, handle, message):
    crm.plugins.enable("social")
    crm.customers.add("C1")
    with pytest.raises(ValidationError) as caught:
        crm.plugin("social").link_handle("C1", platform, handle)
    assert str(caught.value).startswith(message)
    assert crm.plugin("social").handles() == []
