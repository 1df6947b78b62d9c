"""idic's routes: duplicates, differentiation and groups, contacts due, dialogues, treatments,
progress and the report; permissions.

In-process (``api_client``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
Three customers, too few for the CLV models: potential value is 0 and the run says why.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from crmkit.devtools.testing import api_client
from crmkit_idic.tables import dialogues
from web_support import problem

API = "/api/v1/idic"
NOW = "2025-01-01T12:00:00+00:00"
UTC = dt.timezone.utc


@pytest.fixture
def idic(crm):
    crm.plugins.enable("analytical")
    crm.plugins.enable("idic")
    crm.customers.add_many([
        {"external_id": "A", "name": "Ann Lee", "email": "ann@example.com"},
        {"external_id": "A2", "name": "Ann Lee", "email": "ann@example.com"},
        {"external_id": "B", "name": "Bo Chan", "preferred_channel": "email"}])
    crm.interactions.record_many([
        {"customer": "A", "kind": "purchase", "amount": "500",
         "occurred_at": dt.datetime(2024, 10, 1, tzinfo=UTC)},
        {"customer": "B", "kind": "purchase", "amount": "20",
         "occurred_at": dt.datetime(2024, 3, 1, tzinfo=UTC)}])
    return crm


@pytest.fixture
def agent(idic):
    with api_client(idic, role="agent") as client:
        yield client


def test_duplicates_and_dismissing_a_pair(agent, idic):
    found = agent.get(f"{API}/duplicates").json()
    assert [(p["first"], p["second"]) for p in found["pairs"]] == [("A", "A2")]
    assert found["pairs"][0]["score"] == idic.plugin("idic").find_duplicates().pairs[0].score
    assert "first_id" not in found["pairs"][0]
    bad = problem(agent.post(f"{API}/duplicates/dismiss", json={"first": "A"}), 422)
    assert [e["pointer"] for e in bad["errors"]] == [""]
    bad = problem(agent.post(f"{API}/duplicates/dismiss", json={"first": "A", "second": ["A2"]}),
                  422)
    assert [e["pointer"] for e in bad["errors"]] == ["/second"]
    problem(agent.post(f"{API}/duplicates/dismiss", json={"first": "A", "second": "ZZ"}), 404)
    assert len(agent.get(f"{API}/duplicates").json()["pairs"]) == 1  # nothing was dismissed
    dismissed = agent.post(f"{API}/duplicates/dismiss", json={"first": "A", "second": "A2"})
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json() == {"dismissed": ["A", "A2"]}
    assert agent.get(f"{API}/duplicates").json()["pairs"] == []


def test_differentiation_groups_and_progress(agent, idic):
    assert agent.get(f"{API}/groups").json()["items"] == []  # no differentiation yet
    run = agent.post(f"{API}/differentiations", json={})
    assert run.status_code == 201, run.text
    result = run.json()
    assert (result["as_of"], sum(result["value_groups"].values())) == (NOW, 3)
    assert result["clv_missing"]  # too few customers for the models: said, not hidden
    groups = {g["customer"]: g for g in agent.get(f"{API}/groups").json()["items"]}
    assert set(groups) == {"A", "A2", "B"}
    assert groups["A"]["current_value"] == "500.0000"
    assert agent.get(f"{API}/customers/A/group").json() == {
        "customer": "A", "value_group": groups["A"]["value_group"]}
    group = groups["B"]["value_group"]
    assert sorted(g["customer"] for g in agent.get(f"{API}/groups", params={"group": group}
                                                   ).json()["items"]) == sorted(
        k for k, g in groups.items() if group in (g["value_group"], g["needs_group"]))
    progress = agent.get(f"{API}/customers/A/progress").json()
    assert (progress["customer"], progress["identified"], progress["differentiated"]) == (
        "A", True, True)
    assert progress["score"] == sum(progress[k] for k in ("identified", "differentiated",
                                                          "interacted", "customised"))
    report = agent.get(f"{API}/report").json()
    assert report["as_of"] == NOW and report["differentiate"]["value_groups"] == result[
        "value_groups"]
    assert agent.get(f"{API}/treatments").json() == []
    problem(agent.post(f"{API}/differentiations", json={"as_of": "later"}), 422)


def test_contacts_due_and_recording_a_dialogue(agent, idic):
    agent.post(f"{API}/differentiations", json={})
    due = agent.get(f"{API}/due").json()["items"]
    assert {d["customer"] for d in due} == {"A", "A2", "B"}
    assert "customer_id" not in due[0]
    refused = problem(agent.post(f"{API}/customers/B/dialogues",
                                 json={"summary": "checked in", "channel": "email"}), 422)
    assert "consent" in refused["detail"]
    idic.customers.set_consent("B", "email", True, "form")
    recorded = agent.post(f"{API}/customers/B/dialogues",
                          json={"summary": "checked in", "channel": "email"})
    assert recorded.status_code == 201, recorded.text
    with idic.read() as conn:
        stored = conn.execute(select(dialogues.c.channel, dialogues.c.direction,
                                     dialogues.c.summary, dialogues.c.actor).where(
            dialogues.c.id == recorded.json()["dialogue_id"])).one()
    assert tuple(stored) == ("email", "outbound", "checked in", "agent")
    assert "B" not in {d["customer"] for d in agent.get(f"{API}/due").json()["items"]}


def test_a_viewer_may_not_run_the_differentiation(idic):
    with api_client(idic, role="viewer") as viewer:
        problem(viewer.post(f"{API}/differentiations", json={}), 403)
        assert viewer.get(f"{API}/groups").json()["items"] == []
    assert idic.plugin("idic").last_differentiation() is None


def test_a_member_without_personal_data_sees_names_and_matched_values_masked(idic):
    """The viewer role reads everything with personal data masked; idic's reads too."""
    idic.plugin("idic").differentiate()
    with api_client(idic, role="agent") as agent:
        [pair] = agent.get(f"{API}/duplicates").json()["pairs"]
        assert (pair["first_name"], pair["reasons"][0]) == ("Ann Lee", "same email ann@example.com")
        assert agent.get(f"{API}/customers/A/progress").json()["name"] == "Ann Lee"
    with api_client(idic, role="viewer") as viewer:
        [pair] = viewer.get(f"{API}/duplicates").json()["pairs"]
        assert (pair["first"], pair["second"], pair["first_name"], pair["second_name"]) == (
            "A", "A2", "***", "***")
        assert pair["reasons"] == ["same email", "similar names"]
        assert viewer.get(f"{API}/customers/A/progress").json()["name"] == "***"
        for path in ("groups", "due"):
            rows = viewer.get(f"{API}/{path}").json()["items"]
            assert rows and {row["name"] for row in rows} == {"***"}, path
            assert "Ann Lee" not in str(rows) and "Bo Chan" not in str(rows)
