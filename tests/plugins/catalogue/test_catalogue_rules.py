"""Association rules agree with mlxtend (fpgrowth + association_rules) to 1e-9; offers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from catalogue_support import PRODUCTS, at, line, order
from crmkit_catalogue import rules as mining
from mlxtend import frequent_patterns


def generated_baskets(seed: int = 7, baskets: int = 10_000, products: int = 40):
    """Baskets of 1–6 products by popularity, with a few products planted to go together."""
    rng = np.random.default_rng(seed)
    popularity = rng.pareto(1.5, products) + 0.05
    popularity /= popularity.sum()
    sizes = rng.integers(1, 7, baskets)
    basket = np.repeat(np.arange(baskets), sizes)
    product = rng.choice(products, sizes.sum(), p=popularity)
    planted = rng.random(baskets) < 0.15  # 0 and 1 together, often with 2
    extra_b = np.concatenate([np.flatnonzero(planted)] * 2 + [np.flatnonzero(planted)[::2]])
    extra_p = np.concatenate([np.zeros(planted.sum(), int), np.ones(planted.sum(), int),
                              np.full(len(np.flatnonzero(planted)[::2]), 2)])
    return np.concatenate([basket, extra_b]), np.concatenate([product, extra_p]), products


def mlxtend_rules(basket, product, products, min_support, min_confidence, max_len):
    onehot = np.zeros((basket.max() + 1, products), bool)
    onehot[basket, product] = True
    frame = pd.DataFrame(onehot, columns=list(range(products)))
    frequent = frequent_patterns.fpgrowth(frame, min_support=min_support, max_len=max_len)
    found = frequent_patterns.association_rules(frequent, num_itemsets=len(frame),
                                                metric="confidence",
                                                min_threshold=min_confidence)
    return {(frozenset(r.antecedents), frozenset(r.consequents)):
            (r.support, r.confidence, r.lift) for r in found.itertuples()}


def ours(basket, product, products, min_support, min_confidence, min_lift, max_len):
    x = mining.basket_matrix(basket, product, products)
    found = mining.mine(x, min_support, min_confidence, min_lift, max_len)
    return {(frozenset(a), frozenset(c)): (s, cf, lf)
            for a, c, s, cf, lf in zip(found.antecedents, found.consequents, found.support,
                                       found.confidence, found.lift)}


@pytest.mark.parametrize("min_support, min_confidence, max_len", [
    (0.01, 0.0, 3), (0.005, 0.2, 4), (0.02, 0.3, 2)])
def test_rules_equal_mlxtend_on_10000_baskets(min_support, min_confidence, max_len):
    basket, product, products = generated_baskets()
    theirs = mlxtend_rules(basket, product, products, min_support, min_confidence, max_len)
    mine = ours(basket, product, products, min_support, min_confidence, 0.0, max_len)
    assert len(theirs) > 10 and set(mine) == set(theirs)
    worst = max(abs(a - b) for key in theirs for a, b in zip(mine[key], theirs[key]))
    assert worst <= 1e-9
    lifted = ours(basket, product, products, min_support, min_confidence, 1.5, max_len)
    assert set(lifted) == {k for k, (_, _, lift) in theirs.items() if lift >= 1.5}


def test_rules_and_offers_from_stored_purchases(crm, catalogue, clock):
    """Baskets: {BREAD-S, TEA} ×3, {BREAD-S} ×1, {COFFEE, TEA} ×1 (5 orders).
    BREAD-S → TEA: support 3/5, confidence 3/4, lift 0.75 / (4/5) = 0.9375;
    TEA → BREAD-S: confidence 3/4, lift 0.75 / (4/5) = 0.9375; COFFEE → TEA: support 1/5,
    confidence 1, lift 1 / (4/5) = 1.25; TEA → COFFEE: confidence 1/4, lift 1.25."""
    api = catalogue({"rules": {"min_support": 0.2, "min_confidence": 0.2, "min_lift": 0}},
                    customers=("A", "B", "C", "D"))
    rows = [order("A", at(2025, 1, 1), line("BREAD-S", 1, 10), line("TEA", 1, 5)),
            order("B", at(2025, 1, 2), line("BREAD-S", 2, 10), line("TEA", 1, 5)),
            order("C", at(2025, 1, 3), line("BREAD-S", 1, 10), line("TEA", 2, 5)),
            order("C", at(2025, 1, 4), line("BREAD-S", 1, 10)),
            order("D", at(2025, 1, 5), line("COFFEE", 1, 8), line("TEA", 1, 5))]
    crm.interactions.record_many(rows)
    found = {(tuple(r["antecedents"]), tuple(r["consequents"])):
             (round(r["support"], 12), round(r["confidence"], 12), round(r["lift"], 12))
             for r in api.rules(at(2025, 2, 1))}
    assert found == {(("BREAD-S",), ("TEA",)): (0.6, 0.75, 0.9375),
                     (("TEA",), ("BREAD-S",)): (0.6, 0.75, 0.9375),
                     (("COFFEE",), ("TEA",)): (0.2, 1.0, 1.25),
                     (("TEA",), ("COFFEE",)): (0.2, 0.25, 1.25)}
    # A bought one BREAD-S and one TEA: COFFEE = TEA → COFFEE (0.25) + 0.5 (category_weight) ×
    # 0.5 (drinks is half A's quantity) = 0.5, an up-sell of TEA (8 > 5 in drinks); BREAD-L:
    # no rule, 0.5 × 0.5 = 0.25, an up-sell of BREAD-S.  D bought COFFEE and TEA (all
    # drinks): BREAD-S via TEA → BREAD-S 0.75, a cross-sell; BREAD-L: no rule, no bread bought.
    offers = api.offers(as_of=at(2025, 2, 1))
    assert [(o["customer"], o["rank"], o["sku"], o["kind"], o["score"]) for o in offers
            if o["customer"] in ("A", "D")] == [
        ("A", 1, "COFFEE", "up", 0.5), ("A", 2, "BREAD-L", "up", 0.25),
        ("D", 1, "BREAD-S", "cross", 0.75)]
    # an inactive product is never offered
    api.add_products([dict(PRODUCTS[1], active_to="2025-01-15")])
    assert [o["sku"] for o in api.offers("A", at(2025, 2, 1))] == ["COFFEE"]
    assert api.save_offers("spring", at(2025, 2, 1)) == 4
    assert [(o["customer"], o["sku"]) for o in api.offer_list("spring")][:1] == [("A", "COFFEE")]


def test_window_baskets_are_each_customers_items_in_the_window(crm, catalogue):
    api = catalogue({"rules": {"basket": "window", "window_days": 365, "min_support": 0.2,
                               "min_confidence": 0.2, "min_lift": 0}},
                    customers=("A", "B", "C", "D"))
    crm.interactions.record_many([
        order("A", at(2025, 1, 1), line("BREAD-S", 1, 10), line("TEA", 1, 5)),
        order("B", at(2025, 1, 2), line("BREAD-S", 2, 10), line("TEA", 1, 5)),
        order("C", at(2025, 1, 3), line("TEA", 2, 5)),
        order("C", at(2025, 1, 4), line("BREAD-S", 1, 10)),
        order("D", at(2025, 1, 5), line("COFFEE", 1, 8), line("TEA", 1, 5))])
    # four baskets: A, B and C hold {BREAD-S, TEA} (C's over two orders), D {COFFEE, TEA}:
    # BREAD-S → TEA support 3/4, confidence 1, lift 1 / (4/4) = 1
    found = {(r["antecedents"][0], r["consequents"][0]): (r["support"], r["confidence"])
             for r in api.rules(at(2025, 2, 1))}
    assert found == {("BREAD-S", "TEA"): (0.75, 1.0), ("TEA", "BREAD-S"): (0.75, 0.75),
                     ("COFFEE", "TEA"): (0.25, 1.0), ("TEA", "COFFEE"): (0.25, 0.25)}
    # a 2-day window before Jan 4 noon holds C's two orders only: one basket
    found = {(r["antecedents"][0], r["consequents"][0]): r["support"]
             for r in api.rules(at(2025, 1, 4), window_days=2)}
    assert found == {("BREAD-S", "TEA"): 1.0, ("TEA", "BREAD-S"): 1.0}


def test_an_offer_list_saved_as_an_analytical_segment(crm, catalogue, run_cli, monkeypatch):
    api = catalogue(customers=("A", "B", "C"))
    crm.interactions.record_many([order("A", at(2025, 1, 1), line("TEA", 1, 5)),
                                  order("B", at(2025, 1, 2), line("BREAD-S", 1, 10))])
    code, _, err = run_cli("catalogue", "offers", "--save", "s1", "--segment",
                           "--as-of", "2025-02-01")
    assert code != 0 and err == ("error: --segment saves an analytical segment: crmkit plugins "
                                 "enable analytical (or save the offer list without --segment)\n")
    crm.plugins.enable("analytical")
    code, out, _ = run_cli("catalogue", "offers", "--save", "s1", "--segment",
                           "--as-of", "2025-02-01")
    assert out == "saved offer list 's1': 2 customer(s); and the analytical segment 's1'\n"
    analytical = crm.plugin("analytical")
    members = crm.customers.external_ids_by_id(analytical.segment_members("s1", at(2025, 2, 1)))
    assert sorted(members.values()) == ["A", "B"]
    monkeypatch.setattr("crmkit_catalogue.api.MAX_SEGMENT_MEMBERS", 1)
    code, _, err = run_cli("catalogue", "offers", "--save", "s2", "--segment",
                           "--as-of", "2025-02-01")
    assert code != 0 and "2 customers; a segment listing its members holds at most 1" in err
    assert "s2" not in analytical.segment_names()  # refused: neither list nor segment written
    assert [o["customer"] for o in api.offer_list("s1")][:1] == ["A"]
    code, _, err = run_cli("catalogue", "offers", "--list", "s2")
    assert code != 0 and err.startswith("error: offer list 's2' not found")


def test_the_360_card_shows_profit_and_the_next_best_offers(crm, catalogue, clock):
    from crmkit.auth import Principal
    from crmkit_catalogue.card import card

    api = catalogue({"rules": {"min_support": 0.2, "min_confidence": 0.2, "min_lift": 0}},
                    customers=("A", "B", "C", "D", "E"))
    crm.interactions.record_many([
        order("A", at(2025, 1, 1), line("BREAD-S", 1, 10), line("TEA", 1, 5)),
        order("B", at(2025, 1, 2), line("BREAD-S", 2, 10), line("TEA", 1, 5)),
        order("C", at(2025, 1, 3), line("BREAD-S", 1, 10), line("TEA", 2, 5)),
        order("C", at(2025, 1, 4), line("BREAD-S", 1, 10)),
        order("D", at(2025, 1, 5), line("COFFEE", 1, 8), line("TEA", 1, 5))])
    clock.set(at(2025, 2, 1))
    admin = Principal("ana", "admin", frozenset({"*"}))
    shown = card(crm, admin, {"external_id": "A"})
    # A: revenue 10 + 5, cost of goods 4 + 1: margin 10, nothing to serve; the offers of
    # test_rules_and_offers_from_stored_purchases
    assert shown.title == "Products and profit"
    assert shown.rows == (("Revenue", "15.00"), ("Gross margin", "10.00"),
                          ("Cost to serve", "0.00"), ("Profit", "10.00"),
                          ("Offer 1", "Coffee (COFFEE): up-sell, score 0.50"),
                          ("Offer 2", "Large loaf (BREAD-L): up-sell, score 0.25"))
    assert shown.note is None
    empty = card(crm, admin, {"external_id": "E"})
    assert (empty.rows, empty.note) == ((), "no purchase with line items yet")
    from crmkit.plugin import translating

    with translating(crm, "zh-Hans"):
        chinese = card(crm, admin, {"external_id": "A"})
    assert chinese.title == "产品与利润"
    assert chinese.rows[0] == ("收入", "15.00")
    assert chinese.rows[4] == ("推荐 1", "Coffee（COFFEE）：向上销售，得分 0.50")
