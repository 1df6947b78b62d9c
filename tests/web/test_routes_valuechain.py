"""valuechain's routes: SSCs, stages (check, complete, reopen), network, propositions, actions,
supporting conditions and the report; permissions.

In-process (``api_client``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
"""

from __future__ import annotations

import pytest

from crmkit.devtools.testing import api_client
from web_support import problem

API = "/api/v1/valuechain"
NOW = "2025-01-01T12:00:00+00:00"


@pytest.fixture
def chain(crm):
    crm.plugins.enable("analytical")
    crm.plugins.enable("valuechain")
    crm.customers.add("C1", "Ada")
    crm.customers.add("C2", "Bob")
    return crm


@pytest.fixture
def manager(chain):
    with api_client(chain, role="manager") as client:
        yield client


def test_sscs_and_the_first_stage(manager, chain):
    check = manager.get(f"{API}/stages/1").json()
    assert (check["stage"], check["met"]) == (1, False)
    refused = problem(manager.post(f"{API}/stages/portfolio/complete"), 422)
    assert "no SSC marked" in refused["detail"]
    marked = manager.post(f"{API}/sscs", json={"customer": "C1", "reasons": ["high_value"],
                                               "note": "biggest account"})
    assert marked.status_code == 201, marked.text
    assert {k: marked.json()[k] for k in ("customer", "name", "reasons", "note",
                                          "marked_at")} == {
        "customer": "C1", "name": "Ada", "reasons": ["high_value"], "note": "biggest account",
        "marked_at": NOW}
    assert [s["customer"] for s in manager.get(f"{API}/sscs").json()] == ["C1"]
    completed = manager.post(f"{API}/stages/1/complete")
    assert completed.status_code == 200, completed.text
    assert (completed.json()["stage"], completed.json()["met"]) == (1, True)
    assert manager.get(f"{API}/report").json()["completed"] == "1 of 5"
    assert manager.post(f"{API}/stages/1/reopen").json() == {"reopened": [1]}
    assert manager.get(f"{API}/report").json()["completed"] == "0 of 5"
    problem(manager.get(f"{API}/stages/9"), 422)
    assert manager.delete(f"{API}/sscs/C1").json() == {"unmarked": "C1"}
    assert manager.get(f"{API}/sscs").json() == []


def test_a_bad_ssc_is_one_problem_and_marks_nothing(manager, chain):
    bad = problem(manager.post(f"{API}/sscs", json={"customer": "C1"}), 422)
    assert [e["pointer"] for e in bad["errors"]] == [""]
    bad = problem(manager.post(f"{API}/sscs", json={"customer": "C1", "reasons": "high"}), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/reasons"]
    bad = problem(manager.post(f"{API}/sscs", json={"customer": "C1", "reasons": ["whim"]}), 422)
    assert "whim" in bad["detail"]
    assert chain.plugin("valuechain").sscs() == []


def test_network_propositions_actions_and_conditions(manager):
    member = manager.post(f"{API}/network", json={"kind": "supplier", "name": "Acme",
                                                  "role": "ships overnight"})
    assert member.status_code == 201, member.text
    assert {k: member.json()[k] for k in ("kind", "name", "role", "group", "customer")} == {
        "kind": "supplier", "name": "Acme", "role": "ships overnight", "group": None,
        "customer": None}
    assert manager.get(f"{API}/network").json() == [member.json()]
    problem(manager.post(f"{API}/network", json={"kind": "rival", "name": "X", "role": "y"}), 422)
    assert manager.put(f"{API}/propositions/default", json={"text": "next-day delivery"}).json() \
        == {"default": "next-day delivery"}
    # the group name is trimmed as the command trims it
    assert manager.put(f"{API}/propositions/%20vip%20", json={"text": "a named contact"}).json() \
        == {"default": "next-day delivery", "vip": "a named contact"}
    assert manager.get(f"{API}/propositions").json() == {"default": "next-day delivery",
                                                         "vip": "a named contact"}
    assert manager.post(f"{API}/actions", json={"group": "default", "kind": "retention",
                                                "description": "quarterly review"}
                        ).status_code == 201
    assert [(a["group"], a["kind"]) for a in manager.get(f"{API}/actions").json()] == [
        ("default", "retention")]
    rated = manager.post(f"{API}/conditions/people/ratings", json={"rating": 2})
    assert rated.status_code == 201, rated.text
    assert (rated.json()["ratings"]["people"], rated.json()["weakest"]) == (2, "people")
    problem(manager.post(f"{API}/conditions/people/ratings", json={"rating": 9}), 422)
    assert manager.get(f"{API}/conditions").json()["ratings"]["people"] == 2


def test_a_viewer_reads_but_may_not_write(chain):
    with api_client(chain, role="viewer") as viewer:
        assert viewer.get(f"{API}/sscs").json() == []
        refused = problem(viewer.post(f"{API}/sscs", json={"customer": "C1",
                                                           "reasons": ["high_value"]}), 403)
    assert "valuechain.write" in refused["detail"]
    assert chain.plugin("valuechain").sscs() == []


def test_a_member_without_customers_pii_marks_an_ssc_and_reads_its_name_masked(chain):
    chain.plugins.configure_core({**chain.core_config, "roles": {
        **chain.core_config["roles"], "planner": ["*.read", "valuechain.write"]}})
    with api_client(chain, role="planner") as planner:
        marked = planner.post(f"{API}/sscs", json={"customer": "C1", "reasons": ["high_value"]})
        assert (marked.status_code, marked.json()["name"]) == (201, "***")
        assert [s["name"] for s in planner.get(f"{API}/sscs").json()] == ["***"]
