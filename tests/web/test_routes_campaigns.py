"""campaigns' routes: list, show, add, schedule, run, pause; permissions; one clear 422 per bad
input with nothing stored.  In-process (``api_client``) on SQLite and PostgreSQL, at the test
clock (2025-01-01 12:00 UTC); three customers, A and B consented to email."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crmkit.devtools.testing import api_client
from crmkit.tables import audit_log
from crmkit_campaigns.tables import campaigns as campaign_table
from web_support import problem

API = "/api/v1/campaigns/campaigns"
SPRING = {"name": "spring", "channel": "email", "subject": "Hi {{ name }}",
          "template": "Dear {{ name }}", "if": {"field": "type", "op": "eq", "value": "person"},
          "holdout": 0, "cost": "120", "cost_per_message": "0.5", "goal": "Spring sales"}


@pytest.fixture
def shop(crm):
    crm.plugins.configure_core({**crm.core_config, "public_url": "https://crm.example.com"})
    crm.plugins.enable("campaigns")
    crm.customers.add_many([{"external_id": x, "name": x, "email": f"{x.lower()}@example.com"}
                            for x in "ABC"])
    for x in "AB":
        crm.customers.set_consent(x, "email", True, "signup form")
    return crm


@pytest.fixture
def viewer(shop):
    with api_client(shop, role="viewer") as client:
        yield client


@pytest.fixture
def agent(shop):
    with api_client(shop, role="agent") as client:
        yield client


def stored(crm) -> tuple[int, int]:
    with crm.read() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar()
                     for t in (campaign_table, audit_log))


def test_add_run_show_list_schedule_and_pause(agent, viewer, shop):
    answer = agent.post(API, json=SPRING)
    assert answer.status_code == 201, answer.text
    added = answer.json()
    assert (added["status"], added["cost_fixed"], added["created_by"]) == ("draft", "120.0000",
                                                                           "agent")
    ran = agent.post(f"{API}/spring/run")
    assert ran.status_code == 200, ran.text
    assert {k: ran.json()[k] for k in ("new", "planned", "skipped", "skipped_by_reason")} == {
        "new": 3, "planned": 2, "skipped": 1, "skipped_by_reason": {"no consent": 1}}
    shown = viewer.get(f"{API}/spring").json()
    assert shown["status"] == "running" and shown["recipients"]["planned"] == 2
    assert [(c["name"], c["planned"], c["skipped"]) for c in viewer.get(API).json()] == [
        ("spring", 2, 1)]
    paused = agent.post(f"{API}/spring/pause")
    assert paused.json()["status"] == "paused"
    scheduled = agent.post(f"{API}/spring/schedule", json={"at": "2025-02-01T09:00:00Z"})
    assert scheduled.status_code == 200, scheduled.text
    assert (scheduled.json()["status"], scheduled.json()["schedule_at"]) == (
        "scheduled", "2025-02-01T09:00:00+00:00")


def test_a_viewer_cannot_write(viewer, shop):
    assert viewer.post(API, json=SPRING).status_code == 403
    assert stored(shop)[0] == 0


@pytest.mark.parametrize("changes, fragment", [
    ({"template": "Hi {{ shoe }}"}, "template: unknown field 'shoe'"),
    ({"if": None, "segment": "north"}, "segment: segment 'north': saved segments belong to "
                                       "the analytical plugin, which is not enabled"),
    ({"cost": "-5"}, "cost: -5 is negative"),
    ({"holdout": 1.5}, "holdout: 1.5 is not a fraction in [0, 1)"),
    ({"channel": "fax"}, "channel: unknown channel 'fax'"),
    ({"variants": [{"name": "A", "share": 0.5, "subject": "A", "template": "A"},
                   {"name": "B", "share": 0.25, "subject": "B", "template": "B"}]},
     "variants: the shares add up to 0.75; they must add up to 1"),
])
def test_bad_input_is_one_422_and_nothing_is_stored(agent, shop, changes, fragment):
    before = stored(shop)
    body = {k: v for k, v in {**SPRING, **changes}.items() if v is not None}
    detail = problem(agent.post(API, json=body), 422)["detail"]
    assert fragment in detail
    assert stored(shop) == before


def test_a_schedule_in_the_past_and_an_unknown_campaign(agent, shop):
    agent.post(API, json=SPRING)
    before = stored(shop)
    detail = problem(agent.post(f"{API}/spring/schedule", json={"at": "2024-12-31"}),
                     422)["detail"]
    assert detail.startswith("at: 2024-12-31T00:00:00+00:00 is in the past")
    assert stored(shop) == before
    assert "no campaign 'nope'" in problem(agent.get(f"{API}/nope"), 404)["detail"]
