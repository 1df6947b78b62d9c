"""analytical's routes: RFM, CLV predictions, Pareto, KPIs, satisfaction, lifecycle, segments.

In-process (``api_client``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
Three customers: A bought 100 and 50, B 300, C 50 (all in 2024).
"""

from __future__ import annotations

import datetime as dt
import random

import pytest

from crmkit.devtools.testing import api_client, api_pages
from web_support import every_page, problem

API = "/api/v1/analytical"
UTC = dt.timezone.utc


def at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2024, month, day, 10, tzinfo=UTC)


@pytest.fixture
def shop(crm):
    crm.plugins.enable("analytical")
    crm.customers.add_many([{"external_id": x, "name": x} for x in "ABC"])
    crm.interactions.record_many([
        {"customer": "A", "kind": "purchase", "occurred_at": at(6, 1), "amount": "100"},
        {"customer": "A", "kind": "purchase", "occurred_at": at(12, 1), "amount": "50"},
        {"customer": "B", "kind": "purchase", "occurred_at": at(11, 2), "amount": "300"},
        {"customer": "C", "kind": "purchase", "occurred_at": at(3, 1), "amount": "50"}])
    return crm


@pytest.fixture
def viewer(shop):
    with api_client(shop, role="viewer") as client:
        yield client


@pytest.fixture
def agent(shop):
    with api_client(shop, role="agent") as client:
        yield client


def test_rfm(viewer, shop):
    answer = viewer.get(f"{API}/rfm")
    assert answer.status_code == 200, answer.text
    assert answer.json()["next_cursor"] is None
    rows = {r["customer"]: r for r in answer.json()["items"]}
    # 2025-01-01 12:00 less the last purchase at 10:00: 31, 60 and 306 whole days
    assert {k: (r["recency_days"], r["frequency"], r["monetary"]) for k, r in rows.items()} == {
        "A": (31, 2, "150.0000"), "B": (60, 1, "300.0000"), "C": (306, 1, "50.0000")}
    expected = {s.external_id: (s.r, s.f, s.m, s.segment) for s in shop.plugin("analytical").rfm()}
    assert {k: (r["r"], r["f"], r["m"], r["segment"]) for k, r in rows.items()} == expected
    segments = viewer.get(f"{API}/rfm/segments").json()
    assert sum(segments.values()) == 3
    assert segments == shop.plugin("analytical").rfm_segments()
    # as of the end of June only A (one purchase) and C had bought
    early = viewer.get(f"{API}/rfm", params={"as_of": "2024-06-30"}).json()["items"]
    assert sorted((r["customer"], r["frequency"]) for r in early) == [("A", 1), ("C", 1)]


