"""Adding, scheduling and pausing campaigns; each bad input is one clear error and writes nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from campaigns_support import PUBLIC_URL
from sqlalchemy import func, select

from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConflictError, NotFound, ValidationError
from crmkit.tables import audit_log
from crmkit_campaigns.tables import campaigns as campaign_table
from crmkit_campaigns.tables import recipients, variants

UTC = dt.timezone.utc
SEGMENT = {"field": "attributes.region", "op": "eq", "value": "north"}


@pytest.fixture
def api(crm, campaigns):
    """campaigns and analytical enabled, a declared attribute ``city``, the segment ``north``."""
    crm.plugins.configure_core({**crm.core_config, "public_url": PUBLIC_URL,
                                "customer_attributes": {"type": "object", "properties": {
                                    "city": {"type": "string"}, "region": {"type": "string"}}}})
    crm.plugins.enable("analytical")
    crm.plugin("analytical").save_segment("north", SEGMENT)
    crm.customers.add_many([{"external_id": "A", "email": "a@example.com",
                             "attributes": {"region": "north", "city": "Leeds"}}])
    return campaigns()


def written(crm) -> tuple[int, ...]:
    """Rows in the campaign tables and the audit log (unchanged by a refused write)."""
    with crm.read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar()
                     for t in (campaign_table, variants, recipients, audit_log))


def add(api, name="spring", **changes):
    options = {"channel": "email", "segment": "north", "subject": "Hello {{ name }}",
               "template": "Dear {{ name }} of {{ attributes.city }}"}
    options.update(changes)
    return api.add(name, **options)


def test_add_show_and_list(crm, api):
    added = add(api, goal="Spring sales", holdout=0.1, cost="500", cost_per_message="0.01",
                attribution_days=14)
    assert added["status"] == "draft" and added["audience"] == {"segment": "north"}
    assert added["cost_fixed"] == Decimal("500") and added["cost_per_message"] == Decimal("0.01")
    assert added["recipients"]["planned"] == 0 and added["created_by"] == "system"
    assert api.show("spring") == added
    assert [(c["name"], c["status"], c["planned"]) for c in api.list()] == [("spring", "draft", 0)]
    with pytest.raises(ConflictError, match="campaign 'spring' already exists"):
        add(api)
    with pytest.raises(NotFound, match=r"no campaign 'autumn' \(campaigns: spring\)"):
        api.show("autumn")


@pytest.mark.parametrize("changes, fragment", [
    ({"template": "Hi {{ nickname }}"},
     "template: unknown field 'nickname' (a template may use: external_id"),
    ({"template": "Hi\n{{ attributes.shoe_size }}"},
     "template: line 2: unknown customer attribute 'attributes.shoe_size' (declared "
     "attributes: city, region)"),
    ({"template": "Hi {{ name "}, "template: line 1: unexpected end of template"),
    ({"subject": "Hi {{ nick }}"}, "subject: unknown field 'nick'"),
    ({"segment": "nowhere"},
     "segment: no segment named 'nowhere' (saved segments: north)"),
    ({"segment": None, "condition": {"field": "colour", "op": "eq", "value": "red"}},
     "if: /if"),
    ({"segment": None}, "audience: give exactly one of a segment"),
    ({"cost": "-1"}, "cost: -1 is negative; a cost is 0 or more"),
    ({"cost_per_message": "-0.01"}, "cost_per_message: -0.01 is negative"),
    ({"cost": "lots"}, "cost: 'lots' is not an amount"),
    ({"holdout": 1.0}, "holdout: 1.0 is not a fraction in [0, 1)"),
    ({"holdout": -0.1}, "holdout: -0.1 is not a fraction in [0, 1)"),
    ({"channel": "pigeon"}, "channel: unknown channel 'pigeon' (channels of the enabled "
                            "plugins: email, webhook)"),
    ({"subject": None}, "subject: required non-empty text"),
    ({"attribution_days": 0}, "attribution_days: 0 is not a whole number of days from 1 to 365"),
])
def test_a_bad_campaign_is_one_error_and_writes_nothing(crm, api, changes, fragment):
    before = written(crm)
    with pytest.raises(ValidationError) as caught:
        add(api, **changes)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    assert written(crm) == before


@pytest.mark.parametrize("shares, fragment", [
    ((0.5, 0.4), "variants: the shares add up to 0.9; they must add up to 1 (A: 0.5, B: 0.4)"),
    ((0.5, 0.6), "the shares add up to 1.1"),
    ((1.0, 0.0), "variants: variant B: share 0.0 is not in (0, 1]"),
])
def test_variant_shares_must_add_up_to_one(crm, api, shares, fragment):
    before = written(crm)
    chosen = [api.Variant(n, s, f"Subject {n}", "Hi {{ name }}") for n, s in zip("AB", shares)]
    with pytest.raises(ValidationError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        add(api, variants=chosen)
    assert written(crm) == before


def test_a_variant_template_is_checked_too(crm, api):
    chosen = [api.Variant("A", 0.5, "A", "Hi {{ name }}"), api.Variant("B", 0.5, "B", "{{ x }}")]
    with pytest.raises(ValidationError, match="variant B template: unknown field 'x'"):
        add(api, variants=chosen)
    assert written(crm)[:2] == (0, 0)


def test_schedule_in_the_future_only_and_pause(crm, clock, api):
    add(api)
    before = written(crm)
    with pytest.raises(ValidationError, match=r"at: 2024-12-31T12:00:00\+00:00 is in the past "
                                              r"\(now: 2025-01-01T12:00:00\+00:00\)"):
        api.schedule("spring", dt.datetime(2024, 12, 31, 12, tzinfo=UTC))
    assert written(crm) == before
    at = dt.datetime(2025, 1, 2, 9, tzinfo=UTC)
    assert api.schedule("spring", at)["status"] == "scheduled"
    assert api.show("spring")["schedule_at"] == at
    assert api.pause("spring")["status"] == "paused"
    with pytest.raises(ConflictError, match="campaign 'spring' is paused: only a campaign that "
                                            "is scheduled or running can be paused"):
        api.pause("spring")


def test_the_cli(crm, api, run_cli, tmp_path, cli_on_test_clock):
    template = tmp_path / "spring.txt"
    template.write_text("Dear {{ name }}", encoding="utf-8")
    b = tmp_path / "b.txt"
    b.write_text("Hello {{ name }}!", encoding="utf-8")
    code, out, err = run_cli("campaigns", "add", "spring", "--channel", "email", "--segment",
                             "north", "--subject", "Spring: {{ name }}", "--template-file",
                             str(template), "--holdout", "0.25", "--cost", "100",
                             "--cost-per-message", "0.5", "--goal", "Sales",
                             "--variant", f"A:0.5:Subject: A:{template}",
                             "--variant", f"B:0.5:Subject B:{b}", "--format", "json")
    assert code == 0, err
    shown = json.loads(out)
    assert [(v["name"], v["subject"]) for v in shown["variants"]] == [("A", "Subject: A"),
                                                                      ("B", "Subject B")]
    assert shown["holdout"] == 0.25 and shown["cost_fixed"] == "100.0000"
    code, out, err = run_cli("campaigns", "run", "spring", "--format", "csv")
    assert code == 0, err
    assert out.splitlines()[:2] == ["count,recipients", "new,1"]
    code, out, _ = run_cli("campaigns", "list", "--format", "json")
    assert [(c["name"], c["status"]) for c in json.loads(out)] == [("spring", "running")]
    code, out, _ = run_cli("campaigns", "show", "spring")
    assert "status: running" in out and "template" not in out
    code, out, err = run_cli("campaigns", "schedule", "spring", "--at", "2024-01-01")
    assert code != 0 and err.count("\n") == 1 and "Traceback" not in err
    code, out, err = run_cli("campaigns", "pause", "spring", "--format", "json")
    assert code == 0 and json.loads(out) == {"name": "spring", "status": "paused"}
    bad = tmp_path / "bad.txt"
    bad.write_text("Hi {{ age }}", encoding="utf-8")
    code, _, err = run_cli("campaigns", "add", "autumn", "--channel", "email", "--if",
                           '{"field": "type", "op": "eq", "value": "person"}', "--subject",
                           "Hi", "--template-file", str(bad))
    assert code == 1
    assert err == (f"error: --template-file {bad}: unknown field 'age' (a template may use: "
                   "external_id, type, name, email, phone, preferred_channel, lifecycle_stage, "
                   "tags, attributes, campaign, coupon)\n")
    code, _, err = run_cli("campaigns", "add", "autumn", "--channel", "email", "--if", "{",
                           "--subject", "Hi", "--template-file", str(template))
    assert code == 1 and err.startswith("error: --if: not valid JSON")
    assert [c["name"] for c in api.list()] == ["spring"]


@pytest.mark.parametrize("field", ["name", "subject", "goal"])
def test_campaign_texts_keep_the_core_max_field_length(crm, api, field):
    given = {"name": "spring", "goal": "more visits"}
    assert_keeps_max_field_length(crm, field, lambda text: add(api, **dict(given, **{field: text})),
                                  lambda: written(crm))
