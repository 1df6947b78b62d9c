"""``crmkit loyalty …`` commands: output formats, --as-of, one-line refusals."""

from __future__ import annotations

import json

from loyalty_support import at


def test_loyalty_commands(crm, run_cli, cli_on_test_clock, loyalty, shop):
    api = loyalty({"expiry_mode": "none", "milestones": [],
                   "tiers": [{"name": "base", "threshold": 0},
                             {"name": "gold", "threshold": 1000, "multiplier": 2}]})
    shop.purchase("C1", "199.99", at(2024, 12, 1), [
        {"sku": "B", "category": "books", "amount": "189.99"},
        {"sku": "S", "category": "delivery", "amount": "10.00"}], "P1")

    code, out, err = run_cli("loyalty", "rewards", "add", "MUG", "--points", "100", "--stock", "1",
                             "--name", "Mug")
    assert (code, out) == (0, "added reward MUG: 100 points, stock 1\n")
    code, out, _ = run_cli("loyalty", "rewards", "list", "--format", "json")
    assert json.loads(out) == [{"code": "MUG", "name": "Mug", "points": 100, "stock": 1,
                                "active": True}]

    code, out, _ = run_cli("loyalty", "redeem", "C1", "MUG")
    assert (code, out) == (0, "redeemed MUG for C1 (ledger row 2); balance 89\n")
    code, out, err = run_cli("loyalty", "redeem", "C1", "MUG")
    assert code != 0 and out == ""
    assert err == "error: reward 'MUG' is out of stock\n"
    run_cli("loyalty", "rewards", "add", "BIG", "--points", "500")
    code, _, err = run_cli("loyalty", "redeem", "C1", "BIG")
    assert code != 0
    assert err == "error: customer 'C1' has 89 points available; reward 'BIG' costs 500\n"

    code, out, _ = run_cli("loyalty", "statement", "C1", "--format", "json")
    document = json.loads(out)
    assert document["member"]["balance"] == 89
    assert [(r["type"], r["points"], r["balance"]) for r in document["ledger"]] == [
        ("earn", 189, 189), ("spend", -100, 89)]
    code, out, _ = run_cli("loyalty", "statement", "C1", "--as-of", "2024-12-15")
    assert out.splitlines()[0].startswith("C1: tier base, balance 189, available 189")
    code, out, _ = run_cli("loyalty", "statement", "C1", "--format", "csv")
    assert out.splitlines()[0] == "id,at,type,source,points,balance,owed_change,reason,expires_at"

    code, out, _ = run_cli("loyalty", "adjust", "C1", "11", "--reason", "goodwill")
    assert out == "adjusted C1 by +11 (ledger row 3); balance 100\n"
    code, out, _ = run_cli("loyalty", "liability", "--format", "json")
    assert json.loads(out) == [
        {"tier": "base", "members": 1, "points": 100, "liability": "1.00"},
        {"tier": "TOTAL", "members": 1, "points": 100, "liability": "1.00"}]
    code, out, _ = run_cli("loyalty", "tiers", "--format", "csv")
    assert out.splitlines() == ["name,threshold,multiplier,members", "base,0,1,1", "gold,1000,2,0"]
    code, out, _ = run_cli("loyalty", "tiers", "review", "--as-of", "2026-01-01")
    assert (code, out) == (0, "customer  from  to  reason\n(none)\n")
    code, out, _ = run_cli("loyalty", "expire", "--as-of", "2030-01-01")
    assert out == "expired 0 points in 0 lots of 0 members\n"
    code, _, err = run_cli("loyalty", "statement", "NOBODY")
    assert code != 0 and err == "error: no customer 'NOBODY'\n"
    assert api.balance("C1") == 100     # the CLI ran on the test's clock


def test_expire_command_with_as_of(crm, run_cli, loyalty, shop):
    api = loyalty({"milestones": []})
    shop.purchase("C1", "120", at(2024, 3, 10))
    code, out, _ = run_cli("loyalty", "expire", "--as-of", "2025-03-10")
    assert (code, out) == (0, "expired 120 points in 1 lots of 1 members\n")
    code, out, _ = run_cli("loyalty", "expire", "--as-of", "2025-03-10")
    assert out == "expired 0 points in 0 lots of 0 members\n"
    assert api.balance("C1", at(2025, 3, 10)) == 0


def test_adjust_takes_a_negative_number_as_the_docs_show_it(crm, run_cli, loyalty):
    loyalty({"milestones": []}, customers=("C00042",))
    run_cli("loyalty", "adjust", "C00042", "80", "--reason", "welcome")
    code, out, err = run_cli("loyalty", "adjust", "C00042", "-50", "--reason", "duplicate earning")
    assert (code, err) == (0, "")
    assert out == "adjusted C00042 by -50 (ledger row 2); balance 30\n"
    code, _, err = run_cli("loyalty", "adjust", "C00042", "-5x", "--reason", "typo")
    assert code != 0 and "'-5x' is not a valid integer" in err
    statement = json.loads(run_cli("loyalty", "statement", "C00042", "--format", "json")[1])
    assert [(r["points"], r["reason"]) for r in statement["ledger"]] == [
        (80, "welcome"), (-50, "duplicate earning")]