def test_rfm_is_answered_a_page_at_a_time_from_one_report(viewer, shop, clock):
    first = viewer.get(f"{API}/rfm", params={"limit": 2}).json()
    assert [r["customer"] for r in first["items"]] == ["A", "B"]
    # written after the first page, a day later: the next page is still the first's report
    clock.advance(days=1)
    shop.customers.add("D")
    shop.interactions.record_many([
        {"customer": c, "kind": "purchase", "occurred_at": clock.now(), "amount": "10"}
        for c in "CD"])
    rest = viewer.get(f"{API}/rfm", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [(r["customer"], r["recency_days"], r["frequency"]) for r in rest["items"]] == [
        ("C", 306, 1)]
    assert rest["next_cursor"] is None
    now = [r["customer"] for r in viewer.get(f"{API}/rfm").json()["items"]]
    assert now == ["A", "B", "C", "D"]  # a new listing is a new report
    same = viewer.get(f"{API}/rfm", params={"cursor": first["next_cursor"],
                                              "as_of": "2025-01-01T12:00:00Z"})
    assert [r["customer"] for r in same.json()["items"]] == ["C"]
    other = problem(viewer.get(f"{API}/rfm", params={"cursor": first["next_cursor"],
                                                     "as_of": "2025-01-02"}), 422)
    assert "is not the as_of of the cursor's report" in other["detail"]
    for cursor in ("x", "MTI", first["next_cursor"][:-2]):  # not one, a core listing's, cut
        assert "not a cursor this API handed out" in problem(
            viewer.get(f"{API}/rfm", params={"cursor": cursor}), 422)["detail"]
    for limit in (0, 1001):
        problem(viewer.get(f"{API}/rfm", params={"limit": limit}), 422)


def test_pareto_lifecycle_kpis_and_satisfaction(viewer):
    pareto = viewer.get(f"{API}/pareto").json()
    assert (pareto["customers"], pareto["revenue"], pareto["top_customers"]) == (3, "500.00", 1)
    # B alone brings 300 of 500; B and A reach the 80 % revenue target
    assert (pareto["top_revenue_share"], pareto["customers_for_target"]) == (60.0, 2)
    since = viewer.get(f"{API}/pareto", params={"since": "2024-11-01"}).json()
    assert (since["customers"], since["revenue"]) == (2, "350.00")
    assert sum(viewer.get(f"{API}/lifecycle").json().values()) == 3
    assert viewer.get(f"{API}/kpis").json() == []
    nps = viewer.get(f"{API}/satisfaction").json()["nps"]
    assert (nps["metric"], nps["value"], nps["responses"]) == ("nps", None, 0)
    problem(viewer.get(f"{API}/satisfaction", params={"days": 0}), 422)
    problem(viewer.get(f"{API}/satisfaction", params={"days": 10 ** 15}), 422)  # a century at most


@pytest.fixture
def buyers(crm):
    """80 customers with one to six purchases each in 2024."""
    crm.plugins.enable("analytical", {"clv": {"penalizer_coef": 0.01}})
    rng = random.Random(21)
    customers = [f"K{n:03d}" for n in range(80)]
    crm.customers.add_many([{"external_id": x} for x in customers])
    rows = []
    for x in customers:
        for _ in range(rng.choice([1, 1, 2, 3, 4, 6])):
            rows.append({"customer": x, "kind": "purchase",
                         "occurred_at": at(1, 1) + dt.timedelta(days=rng.randint(0, 360)),
                         "amount": str(rng.randint(10, 200))})
    crm.interactions.record_many(rows)
    return crm


def test_clv_predictions_are_the_models_and_store_nothing(buyers):
    crm = buyers
    api = crm.plugin("analytical")
    with api_client(crm, role="viewer") as viewer:
        answer = every_page(viewer, f"{API}/clv/predictions",
                            {"time_unit": "day", "months": 6, "limit": 30})
        problem(viewer.get(f"{API}/clv/predictions", params={"time_unit": "year"}), 422)
    expected = {p.external_id: p for p in api.clv_predictions(time_unit="day", months=6)}
    got = {r["customer"]: r for r in answer}
    assert len(answer) == len(got) and set(got) == set(expected)
    for external_id, p in expected.items():
        assert (got[external_id]["frequency"], got[external_id]["clv"],
                got[external_id]["expected_spend"]) == (p.frequency, str(p.clv),
                                                        str(p.expected_spend))
    assert api.last_clv_run() is None


def test_the_pages_of_clv_predictions_fit_the_models_once(buyers, monkeypatch):
    """Every page of one report is cut from one fit; a purchase recorded meanwhile (dated
    before the report's as_of) makes the next page fit again, on the new data."""
    from crmkit_analytical import clv

    fitted = []
    fit = clv.fit
    monkeypatch.setattr(clv, "fit", lambda data, *rest: fitted.append(len(data)) or fit(data,
                                                                                       *rest))
    with api_client(buyers, role="viewer") as viewer:
        pages = list(api_pages(viewer, f"{API}/clv/predictions", {"limit": 30}))
        assert [len(page) for page in pages] == [30, 30, 20] and fitted == [80]
        buyers.customers.add("NEW")
        buyers.interactions.record("NEW", at(12, 30), amount="75")
        again = [row["customer"] for page in api_pages(viewer, f"{API}/clv/predictions",
                                                       {"limit": 30}) for row in page]
    assert fitted == [80, 81] and "NEW" in again and len(again) == 81


def test_segments_save_show_and_remove(agent, viewer, shop):
    condition = {"field": "rfm.frequency", "op": "ge", "value": 2}
    saved = agent.post(f"{API}/segments", json={"name": "repeat", "condition": condition,
                                                 "description": "bought twice"})
    assert saved.status_code == 201, saved.text
    assert saved.json() == {"name": "repeat", "condition": condition,
                            "description": "bought twice",
                            "updated_at": "2025-01-01T12:00:00+00:00"}
    assert viewer.get(f"{API}/segments/repeat").json()["members"] == ["A"]
    agent.post(f"{API}/segments", json={"name": "buyers", "condition": {
        "field": "rfm.frequency", "op": "ge", "value": 1}})
    first = viewer.get(f"{API}/segments/buyers", params={"limit": 2}).json()
    rest = viewer.get(f"{API}/segments/buyers", params={"cursor": first["next_cursor"]}).json()
    assert (first["members"], rest["members"], rest["next_cursor"]) == (["A", "B"], ["C"], None)
    assert viewer.get(f"{API}/segments/repeat", params={"as_of": "2024-07-01"}).json()[
        "members"] == []
    assert [s["name"] for s in viewer.get(f"{API}/segments").json()] == ["buyers", "repeat"]
    problem(agent.post(f"{API}/segments", json={"name": "repeat", "condition": condition}), 409)
    problem(viewer.delete(f"{API}/segments/repeat"), 403)
    assert agent.delete(f"{API}/segments/repeat").json() == {"removed": "repeat"}
    problem(viewer.get(f"{API}/segments/repeat"), 404)


def test_a_bad_segment_is_one_problem_and_saves_nothing(agent, shop):
    bad = problem(agent.post(f"{API}/segments", json={"name": "x", "condition": []}), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/condition"]
    bad = problem(agent.post(f"{API}/segments", json={
        "name": "x", "condition": {"field": "shoe_size", "op": "eq", "value": 1}}), 422)
    assert "shoe_size" in bad["detail"]
    assert shop.plugin("analytical").segments() == []
