"""Baskets from the stored line items, the rules over them, and next-best offers.

A customer's offers are products they have not bought, on sale at ``as_of``:

* **cross-sell**: the consequent of a one-product rule ``{a} → {p}`` whose
  antecedent ``a`` they bought; its rule score is the best such confidence;
* products of a category they bought from (rule score 0);
* **up-sell** (kind ``up``): a product dearer (list price) than one they bought in
  the same category.

Score = rule score + ``category_weight`` × the customer's share of bought
quantity in the product's category; the ``per_customer`` best are kept (ties by SKU).
All of it is numpy over arrays of (customer, product) pairs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
import numpy as np
from sqlalchemy import func, select

from . import rules as mining
from .products import active_condition
from .settings import Rules, Settings
from .tables import items, products


def load_baskets(conn, rules: Rules, as_of: dt.datetime):
    """``(basket ids, product indexes, skus)`` of the line items up to ``as_of``
    (a basket: one purchase, or one customer's items in the window before ``as_of``)."""
    key = items.c.interaction_id if rules.basket == "order" else items.c.customer_id
    query = select(key, items.c.sku).where(items.c.occurred_at <= as_of)
    if rules.basket == "window":
        query = query.where(items.c.occurred_at > as_of - dt.timedelta(days=rules.window_days))
    rows = conn.execute(query).all()
    skus = sorted(conn.execute(select(products.c.sku)).scalars())
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), skus
    baskets = np.fromiter((r[0] for r in rows), np.int64, len(rows))
    index = {sku: i for i, sku in enumerate(skus)}
    product = np.fromiter((index[r[1]] for r in rows), np.int64, len(rows))
    return baskets, product, skus


def association_rules(conn, rules: Rules, as_of: dt.datetime) -> list[dict[str, Any]]:
    """The rules as rows (antecedents, consequents as SKU lists; support, confidence, lift),
    best lift first."""
    baskets, product, skus = load_baskets(conn, rules, as_of)
    found = _mine(baskets, product, skus, rules)
    out = [{"antecedents": [skus[i] for i in a], "consequents": [skus[i] for i in c],
            "support": float(s), "confidence": float(cf), "lift": float(lf)}
           for a, c, s, cf, lf in zip(found.antecedents, found.consequents, found.support,
                                      found.confidence, found.lift)]
    out.sort(key=lambda r: (-r["lift"], -r["confidence"], r["antecedents"], r["consequents"]))
    return out


def _mine(baskets, product, skus, rules: Rules) -> mining.Rules:
    x = mining.basket_matrix(baskets, product, len(skus))
    return mining.mine(x, rules.min_support, rules.min_confidence, rules.min_lift,
                       rules.max_itemset)


def next_best(conn, settings: Settings, as_of: dt.datetime,
              customer_id: int | None = None) -> list[dict[str, Any]]:
    """Offers ``{customer_id, rank, sku, kind, score}`` per customer, best first."""
    baskets, product, skus = load_baskets(conn, settings.rules, as_of)
    found = _mine(baskets, product, skus, attrs.evolve(settings.rules, max_itemset=2))
    catalogue = conn.execute(select(products.c.sku, products.c.category, products.c.list_price,
                                    active_condition(as_of).label("active"))
                             .order_by(products.c.sku)).all()
    if not catalogue:
        return []
    category_names, category = np.unique([r.category for r in catalogue], return_inverse=True)
    price = np.array([r.list_price for r in catalogue], dtype=object).astype(float)
    active = np.array([bool(r.active) for r in catalogue])
    bought = select(items.c.customer_id, items.c.sku, func.sum(items.c.qty_units).label("qty")
                    ).where(items.c.occurred_at <= as_of).group_by(items.c.customer_id, items.c.sku)
    if customer_id is not None:
        bought = bought.where(items.c.customer_id == customer_id)
    owned = conn.execute(bought).all()
    if not owned:
        return []
    index = {sku: i for i, sku in enumerate(skus)}
    o_cust = np.array([r.customer_id for r in owned], np.int64)
    o_prod = np.array([index[r.sku] for r in owned], np.int64)
    o_qty = np.array([r.qty for r in owned], float)
    return _rank(settings.offers, found, o_cust, o_prod, o_qty, category, price, active, skus,
                 len(category_names))


