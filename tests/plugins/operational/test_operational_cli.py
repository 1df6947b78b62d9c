"""``crmkit operational …``: every command, its formats, and one-line errors."""

from __future__ import annotations

import json


def ok(run_cli, *args):
    code, out, err = run_cli(*args)
    assert code == 0, err
    return out


def test_operational_commands(run_cli, cli_on_test_clock, tmp_path):
    ok(run_cli, "init")
    ok(run_cli, "plugins", "enable", "operational")
    for handle in ("ana", "ben"):
        ok(run_cli, "staff", "add", handle, "--name", handle.title(), "--team", "sales")
    ok(run_cli, "staff", "add", "dee", "--name", "Dee", "--team", "support")
    for ext in ("C1", "C2", "C3"):
        ok(run_cli, "customers", "add", ext)

    assert ok(run_cli, "operational", "opportunities", "add", "C1", "Annual plan", "--amount",
              "1000", "--owner", "ana", "--close", "2027-01-15", "--stage", "proposal").strip() == "1"
    ok(run_cli, "operational", "opportunities", "add", "C3", "Licence", "--amount", "200.50",
       "--owner", "ben", "--currency", "EUR")
    [opp, _] = sorted(json.loads(ok(run_cli, "operational", "opportunities", "--format", "json")),
                      key=lambda o: o["id"])
    assert (opp["customer"], opp["stage"], opp["amount"], opp["expected_close"]) == (
        "C1", "proposal", "1000.0000", "2027-01-15")
    code, _, err = run_cli("operational", "opportunities", "move", "1", "sal")
    assert code != 0 and err.startswith("error: opportunity 1: 'sal' is not an opportunity stage")
    assert err.count("\n") == 1
    rows = json.loads(ok(run_cli, "operational", "pipeline", "--format", "json"))
    assert [(r["stage"], r["currency"], r["weighted"]) for r in rows] == [
        ("qualification", "EUR", "20.05"), ("proposal", "USD", "500")]
    csv = ok(run_cli, "operational", "pipeline", "--by", "owner", "--by", "month", "--format", "csv")
    assert csv.splitlines() == ["owner,month,currency,opportunities,amount,weighted",
                                "ana,2027-01,USD,1,1000,500", "ben,,EUR,1,200.5,20.05"]
    assert ok(run_cli, "operational", "opportunities", "move", "1", "won") == "opportunity 1: won\n"
    history = json.loads(ok(run_cli, "operational", "opportunities", "history", "1", "--format",
                            "json"))
    assert [h["to_stage"] for h in history] == ["proposal", "won"]

    ok(run_cli, "operational", "leads", "stage", "C2", "mql")  # assigned on reaching mql
    lead = json.loads(ok(run_cli, "operational", "leads", "show", "C2", "--format", "json"))
    assert (lead["stage"], lead["owner"]) == ("mql", "ana")
    assert lead["customer"] == "C2" and "customer_id" not in lead
    assert [h["to_stage"] for h in lead["history"]] == ["lead", "mql"]
    code, _, err = run_cli("operational", "leads", "stage", "C2", "lead")
    assert code != 0 and "moving back from 'mql' to 'lead' is not allowed" in err
    assert ok(run_cli, "operational", "leads", "assign", "C2", "--team", "sales").strip() == "ben"
    assert ok(run_cli, "operational", "assign", "sales", "C3", "callback").strip() == "ana"

    # C1 and C3 reached sql with their opportunities and were assigned then; C2's first-contact
    # task followed the lead from ana to ben
    tasks = json.loads(ok(run_cli, "operational", "tasks", "--format", "json"))
    assert [(t["customer"], t["kind"], t["assignee"]) for t in tasks] == [
        ("C1", "first_contact", "ana"), ("C3", "first_contact", "ben"),
        ("C2", "first_contact", "ben")]
    assert [t["customer"] for t in json.loads(
        ok(run_cli, "operational", "tasks", "--assignee", "ana", "--format", "json"))] == ["C1"]
    assert ok(run_cli, "operational", "tasks", "--overdue", "--format", "json").strip() == "[]"
    overdue = ok(run_cli, "operational", "tasks", "--overdue", "--as-of", "2100-01-01", "--format",
                 "csv")
    assert overdue.splitlines()[0] == "id,customer,subject,kind,assignee,due_at,status"
    assert len(overdue.splitlines()) == 4
    task_id = ok(run_cli, "operational", "tasks", "add", "C1", "Send contract", "--assignee", "ben",
                 "--due", "2030-05-01T10:00:00Z").strip()
    ok(run_cli, "operational", "tasks", "done", task_id)
    code, _, err = run_cli("operational", "tasks", "done", task_id)
    assert code != 0 and f"task {task_id}: it is already done" in err

    case_id = ok(run_cli, "operational", "cases", "open", "C1", "Cannot log in", "--priority",
                 "high").strip()
    code, _, err = run_cli("operational", "cases", "move", case_id, "resolved")
    assert code != 0 and "cannot move from 'open' to 'resolved' (allowed: in_progress)" in err
    ok(run_cli, "operational", "cases", "move", case_id, "in_progress")
    [case] = json.loads(ok(run_cli, "operational", "cases", "--format", "json"))
    assert (case["status"], case["priority"], case["assignee"]) == ("in_progress", "high", "dee")

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"automation": {"rules": [
        {"name": "welcome", "on": "customer.created", "do": [{"queue_message": {
            "body": "Welcome", "channel": "email"}}]}]}}))
    ok(run_cli, "plugins", "config", "operational", "--file", str(rules))
    [rule] = json.loads(ok(run_cli, "operational", "rules", "--format", "json"))
    assert (rule["name"], rule["on"], rule["do"]) == ("welcome", "customer.created",
                                                      ["queue_message"])
    ok(run_cli, "customers", "add", "C4")
    [firing] = json.loads(ok(run_cli, "operational", "rules", "firings", "--format", "json"))
    assert (firing["rule"], firing["customer"], firing["status"]) == ("welcome", "C4", "fired")
    assert firing["outcome"] == "queue_message: refused: no address for channel 'email'"

    scores = json.loads(ok(run_cli, "operational", "scores", "--format", "json"))
    assert {s["customer"] for s in scores} == {"C1", "C2", "C3", "C4"}
    assert ok(run_cli, "operational", "rescore").strip() == "scored 4 leads, 0 promoted to mql"
    first = json.loads(ok(run_cli, "operational", "sweep", "--as-of", "2100-01-01", "--format", "json"))
    assert {r["what"]: r["count"] for r in first}["sla_breaches"] == 1
    second = json.loads(ok(run_cli, "operational", "sweep", "--as-of", "2100-01-01", "--format",
                           "json"))
    assert {r["count"] for r in second} == {0}
