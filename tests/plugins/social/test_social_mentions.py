"""Mention import: dedup by (platform, post_id), VADER sentiment, the negative-mention event."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConfigError, ValidationError
from crmkit_social.tables import mentions

CSV = """platform,post_id,handle,text,posted_at,likes,comments,shares
twitter,100,@Alice,I love this!,2024-12-30T10:00:00Z,5,1,0
twitter,101,@alice,This is the worst service ever,2024-12-31,2,3,1
instagram,100,stranger,Nice shop,2024-12-31T08:00:00+01:00,0,0,0
"""


def count(crm) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(mentions)).scalar()


@pytest.fixture
def social(crm):
    crm.plugins.enable("social")
    crm.customers.add("C1", "Alice")
    crm.plugin("social").link_handle("C1", "twitter", "alice")
    return crm


def test_reimport_updates_counts_without_duplicates(social, tmp_path):
    crm, api = social, social.plugin("social")
    path = tmp_path / "mentions.csv"
    path.write_text(CSV)
    first = api.import_file(str(path))
    assert (first.read, first.created, first.updated, first.unchanged) == (3, 3, 0, 0)
    again = api.import_file(str(path))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    path.write_text(CSV.replace(",5,1,0", ",50,7,2"))
    third = api.import_file(str(path))
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)
    assert count(crm) == 3
    loved = [m for m in api.mentions() if m.post_id == "100" and m.platform == "twitter"][0]
    assert (loved.likes, loved.comments, loved.shares, loved.handle) == (50, 7, 2, "alice")
    stranger = [m for m in api.mentions() if m.platform == "instagram"][0]
    assert stranger.posted_at.isoformat() == "2024-12-31T07:00:00+00:00"
    assert stranger.customer_id is None


def test_jsonl_import_and_every_bad_line_reported_with_nothing_written(social, tmp_path):
    api = social.plugin("social")
    good = {"platform": "twitter", "post_id": "1", "handle": "alice", "text": "ok",
            "posted_at": "2024-12-01"}
    lines = [json.dumps(good),
             json.dumps(dict(good, post_id="2", posted_at="yesterday")),
             json.dumps(dict(good, post_id="3", likes=-4)),
             "{not json",
             json.dumps(dict(good, post_id="5", colour="red")),
             json.dumps(dict(good, post_id="6", handle="")),
             json.dumps(dict(good, text="changed"))]
    path = tmp_path / "mentions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValidationError) as caught:
        api.import_file(str(path))
    message = str(caught.value).splitlines()
    assert [m.split(":")[0] for m in message] == [f"line {n}" for n in (2, 3, 4, 5, 6, 7)]
    assert message[0].startswith("line 2: posted_at: 'yesterday' is not an ISO 8601 date")
    assert message[1] == "line 3: likes: -4 is not a whole number from 0 to 2147483647"
    assert message[2].startswith("line 4: json: not valid JSON")
    assert message[3].startswith("line 5: colour: unknown field (allowed: platform, post_id")
    assert message[4] == "line 6: handle: required"
    assert message[5] == "line 7: post_id: '1' on twitter repeats line 1 with different content"
    assert count(social) == 0
    path.write_text("\n".join([lines[0], json.dumps(dict(good, post_id="9", likes=3))]) + "\n")
    assert api.import_file(str(path)).created == 2


@pytest.mark.parametrize("likes", [2 ** 31, 2 ** 70, "\u00b2", "99999999999999999999", True, 1.5])
def test_a_count_beyond_its_column_or_not_a_whole_number_is_refused(social, likes):
    mention = {"platform": "twitter", "post_id": "1", "handle": "alice", "text": "hi",
               "posted_at": "2024-12-01", "likes": likes}
    with pytest.raises(ValidationError, match="likes: .* is not a whole number from 0 to "
                                              "2147483647"):
        social.plugin("social").import_mentions([mention])
    assert count(social) == 0
    assert social.plugin("social").import_mentions([dict(mention, likes="2147483647")]).read == 1


def test_vader_scores_with_the_configured_thresholds(social):
    api = social.plugin("social")
    assert api.score("I love this!") == (0.6696, "positive")
    assert api.score("This is the worst service ever") == (-0.6249, "negative")
    assert api.score("The shop opens at nine") == (0.0, "neutral")
    social.plugins.configure("social", {"positive_threshold": 0.7, "negative_threshold": -0.7,
                                        "case_threshold": -0.8})
    assert api.score("I love this!")[1] == "neutral"
    assert api.score("This is the worst service ever")[1] == "neutral"


def test_thresholds_must_be_ordered(crm):
    with pytest.raises(ConfigError, match=r"/negative_threshold: 0.1 must be below "
                                          r"positive_threshold \(0.05\)"):
        crm.plugins.enable("social", {"negative_threshold": 0.1})
    with pytest.raises(ConfigError, match=r"/case_threshold: -0.01 must not exceed "
                                          r"negative_threshold \(-0.05\)"):
        crm.plugins.enable("social", {"case_threshold": -0.01})


def test_a_negative_mention_by_a_known_customer_emits_one_event(social):
    api = social.plugin("social")
    c1 = social.customers.get("C1").id
    rows = [{"platform": "twitter", "post_id": "bad", "handle": "@Alice",
             "text": "This is the worst service ever", "posted_at": "2024-12-31"},
            {"platform": "twitter", "post_id": "anon", "handle": "@nobody",
             "text": "This is the worst service ever", "posted_at": "2024-12-31"},
            {"platform": "twitter", "post_id": "meh", "handle": "@Alice",
             "text": "meh I guess", "posted_at": "2024-12-31"}]
    assert api.import_mentions(rows).alerts == 1
    [event] = social.events.list(type="social.negative_mention")
    mention_id = [m.id for m in api.mentions() if m.post_id == "bad"][0]
    assert (event.customer_id, event.source) == (c1, "social")
    assert event.payload == {"mention_id": mention_id, "platform": "twitter", "handle": "alice",
                             "score": -0.6249}
    rows[0]["likes"] = 40
    assert api.import_mentions(rows).alerts == 0
    assert len(social.events.list(type="social.negative_mention")) == 1
    social.customers.add("C2")
    api.link_handle("C2", "twitter", "nobody")
    assert api.import_mentions(rows).alerts == 1  # now a known customer's, first time
    assert [e.customer_id for e in social.events.list(type="social.negative_mention")] == [
        c1, social.customers.get("C2").id]


def test_case_threshold_default_changed(social):
    social.plugins.configure("social", {"case_threshold": -0.7})
    api = social.plugin("social")
    result = api.import_mentions([{"platform": "twitter", "post_id": "bad", "handle": "alice",
                                   "text": "This is the worst service ever",
                                   "posted_at": "2024-12-31"}])
    assert result.alerts == 0 and social.events.list(type="social.negative_mention") == []
    assert api.mentions()[0].label == "negative"


def test_with_operational_enabled_a_negative_mention_opens_a_case(social):
    social.plugins.enable("operational")
    api = social.plugin("social")
    api.import_mentions([{"platform": "twitter", "post_id": "bad", "handle": "alice",
                          "text": "This is the worst service ever", "posted_at": "2024-12-31"}])
    opened = social.events.list(type="case.opened")
    assert [e.customer_id for e in opened] == [social.customers.get("C1").id]


@pytest.mark.parametrize("field", ["text", "post_id", "handle"])
def test_mention_texts_keep_the_core_max_field_length(social, field):
    api = social.plugin("social")
    mention = {"platform": "twitter", "post_id": "1", "handle": "alice", "text": "hi",
               "posted_at": "2024-12-01"}
    assert_keeps_max_field_length(
        social, f"row 1: {field}", lambda text: api.import_mentions([dict(mention, **{field: text})]),
        lambda: count(social))


def test_a_linked_handle_keeps_the_core_max_field_length(social):
    api = social.plugin("social")
    assert_keeps_max_field_length(social, "handle",
                                  lambda handle: api.link_handle("C1", "twitter", handle),
                                  api.handles)
