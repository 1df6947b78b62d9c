"""``crmkit collaborative …``: queue, route dry-run, hand-off, history, load, contact."""

from __future__ import annotations

import csv
import io
import json


def prepare(run_cli):
    assert run_cli("init")[0] == 0
    assert run_cli("plugins", "enable", "collaborative")[0] == 0
    for handle, team in (("dee", "support"), ("ivy", "billing")):
        assert run_cli("staff", "add", handle, "--name", handle.title(), "--team", team)[0] == 0
    assert run_cli("customers", "add", "C1", "--name", "Ada", "--preferred-channel", "email",
                   "--tag", "vip")[0] == 0
    assert run_cli("customers", "add", "C2", "--name", "Bob", "--preferred-channel", "sms")[0] == 0


def test_queue_dry_run_handoff_history(run_cli, cli_on_test_clock):
    prepare(run_cli)
    code, out, _ = run_cli("collaborative", "route-dry-run", "--customer", "C1", "--kind",
                           "message", "--format", "json")
    assert code == 0 and json.loads(out) == {"team": "sales", "rule": "vip customers",
                                             "routed": True}
    code, out, _ = run_cli("collaborative", "route-dry-run", "--customer", "C2", "--kind",
                           "purchase", "--format", "json")
    assert json.loads(out) == {"team": "support", "rule": "fallback", "routed": False}
    assert run_cli("interactions", "record", "C2", "--kind", "complaint", "--channel", "email")[0] == 0
    code, out, _ = run_cli("collaborative", "queue", "support", "--format", "json")
    [item] = json.loads(out)
    assert (item["external_id"], item["rule"], item["state"]) == ("C2", "complaints", "queued")
    code, out, _ = run_cli("collaborative", "route-dry-run", "--interaction", "1", "--format", "json")
    assert json.loads(out) == {"team": "support", "rule": "complaints", "routed": True}
    code, _, err = run_cli("collaborative", "handoff", str(item["id"]), "billing", "--note", " ")
    assert code != 0 and err.startswith("error: hand-off of work item 1: note: required")
    assert err.count("\n") == 1
    assert run_cli("collaborative", "handoff", str(item["id"]), "billing", "--note",
                   "double charge")[0] == 0
    code, out, _ = run_cli("collaborative", "history", str(item["id"]), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["action"], r["from_team"], r["team"], r["note"]) for r in rows] == [
        ("routed", "", "support", ""), ("handed_off", "support", "billing", "double charge")]
    code, out, _ = run_cli("collaborative", "load", "--format", "json")
    assert json.loads(out) == [{"team": "billing", "queued": 1, "assigned": 0, "in_progress": 0,
                                "awaiting_ack": 1, "overdue_ack": 0}]
    code, out, _ = run_cli("collaborative", "load", "--as-of", "2100-01-01", "--format", "json")
    assert json.loads(out)[0]["overdue_ack"] == 1
    assert run_cli("collaborative", "ack", str(item["id"]))[0] == 0
    assert run_cli("collaborative", "assign", str(item["id"]), "ivy")[0] == 0
    assert run_cli("collaborative", "start", str(item["id"]))[0] == 0
    code, out, _ = run_cli("collaborative", "done", str(item["id"]), "--format", "json")
    assert json.loads(out)["state"] == "done"


def test_contact_command_refuses_then_records_override(run_cli, crm_url):
    prepare(run_cli)
    code, _, err = run_cli("collaborative", "contact", "C1", "--subject", "Hi", "--channel", "sms")
    assert code != 0 and "'sms' is not the customer's preferred channel ('email')" in err
    code, _, err = run_cli("collaborative", "contact", "C1", "--subject", "Hi", "--channel", "sms",
                           "--override-reason", "email bounced")
    assert code != 0 and err.startswith("error: ") and "sms" in err  # no consent yet
    from crmkit import CRM

    with CRM.open(crm_url) as crm:
        crm.customers.set_consent("C1", "sms", True, "phone call")
    code, out, _ = run_cli("collaborative", "contact", "C1", "--subject", "Hi", "--channel", "sms",
                           "--override-reason", "email bounced", "--format", "json")
    assert code == 0
    sent = json.loads(out)
    assert (sent["channel"], sent["preferred_channel"], sent["override_reason"]) == (
        "sms", "email", "email bounced")
