"""operational's routes: leads, opportunities, pipeline, tasks, cases; permissions; row-level rule.

In-process (``api_client``) on SQLite and PostgreSQL.  ana and bo are agents (each reaches
only what they own or are assigned), mia a manager (reaches everything), vic a viewer.
The clock is the test clock: 2025-01-01 12:00 UTC.
"""

from __future__ import annotations

import types

import pytest
from sqlalchemy import func, select

import crmkit
from crmkit.devtools.testing import api_client
from crmkit_operational.tables import opportunities, tasks

NOW = "2025-01-01T12:00:00+00:00"
API = "/api/v1/operational"


@pytest.fixture
def ops(crm):
    """operational enabled; C1's lead owned by ana (team north), C2's by bo (team south)."""
    crm.plugins.enable("operational")
    crm.staff.add("ana", "Ana", "north", role="agent")
    crm.staff.add("bo", "Bo", "south", role="agent")
    crm.staff.add("mia", "Mia", "office", role="manager")
    crm.staff.add("vic", "Vic", "office", role="viewer")
    crm.customers.add_many([{"external_id": "C1", "name": "Cleo"},
                            {"external_id": "C2", "name": "Dan"}])
    api = crm.plugin("operational")
    assert api.assign_lead("C1", team="north") == "ana"
    assert api.assign_lead("C2", team="south") == "bo"
    return crm


@pytest.fixture
def clients(ops):
    with api_client(ops, handle="ana") as ana, api_client(ops, handle="bo") as bo, \
            api_client(ops, handle="mia") as mia, api_client(ops, handle="vic") as vic:
        yield {"ana": ana, "bo": bo, "mia": mia, "vic": vic}


def count(crm, table) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def is_problem(answer, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return answer.json()


# -- leads -------------------------------------------------------------------------------------


def test_an_agent_reads_their_lead(clients):
    answer = clients["ana"].get(f"{API}/leads/C1")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "customer": "C1", "stage": "lead", "score": "0.00", "scored_at": NOW, "owner": "ana",
        "created_at": NOW, "updated_at": NOW, "source": None,
        "history": [{"from_stage": None, "to_stage": "lead", "at": NOW, "actor": "system"}]}


def test_an_agent_reading_another_agents_lead_gets_404_not_403(clients, ops):
    problem = is_problem(clients["ana"].get(f"{API}/leads/C2"), 404)
    # the answer for a customer who has no lead: nothing tells them C2's exists
    assert problem["detail"] == "customer 'C2' is not in the lead funnel"
    ops.customers.add("C3", lifecycle_stage="active")  # a client, not in the lead funnel
    assert is_problem(clients["ana"].get(f"{API}/leads/C3"), 404)["detail"] == (
        "customer 'C3' is not in the lead funnel")
    # moving it is refused the same way, and it stays where it was
    is_problem(clients["ana"].post(f"{API}/leads/C2/stage", json={"stage": "mql"}), 404)
    assert clients["bo"].get(f"{API}/leads/C2").json()["stage"] == "lead"


def test_a_manager_reads_every_lead(clients):
    assert clients["mia"].get(f"{API}/leads/C2").json()["owner"] == "bo"
    listed = clients["mia"].get(f"{API}/leads").json()
    assert [(r["customer"], r["owner"]) for r in listed] == [("C1", "ana"), ("C2", "bo")]


def test_an_agents_lead_list_holds_only_their_leads(clients):
    assert [r["customer"] for r in clients["ana"].get(f"{API}/leads").json()] == ["C1"]
    assert clients["ana"].get(f"{API}/leads", params={"owner": "bo"}).json() == []
    assert [r["customer"] for r in clients["bo"].get(f"{API}/leads").json()] == ["C2"]
    assert clients["mia"].get(f"{API}/leads", params={"owner": "bo", "limit": 1}).json() == [
        {"customer": "C2", "name": "Dan", "stage": "lead", "score": "0.00", "owner": "bo",
         "scored_at": NOW}]