def _rank(settings, found, o_cust, o_prod, o_qty, category, price, active, skus, n_categories):
    n_products = len(skus)
    owned_key = o_cust * n_products + o_prod
    # the customer's share of quantity per category
    cat_key = o_cust * n_categories + category[o_prod]
    cat_keys, where = np.unique(cat_key, return_inverse=True)
    cat_qty = np.bincount(where, weights=o_qty)
    cust_of_cat = cat_keys // n_categories
    cust_ids, cust_where = np.unique(o_cust, return_inverse=True)
    cust_qty = np.bincount(cust_where, weights=o_qty)
    share = cat_qty / cust_qty[np.searchsorted(cust_ids, cust_of_cat)]
    cheapest = np.full(len(cat_keys), np.inf)
    np.minimum.at(cheapest, where, price[o_prod])
    # candidates from one-product rules whose antecedent the customer bought
    single = np.array([len(a) == 1 for a in found.antecedents], bool)
    r_ante = np.array([a[0] for a, s in zip(found.antecedents, single) if s], np.int64)
    r_cons = np.array([c[0] for c, s in zip(found.consequents, single) if s], np.int64)
    r_conf = found.confidence[single] if len(single) else np.zeros(0)
    order = np.argsort(r_ante, kind="stable")
    r_ante, r_cons, r_conf = r_ante[order], r_cons[order], r_conf[order]
    start = np.searchsorted(r_ante, o_prod, "left")
    stop = np.searchsorted(r_ante, o_prod, "right")
    per = stop - start
    rule_at = np.repeat(start - np.cumsum(per) + per, per) + np.arange(per.sum())
    c_cust = [np.repeat(o_cust, per)]
    c_prod = [r_cons[rule_at]]
    c_rule = [r_conf[rule_at]]
    # candidates from the customer's categories
    members = np.argsort(category, kind="stable")
    first = np.searchsorted(category[members], np.arange(n_categories), "left")
    size = np.bincount(category, minlength=n_categories)
    cat_of = cat_keys % n_categories
    count = size[cat_of]
    at = np.repeat(first[cat_of] - np.cumsum(count) + count, count) + np.arange(count.sum())
    c_cust.append(np.repeat(cust_of_cat, count))
    c_prod.append(members[at])
    c_rule.append(np.zeros(count.sum()))
    cust, prod, rule = (np.concatenate(c_cust), np.concatenate(c_prod), np.concatenate(c_rule))
    keep = active[prod] & ~np.isin(cust * n_products + prod, owned_key)
    cust, prod, rule = cust[keep], prod[keep], rule[keep]
    if not len(cust):
        return []
    key = cust * n_products + prod
    keys, where = np.unique(key, return_inverse=True)
    best = np.zeros(len(keys))
    np.maximum.at(best, where, rule)
    cust, prod = keys // n_products, keys % n_products
    at_cat = np.searchsorted(cat_keys, cust * n_categories + category[prod])
    found_cat = (at_cat < len(cat_keys)) & (cat_keys[np.minimum(at_cat, len(cat_keys) - 1)]
                                             == cust * n_categories + category[prod])
    at_cat = np.minimum(at_cat, len(cat_keys) - 1)
    cat_share = np.where(found_cat, share[at_cat], 0.0)
    up = found_cat & (price[prod] > cheapest[at_cat])
    score = best + settings.category_weight * cat_share
    sku_rank = np.argsort(np.argsort(np.array(skus, dtype=object)))
    order = np.lexsort((sku_rank[prod], -score, cust))
    cust, prod, score, up = cust[order], prod[order], score[order], up[order]
    rank = np.arange(len(cust)) - np.searchsorted(cust, cust, "left") + 1
    top = rank <= settings.per_customer
    return [{"customer_id": int(c), "rank": int(r), "sku": skus[p],
             "kind": "up" if u else "cross", "score": round(float(s), 12)}
            for c, r, p, s, u in zip(cust[top], rank[top], prod[top], score[top], up[top])]
