"""loyalty's routes: member, statement, redeem, adjust, rewards, tiers, liability; permissions.

In-process (``api_client``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
A plain program: 1 point per currency unit, no tiers, no milestones, points never expire.
An agent reads and manages the catalogue; redeeming and adjusting need their own permissions
(the manager has them).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from crmkit.devtools.testing import api_client, api_pages
from crmkit_loyalty.tables import ledger
from web_support import problem

API = "/api/v1/loyalty"
PLAIN = {"tiers": [], "milestones": [], "expiry_mode": "none"}
UTC = dt.timezone.utc


@pytest.fixture
def shop(crm):
    """Loyalty enabled; C1 bought for 100 on 2024-12-01; a MUG costs 30 points (2 in stock)."""
    crm.plugins.enable("loyalty", PLAIN)
    crm.customers.add("C1", name="Cleo")
    crm.customers.add("C2", name="Dan")
    crm.interactions.record("C1", dt.datetime(2024, 12, 1, tzinfo=UTC), kind="purchase",
                            amount="100")
    crm.plugin("loyalty").add_reward("MUG", 30, stock=2, name="A mug")
    return crm


@pytest.fixture
def agent(shop):
    with api_client(shop, role="agent") as client:
        yield client


@pytest.fixture
def manager(shop):
    with api_client(shop, role="manager") as client:
        yield client


def ledger_rows(crm) -> int:
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(ledger)).scalar_one()


def test_member_and_statement(agent):
    member = agent.get(f"{API}/members/C1")
    assert member.status_code == 200, member.text
    assert {k: member.json()[k] for k in ("external_id", "tier", "purchases", "balance",
                                          "available", "locked", "owed")} == {
        "external_id": "C1", "tier": None, "purchases": 1, "balance": 100, "available": 100,
        "locked": 0, "owed": 0}
    assert member.json()["joined_at"] == "2024-12-01T00:00:00+00:00"
    lines = agent.get(f"{API}/members/C1/statement").json()
    assert [(line["type"], line["points"], line["balance"]) for line in lines["items"]] == [
        ("earn", 100, 100)]
    assert lines["next_cursor"] is None
    # as of the day before the purchase, nothing was earned yet
    assert agent.get(f"{API}/members/C1/statement", params={"as_of": "2024-11-30"}).json() == {
        "items": [], "next_cursor": None}
    problem(agent.get(f"{API}/members/C2"), 404)  # never bought: not a member
    problem(agent.get(f"{API}/members/C1/statement", params={"as_of": "soon"}), 422)


def test_a_long_statement_comes_a_page_at_a_time_with_its_running_balance(agent, shop):
    """Each page carries on the running balance of the pages before it; a line written
    meanwhile comes at the end and shifts no page."""
    shop.interactions.record_many([
        {"customer": "C1", "occurred_at": dt.datetime(2024, 12, day, tzinfo=UTC),
         "kind": "purchase", "amount": str(day)} for day in range(2, 9)])
    whole = shop.plugin("loyalty").statement("C1")
    pages = api_pages(agent, f"{API}/members/C1/statement", {"limit": 3})
    shop.plugin("loyalty").adjust("C1", -5, "meanwhile")
    cursor = agent.get(f"{API}/members/C1/statement", params={"limit": 6}).json()["next_cursor"]
    rest = agent.get(f"{API}/members/C1/statement", params={"limit": 6, "cursor": cursor}).json()
    assert [len(page) for page in pages] == [3, 3, 2]
    assert [(line["id"], line["points"], line["balance"]) for page in pages for line in page] == [
        (line.id, line.points, line.balance) for line in whole]
    assert [line.balance for line in whole] == [100, 102, 105, 109, 114, 120, 127, 135]
    assert [(line["type"], line["balance"]) for line in rest["items"]] == [
        ("earn", 127), ("earn", 135), ("adjust", 130)]
    assert rest["next_cursor"] is None
    problem(agent.get(f"{API}/members/C1/statement", params={"cursor": "ImFiYyI"}), 422)  # a text


def test_redeeming_needs_its_own_permission(agent, manager, shop):
    refused = problem(agent.post(f"{API}/members/C1/redeem", json={"reward": "MUG"}), 403)
    assert "loyalty.redeem" in refused["detail"]
    assert ledger_rows(shop) == 1
    answer = manager.post(f"{API}/members/C1/redeem", json={"reward": "MUG"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["member"]["balance"] == 70
    assert answer.json()["member"]["available"] == 70
    lines = agent.get(f"{API}/members/C1/statement").json()["items"]
    assert [(line["id"], line["type"], line["points"], line["balance"]) for line in lines][-1] == (
        answer.json()["ledger_id"], "spend", -30, 70)
    assert [r["stock"] for r in agent.get(f"{API}/rewards").json()] == [1]


def test_a_bad_redemption_is_one_problem_and_writes_nothing(manager, shop):
    bad = problem(manager.post(f"{API}/members/C1/redeem", json={"reward": 5}), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/reward"]
    bad = problem(manager.post(f"{API}/members/C1/redeem", json={"code": "MUG"}), 422)
    assert sorted(e["pointer"] for e in bad["errors"]) == ["", "/code"]
    manager.post(f"{API}/members/C1/adjust", json={"points": -80, "reason": "correction"})
    short = problem(manager.post(f"{API}/members/C1/redeem", json={"reward": "MUG"}), 422)
    assert "has 20 points available; reward 'MUG' costs 30" in short["detail"]
    problem(manager.post(f"{API}/members/C1/redeem", json={"reward": "NOPE"}), 404)
    assert ledger_rows(shop) == 2  # the purchase and the adjustment
    assert [r["stock"] for r in manager.get(f"{API}/rewards").json()] == [2]


def test_adjusting_points_by_hand(agent, manager, shop):
    problem(agent.post(f"{API}/members/C1/adjust", json={"points": 10, "reason": "x"}), 403)
    answer = manager.post(f"{API}/members/C1/adjust", json={"points": 15, "reason": "goodwill"})
    assert answer.status_code == 201, answer.text
    assert answer.json()["member"]["balance"] == 115
    bad = problem(manager.post(f"{API}/members/C1/adjust", json={"points": 0, "reason": "x"}),
                  422)
    assert "must be a non-zero whole number" in bad["detail"]
    bad = problem(manager.post(f"{API}/members/C1/adjust", json={"points": 1.5, "reason": "x"}),
                  422)
    assert [e["pointer"] for e in bad["errors"]] == ["/points"]
    assert ledger_rows(shop) == 2


def test_rewards_catalogue(agent):
    added = agent.post(f"{API}/rewards", json={"code": "COFFEE", "points": 10})
    assert added.status_code == 201, added.text
    assert added.json() == {"code": "COFFEE", "name": "COFFEE", "points": 10, "stock": None,
                            "active": True}
    assert [r["code"] for r in agent.get(f"{API}/rewards").json()] == ["COFFEE", "MUG"]
    assert problem(agent.post(f"{API}/rewards", json={"code": "MUG", "points": 5}),
                   409)["detail"].startswith("reward 'MUG' already exists")


def test_tiers_and_liability(agent, shop):
    assert agent.get(f"{API}/tiers").json() == []
    cost = shop.plugin("loyalty").settings.cost_per_point
    assert agent.get(f"{API}/liability").json() == [
        {"tier": None, "members": 1, "points": 100, "liability": str(100 * cost)}]


def test_a_viewer_reads_but_may_not_add_rewards(shop):
    with api_client(shop, role="viewer") as viewer:
        assert viewer.get(f"{API}/members/C1").json()["balance"] == 100
        problem(viewer.post(f"{API}/rewards", json={"code": "X", "points": 1}), 403)
    assert [r.code for r in shop.plugin("loyalty").rewards()] == ["MUG"]
