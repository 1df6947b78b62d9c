"""catalogue's routes: products (list, one, import), profit, association rules, offers;
permissions.

In-process (``api_client``) on SQLite and PostgreSQL, at the test clock (2025-01-01 12:00 UTC).
Four products; five orders in December 2024 (no cost to serve: no events):
A {BREAD-S, TEA} 15 (margin 10), B {2 BREAD-S, TEA} 25 (16), C {BREAD-S, 2 TEA} 20 (14) and
{BREAD-S} 10 (6), D {COFFEE, TEA} 13 (7).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from crmkit.devtools.testing import api_client, api_pages
from crmkit.tables import audit_log
from web_support import problem

API = "/api/v1/catalogue"
UTC = dt.timezone.utc
PRODUCTS = [
    {"sku": "BREAD-S", "name": "Small loaf", "category": "food/bread", "list_price": "10",
     "unit_cost": "4"},
    {"sku": "BREAD-L", "name": "Large loaf", "category": "food/bread", "list_price": "20",
     "unit_cost": "12"},
    {"sku": "TEA", "name": "Tea", "category": "drinks", "list_price": "5", "unit_cost": "1"},
    {"sku": "COFFEE", "name": "Coffee", "category": "drinks", "list_price": "8",
     "unit_cost": "5"},
]
RULES = {"rules": {"min_support": 0.2, "min_confidence": 0.2, "min_lift": 0}}


def order(customer: str, day: int, *lines: tuple[str, int, int]) -> dict:
    """A purchase on 2024-12-DAY of ``(sku, qty, unit_price)`` lines, its amount their sum."""
    return {"customer": customer, "kind": "purchase",
            "occurred_at": dt.datetime(2024, 12, day, 12, tzinfo=UTC),
            "amount": Decimal(sum(qty * price for _, qty, price in lines)),
            "payload": {"items": [{"sku": sku, "qty": qty, "unit_price": str(price)}
                                  for sku, qty, price in lines]}}


@pytest.fixture
def shop(crm):
    crm.plugins.enable("catalogue", RULES)
    crm.customers.add_many([{"external_id": x, "name": x} for x in "ABCD"])
    crm.plugin("catalogue").add_products(PRODUCTS)
    crm.interactions.record_many([
        order("A", 1, ("BREAD-S", 1, 10), ("TEA", 1, 5)),
        order("B", 2, ("BREAD-S", 2, 10), ("TEA", 1, 5)),
        order("C", 3, ("BREAD-S", 1, 10), ("TEA", 2, 5)),
        order("C", 4, ("BREAD-S", 1, 10)),
        order("D", 5, ("COFFEE", 1, 8), ("TEA", 1, 5))])
    return crm


@pytest.fixture
def viewer(shop):
    with api_client(shop, role="viewer") as client:
        yield client


@pytest.fixture
def agent(shop):
    with api_client(shop, role="agent") as client:
        yield client


def skus(crm) -> list[str]:
    return [p.sku for p in crm.plugin("catalogue").products()]


def product_imports(crm) -> list[tuple]:
    """``(actor, command, changes)`` of every audited product import."""
    with crm.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(audit_log.c.actor, audit_log.c.command, audit_log.c.changes)
            .where(audit_log.c.table_name == "catalogue_products").order_by(audit_log.c.id))]


def test_products_list_and_one(viewer, shop):
    shop.plugin("catalogue").add_products([
        {"sku": "CAKE", "name": "Cake", "category": "food/cake", "list_price": "6",
         "unit_cost": "2", "active_from": "2024-01-01", "active_to": "2024-07-01"}])
    answer = viewer.get(f"{API}/products/CAKE")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sku": "CAKE", "name": "Cake", "category": "food/cake",
                             "list_price": "6.0000", "unit_cost": "2.0000",
                             "active_from": "2024-01-01T00:00:00+00:00",
                             "active_to": "2024-07-01T00:00:00+00:00"}
    listed = viewer.get(f"{API}/products")
    assert [p["sku"] for p in listed.json()["items"]] == [
        "BREAD-L", "BREAD-S", "CAKE", "COFFEE", "TEA"]
    assert [[p["sku"] for p in page] for page in api_pages(viewer, f"{API}/products",
                                                           {"limit": 2})] == [
        ["BREAD-L", "BREAD-S"], ["CAKE", "COFFEE"], ["TEA"]]
    food = api_pages(viewer, f"{API}/products", {"category": "food", "limit": 2})
    assert [[p["sku"] for p in page] for page in food] == [["BREAD-L", "BREAD-S"], ["CAKE"]]
    # on sale now (2025-01-01): not the cake; on 2024-06-30 it was
    active = viewer.get(f"{API}/products", params={"category": "food", "active": "true"})
    assert [p["sku"] for p in active.json()["items"]] == ["BREAD-L", "BREAD-S"]
    then = viewer.get(f"{API}/products", params={"category": "food", "active": "true",
                                                 "as_of": "2024-06-30"})
    assert [p["sku"] for p in then.json()["items"]] == ["BREAD-L", "BREAD-S", "CAKE"]
    assert "product 'NOPE' not found" in problem(viewer.get(f"{API}/products/NOPE"),
                                                 404)["detail"]
    bad = problem(viewer.get(f"{API}/products", params={"category": "food//x"}), 422)
    assert "every part of the path must be non-empty" in bad["detail"]
    problem(viewer.get(f"{API}/products", params={"cursor": "MTI"}), 422)  # 12: not a SKU
    bad = problem(viewer.get(f"{API}/products", params={"active": "maybe"}), 422)
    assert bad["errors"] == [{"parameter": "active",
                              "detail": "'maybe' is not a boolean (true or false)"}]


def test_importing_products(agent, shop):
    answer = agent.post(f"{API}/products", json=[
        {"sku": "CAKE", "name": "Cake", "category": "food/cake", "list_price": "6",
         "unit_cost": 2},
        PRODUCTS[2],                               # the same values: unchanged
        dict(PRODUCTS[3], list_price="9.50")])     # a new price: updated
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"read": 3, "created": 1, "updated": 1, "unchanged": 1}
    assert agent.get(f"{API}/products/COFFEE").json()["list_price"] == "9.5000"
    assert agent.get(f"{API}/products/CAKE").json()["unit_cost"] == "2.0000"
    assert product_imports(shop)[-1] == ("agent", "api POST /api/v1/catalogue/products", {
        "read": 3, "created": 1, "updated": 1, "unchanged": 1, "rejected": 0})


def test_a_bad_import_is_one_problem_with_pointers_and_writes_nothing(agent, shop):
    before = [agent.get(f"{API}/products/{p['sku']}").json() for p in PRODUCTS]
    bad = problem(agent.post(f"{API}/products", json=[
        {"sku": "CAKE", "name": "Cake", "category": "food/cake", "list_price": "6",
         "unit_cost": "2"},
        dict(PRODUCTS[2], list_price="7"),
        dict(PRODUCTS[3], unit_cost="-3")]), 422)
    assert bad["detail"].startswith("rows: 1 bad row(s), nothing written")
    assert bad["errors"] == [{"pointer": "/2/unit_cost", "detail": "-3: must be ≥ 0"}]
    # the rules of the file import: an unknown field, a float as money, a missing field
    bad = problem(agent.post(f"{API}/products", json=[
        dict(PRODUCTS[0], colour="brown"), dict(PRODUCTS[1], list_price=20.5),
        {"sku": "X", "name": "X", "category": "x", "list_price": "1"}]), 422)
    assert [(e["pointer"], e["detail"].split(" (")[0]) for e in bad["errors"]] == [
        ("/0/colour", "unknown field"),
        ("/1/list_price", "expected a Decimal, int or numeric text, got float"),
        ("/2/unit_cost", "required")]
    # the shape: a list of 1 to 1000 objects
    bad = problem(agent.post(f"{API}/products", json=PRODUCTS[0]), 422)
    assert [e["pointer"] for e in bad["errors"]] == [""]
    bad = problem(agent.post(f"{API}/products", json=[PRODUCTS[0], "TEA"]), 422)
    assert [e["pointer"] for e in bad["errors"]] == ["/1"]
    problem(agent.post(f"{API}/products", json=[]), 422)
    assert skus(shop) == ["BREAD-L", "BREAD-S", "COFFEE", "TEA"]
    assert [agent.get(f"{API}/products/{p['sku']}").json() for p in PRODUCTS] == before
    assert [actor for actor, _, _ in product_imports(shop)] == ["system"]  # the fixture's


def test_importing_needs_catalogue_write(viewer, shop):
    refused = problem(viewer.post(f"{API}/products", json=[
        {"sku": "CAKE", "name": "Cake", "category": "food", "list_price": "6",
         "unit_cost": "2"}]), 403)
    assert "catalogue.write" in refused["detail"]
    assert skus(shop) == ["BREAD-L", "BREAD-S", "COFFEE", "TEA"]


def test_profit_per_customer_and_period(viewer):
    answer = viewer.get(f"{API}/profit")
    assert answer.status_code == 200, answer.text
    assert answer.json()["note"].startswith("acquisition cost 0: no enabled plugin records")
    assert [(x["customer"], x["revenue"], x["cost_of_goods"], x["gross_margin"],
             x["cost_to_serve"], x["profit"]) for x in answer.json()["items"]] == [
        ("C", "30.0000", "10.0000", "20.0000", "0.0000", "20.0000"),
        ("B", "25.0000", "9.0000", "16.0000", "0.0000", "16.0000"),
        ("A", "15.0000", "5.0000", "10.0000", "0.0000", "10.0000"),
        ("D", "13.0000", "6.0000", "7.0000", "0.0000", "7.0000")]
    months = viewer.get(f"{API}/profit", params={"by": "period"}).json()["items"]
    assert [(x["period"], x["customers"], x["revenue"], x["profit"]) for x in months] == [
        ("2024-12", 4, "83.0000", "53.0000")]
    # up to Dec 3 noon: A, B and C's first order
    early = viewer.get(f"{API}/profit", params={"as_of": "2024-12-03T12:00:00Z"}).json()
    assert [(x["customer"], x["profit"]) for x in early["items"]] == [
        ("B", "16.0000"), ("C", "14.0000"), ("A", "10.0000")]
    since = viewer.get(f"{API}/profit", params={"since": "2024-12-03T12:00:00Z"}).json()
    assert [(x["customer"], x["profit"]) for x in since["items"]] == [
        ("D", "7.0000"), ("C", "6.0000")]
    bad = problem(viewer.get(f"{API}/profit", params={"by": "region"}), 422)
    assert [e["parameter"] for e in bad["errors"]] == ["by"]
    bad = problem(viewer.get(f"{API}/profit", params={"by": "segment"}), 422)
    assert "profit by segment needs the analytical plugin" in bad["detail"]


def test_association_rules_with_thresholds(viewer):
    """BREAD-S → TEA: support 3/5, confidence 3/4, lift 0.75 / (4/5) = 0.9375; COFFEE → TEA:
    support 1/5, confidence 1, lift 1.25; TEA → COFFEE: confidence 1/4, lift 1.25."""
    answer = viewer.get(f"{API}/rules")
    assert answer.status_code == 200, answer.text
    assert [(r["antecedents"], r["consequents"], round(r["support"], 12),
             round(r["confidence"], 12), round(r["lift"], 12)) for r in answer.json()] == [
        (["COFFEE"], ["TEA"], 0.2, 1.0, 1.25), (["TEA"], ["COFFEE"], 0.2, 0.25, 1.25),
        (["BREAD-S"], ["TEA"], 0.6, 0.75, 0.9375), (["TEA"], ["BREAD-S"], 0.6, 0.75, 0.9375)]
    lifted = viewer.get(f"{API}/rules", params={"min_lift": "1", "min_confidence": "0.5"})
    assert [(r["antecedents"], r["consequents"]) for r in lifted.json()] == [
        (["COFFEE"], ["TEA"])]
    assert viewer.get(f"{API}/rules", params={"min_support": "0.7"}).json() == []
    assert viewer.get(f"{API}/rules", params={"as_of": "2024-11-30"}).json() == []
    bad = problem(viewer.get(f"{API}/rules", params={"min_support": "0"}), 422)
    assert [e["parameter"] for e in bad["errors"]] == ["min_support"]
    bad = problem(viewer.get(f"{API}/rules", params={"max_itemset": "5"}), 422)
    assert [e["parameter"] for e in bad["errors"]] == ["max_itemset"]
    bad = problem(viewer.get(f"{API}/rules", params={"support": "0.5"}), 422)
    assert [e["parameter"] for e in bad["errors"]] == ["support"]


def test_next_best_offers(viewer):
    """A bought BREAD-S and TEA: COFFEE = TEA → COFFEE 0.25 + 0.5 × 0.5 (drinks are half of A's
    quantity), an up-sell of TEA; BREAD-L = 0.5 × 0.5, an up-sell of BREAD-S.  D bought COFFEE
    and TEA: BREAD-S via TEA → BREAD-S 0.75, a cross-sell."""
    answer = viewer.get(f"{API}/customers/A/offers")
    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {"customer": "A", "rank": 1, "sku": "COFFEE", "kind": "up", "score": 0.5},
        {"customer": "A", "rank": 2, "sku": "BREAD-L", "kind": "up", "score": 0.25}]
    every = viewer.get(f"{API}/offers").json()["items"]
    assert sorted({o["customer"] for o in every}) == ["A", "B", "C", "D"]
    assert [o for o in every if o["customer"] in ("A", "D")] == [
        *answer.json(), {"customer": "D", "rank": 1, "sku": "BREAD-S", "kind": "cross",
                         "score": 0.75}]
    # before any purchase nobody has offers
    assert viewer.get(f"{API}/offers", params={"as_of": "2024-11-30"}).json() == {
        "items": [], "next_cursor": None}
    problem(viewer.get(f"{API}/customers/NOPE/offers"), 404)
    bad = problem(viewer.get(f"{API}/offers", params={"as_of": "soon"}), 422)
    assert bad["detail"].startswith("as_of: 'soon'"), bad