def test_moving_a_lead_is_audited_under_the_caller(clients, ops):
    answer = clients["ana"].post(f"{API}/leads/C1/stage", json={"stage": "mql"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["stage"] == "mql"
    assert answer.json()["history"][-1] == {"from_stage": "lead", "to_stage": "mql", "at": NOW,
                                            "actor": "ana"}
    assert ops.plugin("operational").lead("C1")["stage"] == "mql"


def test_a_bad_lead_body_is_one_problem_with_its_pointer_and_nothing_moves(clients, ops):
    for body, pointer in (({"stage": 5}, "/stage"), ({}, ""),
                          ({"stage": "mql", "owner": "bo"}, "/owner")):
        problem = is_problem(clients["ana"].post(f"{API}/leads/C1/stage", json=body), 422)
        assert [e["pointer"] for e in problem["errors"]] == [pointer], problem
    problem = is_problem(clients["ana"].post(f"{API}/leads/C1/stage", json={"stage": "won"}), 422)
    assert "'won'" in problem["detail"]
    assert ops.plugin("operational").lead("C1")["stage"] == "lead"
    assert len(ops.plugin("operational").stage_history("lead", ops.customers.get("C1").id)) == 1


def test_a_viewer_may_not_write_and_sees_no_ones_records(clients, ops):
    problem = is_problem(clients["vic"].post(f"{API}/leads/C1/stage", json={"stage": "mql"}), 403)
    assert "operational.write" in problem["detail"]
    assert ops.plugin("operational").lead("C1")["stage"] == "lead"
    # a viewer reads operational but owns nothing, and the role lacks operational.all
    assert clients["vic"].get(f"{API}/leads").json() == []
    is_problem(clients["vic"].get(f"{API}/leads/C1"), 404)


def test_reassigning_a_lead(clients, ops):
    answer = clients["mia"].post(f"{API}/leads/C1/assign", json={"team": "south"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["owner"] == "bo"
    is_problem(clients["ana"].get(f"{API}/leads/C1"), 404)  # no longer hers


# -- opportunities and the pipeline -----------------------------------------------------------


def test_opportunities_create_get_move_and_pipeline(clients, ops):
    answer = clients["ana"].post(f"{API}/opportunities", json={
        "customer": "C1", "name": "Annual plan", "amount": "1200.50",
        "expected_close": "2025-03-31"})
    assert answer.status_code == 201, answer.text
    created = answer.json()
    opportunity_id = created["id"]
    assert created == {
        "id": opportunity_id, "customer": "C1", "name": "Annual plan", "stage": "qualification",
        "amount": "1200.5000", "currency": "USD", "owner": "ana", "expected_close": "2025-03-31",
        "renewal_of": None, "created_at": NOW, "updated_at": NOW, "closed_at": None,
        "history": [{"from_stage": None, "to_stage": "qualification", "at": NOW,
                     "actor": "ana"}]}
    assert clients["ana"].get(f"{API}/opportunities/{opportunity_id}").json() == created
    hidden = is_problem(clients["bo"].get(f"{API}/opportunities/{opportunity_id}"), 404)
    assert hidden["detail"] == f"no opportunity with id {opportunity_id}"
    assert is_problem(clients["bo"].get(f"{API}/opportunities/{opportunity_id + 1}"), 404)[
        "detail"] == f"no opportunity with id {opportunity_id + 1}"
    is_problem(clients["bo"].post(f"{API}/opportunities/{opportunity_id}/stage",
                                  json={"stage": "proposal"}), 404)
    moved = clients["ana"].post(f"{API}/opportunities/{opportunity_id}/stage",
                                json={"stage": "proposal"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["stage"], moved.json()["renewal_id"]) == ("proposal", None)
    assert clients["bo"].get(f"{API}/opportunities").json() == []
    assert [o["id"] for o in clients["mia"].get(f"{API}/opportunities").json()] == [opportunity_id]
    pipeline = clients["mia"].get(f"{API}/pipeline", params=[("by", "stage"), ("by", "owner")])
    assert pipeline.status_code == 200, pipeline.text
    assert pipeline.json() == [{"stage": "proposal", "owner": "ana", "probability": 50,
                                "currency": "USD", "opportunities": 1, "amount": "1200.5",
                                "weighted": "600.25"}]
    is_problem(clients["mia"].get(f"{API}/pipeline", params={"by": "colour"}), 422)
    # an agent without operational.all gets only their own opportunities' pipeline
    assert clients["bo"].get(f"{API}/pipeline", params={"by": "owner"}).json() == []
    assert [r["owner"] for r in clients["ana"].get(f"{API}/pipeline",
                                                   params={"by": "owner"}).json()] == ["ana"]


def test_a_bad_opportunity_writes_nothing(clients, ops):
    for body, pointer in (({"customer": "C1", "name": "X"}, ""),
                          ({"customer": "C1", "name": "X", "amount": True}, "/amount"),
                          ({"customer": "C1", "name": "X", "amount": 12.5}, "/amount"),
                          ({"customer": "C1", "name": "X", "amount": "1", "colour": "red"},
                           "/colour")):
        problem = is_problem(clients["ana"].post(f"{API}/opportunities", json=body), 422)
        assert [e["pointer"] for e in problem["errors"]] == [pointer], problem
    problem = is_problem(clients["ana"].post(f"{API}/opportunities", json={
        "customer": "C1", "name": "X", "amount": "lots"}), 422)
    assert "opportunity amount" in problem["detail"]
    assert count(ops, opportunities) == 0


# -- tasks -------------------------------------------------------------------------------------


def test_tasks_create_list_and_close(clients, ops):
    answer = clients["ana"].post(f"{API}/tasks", json={
        "customer": "C1", "subject": "Send the contract", "due_at": "2025-01-02T09:00:00Z"})
    assert answer.status_code == 201, answer.text
    task = answer.json()
    assert task == {"id": task["id"], "customer": "C1", "subject": "Send the contract",
                    "kind": "manual", "assignee": "ana", "due_at": "2025-01-02T09:00:00+00:00",
                    "status": "open", "source": None, "created_at": NOW, "closed_at": None}
    # ana's own, by due time: this one, then the first-contact task of her new lead
    assert [(t["customer"], t["kind"], t["assignee"])
            for t in clients["ana"].get(f"{API}/tasks").json()] == [
        ("C1", "manual", "ana"), ("C1", "first_contact", "ana")]
    assert clients["ana"].get(f"{API}/tasks").json()[0] == task
    assert [t["assignee"] for t in clients["bo"].get(f"{API}/tasks").json()] == ["bo"]
    is_problem(clients["bo"].get(f"{API}/tasks/{task['id']}"), 404)
    is_problem(clients["bo"].post(f"{API}/tasks/{task['id']}/status", json={"status": "done"}),
               404)
    problem = is_problem(clients["ana"].post(f"{API}/tasks/{task['id']}/status",
                                             json={"status": "finished"}), 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/status"]
    closed = clients["ana"].post(f"{API}/tasks/{task['id']}/status", json={"status": "done"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["status"], closed.json()["closed_at"]) == ("done", NOW)
    assert clients["ana"].get(f"{API}/tasks", params={"status": "done"}).json() == [
        closed.json()]
    is_problem(clients["ana"].get(f"{API}/tasks/abc"), 404)


def test_a_bad_task_writes_nothing(clients, ops):
    before = count(ops, tasks)  # the leads' first-contact tasks
    problem = is_problem(clients["ana"].post(f"{API}/tasks", json={
        "customer": "C1", "subject": "Call", "due_at": "next week"}), 422)
    assert "due_at" in problem["detail"]
    problem = is_problem(clients["ana"].post(f"{API}/tasks", json={
        "customer": "C1", "due_at": "2025-01-02"}), 422)
    assert [e["pointer"] for e in problem["errors"]] == [""]
    assert count(ops, tasks) == before


# -- cases -------------------------------------------------------------------------------------


def test_cases_open_move_and_respond(clients, ops):
    answer = clients["mia"].post(f"{API}/cases", json={"customer": "C2", "subject": "Broken",
                                                       "priority": "high"})
    assert answer.status_code == 201, answer.text
    case = answer.json()
    assert (case["customer"], case["subject"], case["priority"], case["status"],
            case["assignee"], case["opened_at"]) == ("C2", "Broken", "high", "open", None, NOW)
    assert "customer_id" not in case
    is_problem(clients["ana"].get(f"{API}/cases/{case['id']}"), 404)  # not assigned to her
    assert clients["ana"].get(f"{API}/cases").json() == []
    responded = clients["mia"].post(f"{API}/cases/{case['id']}/respond")
    assert responded.status_code == 200, responded.text
    assert (responded.json()["first_response"], responded.json()["first_response_at"]) == (
        True, NOW)
    assert clients["mia"].post(f"{API}/cases/{case['id']}/respond").json()["first_response"] \
        is False
    moved = clients["mia"].post(f"{API}/cases/{case['id']}/status", json={"status": "resolved"})
    assert is_problem(moved, 422)["detail"].startswith(f"case {case['id']}: cannot move")
    moved = clients["mia"].post(f"{API}/cases/{case['id']}/status",
                                json={"status": "in_progress"})
    assert moved.json()["status"] == "in_progress"
    assert clients["mia"].get(f"{API}/cases/{case['id']}").json() == moved.json()
    assert [c["id"] for c in clients["mia"].get(f"{API}/cases",
                                                params={"status": "in_progress"}).json()] == [
        case["id"]]


# -- personal text -----------------------------------------------------------------------------

CLEO = "Cleo Marsh's kitchen refit"
"""Free text naming the customer, as staff write it into names and subjects."""


@pytest.fixture
def clerk(ops):
    """cid, of the custom role clerk: every operational permission (every record, writes
    too) but not customers.pii."""
    ops.plugins.configure_core({**ops.core_config, "roles": {**ops.core_config["roles"],
                                                             "clerk": ["operational.*"]}})
    with api_client(ops, role="clerk", handle="cid") as cid:
        yield cid


def test_a_member_without_customers_pii_reads_opportunity_names_masked(clients, clerk):
    created = clerk.post(f"{API}/opportunities", json={"customer": "C1", "name": CLEO,
                                                       "amount": "900", "owner": "ana"})
    assert created.status_code == 201, created.text
    opportunity = created.json()
    assert (opportunity["name"], opportunity["amount"], opportunity["owner"]) == (
        "***", "900.0000", "ana")
    path = f"{API}/opportunities/{opportunity['id']}"
    moved = clerk.post(f"{path}/stage", json={"stage": "proposal"})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["name"], moved.json()["stage"]) == ("***", "proposal")
    assert clerk.get(path).json() == {k: v for k, v in moved.json().items() if k != "renewal_id"}
    assert [o["name"] for o in clerk.get(f"{API}/opportunities").json()] == ["***"]
    # a member with customers.pii reads it whole: only the answer is masked
    assert clients["ana"].get(path).json()["name"] == CLEO
    assert [o["name"] for o in clients["mia"].get(f"{API}/opportunities").json()] == [CLEO]


def test_a_member_without_customers_pii_reads_task_and_case_subjects_masked(clients, clerk):
    created = clerk.post(f"{API}/tasks", json={"customer": "C1", "subject": f"Call about {CLEO}",
                                               "assignee": "ana",
                                               "due_at": "2025-01-02T09:00:00Z"})
    assert created.status_code == 201, created.text
    task = created.json()
    assert (task["subject"], task["assignee"]) == ("***", "ana")
    assert clerk.get(f"{API}/tasks/{task['id']}").json() == task
    # with the first-contact task of C1's lead
    assert [t["subject"] for t in clerk.get(f"{API}/tasks").json()] == ["***"] * 3
    closed = clerk.post(f"{API}/tasks/{task['id']}/status", json={"status": "done"})
    assert closed.status_code == 200, closed.text
    assert (closed.json()["subject"], closed.json()["status"]) == ("***", "done")
    assert clients["ana"].get(f"{API}/tasks/{task['id']}").json()["subject"] == (
        f"Call about {CLEO}")

    opened = clerk.post(f"{API}/cases", json={"customer": "C2", "subject": f"Dan: {CLEO}"})
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["subject"] == "***"
    path = f"{API}/cases/{case['id']}"
    assert clerk.get(path).json() == case
    assert [c["subject"] for c in clerk.get(f"{API}/cases").json()] == ["***"]
    responded = clerk.post(f"{path}/respond")
    assert (responded.json()["subject"], responded.json()["first_response"]) == ("***", True)
    moved = clerk.post(f"{path}/status", json={"status": "in_progress"})
    assert (moved.json()["subject"], moved.json()["status"]) == ("***", "in_progress")
    assert clients["mia"].get(path).json()["subject"] == f"Dan: {CLEO}"
    assert [c["subject"] for c in clients["mia"].get(f"{API}/cases").json()] == [f"Dan: {CLEO}"]


def test_customers_pii_refused_on_one_customer_masks_only_that_customers_text(crm_url, clock):
    secret = types.ModuleType("secret")
    secret.PLUGIN = crmkit.PluginInfo(name="secret", description="C2's personal data is hidden")
    secret.crmkit_permission_allowed = crmkit.hookimpl(
        lambda principal, permission, resource: False if (
            permission == "customers.pii" and (resource or {}).get("external_id") == "C2")
        else None)
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"secret": secret}) as crm:
        crm.plugins.enable("operational")
        crm.plugins.enable("secret")
        crm.customers.add_many([{"external_id": "C1", "name": "Cleo"},
                                {"external_id": "C2", "name": "Dan"}])
        api = crm.plugin("operational")
        for customer in ("C1", "C2"):
            api.create_opportunity(customer, f"{customer}'s refit", "10")
            api.open_case(customer, f"{customer}'s complaint")
        with api_client(crm, role="manager", handle="mia") as mia:
            assert [o["name"] for o in mia.get(f"{API}/opportunities").json()] == [
                "***", "C1's refit"]
            assert [c["subject"] for c in mia.get(f"{API}/cases").json()] == [
                "***", "C1's complaint"]
            assert {r["customer"]: r["name"] for r in mia.get(f"{API}/leads").json()} == {
                "C1": "Cleo", "C2": "***"}


# -- against a real server process -------------------------------------------------------------


def test_served_an_agent_reading_another_agents_lead_gets_404(served, clock):
    from crmkit import CRM

    server = served(plugins=["operational"])
    with CRM.open(server.crm_url, clock=clock) as crm:  # the server's clock: CRMKIT_NOW
        crm.staff.add("ana", "Ana", "north", role="agent")
        crm.staff.add("bo", "Bo", "south", role="agent")
        crm.customers.add_many([{"external_id": "C1"}, {"external_id": "C2"}])
        crm.plugin("operational").assign_lead("C1", team="north")
        crm.plugin("operational").assign_lead("C2", team="south")
    with server.client(server.token("ana", role="agent")) as ana, \
            server.client(server.token("mia", role="manager")) as mia:
        assert ana.get(f"{API}/leads/C1").json()["owner"] == "ana"
        refused = ana.get(f"{API}/leads/C2")
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["detail"] == "customer 'C2' is not in the lead funnel"
        assert ana.post(f"{API}/leads/C2/stage", json={"stage": "mql"}).status_code == 404
        assert mia.get(f"{API}/leads/C2").json()["stage"] == "lead"
        moved = mia.post(f"{API}/leads/C2/stage", json={"stage": "mql"})
        assert moved.status_code == 200, moved.text
        assert moved.json()["history"][-1]["actor"] == "mia"


def test_a_role_granted_operational_all_reaches_every_record(ops, clients):
    config = dict(ops.core_config)
    config["roles"] = {**config["roles"], "viewer": ["*.read", "operational.all"]}
    ops.plugins.configure_core(config)
    assert [r["customer"] for r in clients["vic"].get(f"{API}/leads").json()] == ["C1", "C2"]
    assert clients["vic"].get(f"{API}/leads/C2").json()["owner"] == "bo"
    is_problem(clients["vic"].post(f"{API}/leads/C2/stage", json={"stage": "mql"}), 403)
