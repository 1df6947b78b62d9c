"""catalogue's part of ``crmkit demo``: products, purchases with line items, profit, offers."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

PRODUCTS = [  # sku, name, category, list price, unit cost
    ("TEA-GREEN", "Green tea 100 g", "drinks/tea", "4.50", "1.60"),
    ("TEA-OOLONG", "Oolong tea 100 g", "drinks/tea", "9.80", "3.90"),
    ("TEA-PUERH", "Aged pu-erh 100 g", "drinks/tea", "24.00", "9.00"),
    ("COF-HOUSE", "House coffee 250 g", "drinks/coffee", "7.20", "2.80"),
    ("COF-SINGLE", "Single-origin coffee 250 g", "drinks/coffee", "14.50", "6.10"),
    ("MUG-CLAY", "Clay mug", "kitchen/cups", "12.00", "4.00"),
    ("POT-GLASS", "Glass teapot", "kitchen/pots", "29.00", "11.00"),
    ("POT-IRON", "Cast-iron teapot", "kitchen/pots", "65.00", "27.00"),
    ("GRIND-HAND", "Hand grinder", "kitchen/tools", "39.00", "17.00"),
    ("FILTER-100", "Paper filters x100", "kitchen/tools", "3.90", "0.90"),
]
BUNDLES = [["TEA-GREEN", "MUG-CLAY"], ["TEA-OOLONG", "POT-GLASS"], ["COF-HOUSE", "FILTER-100"],
           ["COF-SINGLE", "GRIND-HAND"], ["TEA-PUERH", "POT-IRON"]]
BUYERS = 300


def run(crm, rng: random.Random) -> list[str]:
    """Add the product catalogue and purchases with line items; report profit and offers."""
    api = crm.plugin("catalogue")
    api.add_products([{"sku": s, "name": n, "category": c, "list_price": p, "unit_cost": u}
                      for s, n, c, p, u in PRODUCTS])
    prices = {s: Decimal(p) for s, _, _, p, _ in PRODUCTS}
    people = [c.external_id for c in crm.customers.list(limit=BUYERS, type="person")]
    now = crm.clock.now()
    rows = []
    for customer in people:
        for n in range(rng.randint(1, 4)):
            basket = set(rng.choice(BUNDLES)) if rng.random() < 0.6 else set()
            basket |= {rng.choice(PRODUCTS)[0] for _ in range(rng.randint(1, 2))}
            lines = [{"sku": sku, "qty": rng.randint(1, 3), "unit_price": str(prices[sku]),
                      "discount": "1.00" if rng.random() < 0.2 else "0"}
                     for sku in sorted(basket)]
            amount = sum(line["qty"] * prices[line["sku"]] - Decimal(line["discount"])
                         for line in lines)
            rows.append({"customer": customer, "kind": "purchase", "amount": amount,
                         "occurred_at": now - dt.timedelta(days=rng.randint(1, 720)),
                         "external_id": f"demo-catalogue-{customer}-{n}",
                         "payload": {"items": lines}})
    crm.interactions.record_many(rows)
    profits = api.profit("customer")
    top = profits[0] if profits else None
    found = api.rules(min_support=0.02, min_confidence=0.3, min_lift=1.5)
    saved = api.save_offers("demo-next-best", replace=True)
    catalogue = api.products()
    lines = [f"products: {len(catalogue)} in {len({p.category for p in catalogue})} categories; "
             f"purchases with line items: {len(rows)}"]
    if top is not None:
        total = sum((p.profit for p in profits), Decimal(0))
        lines.append(f"profit of {len(profits)} customers: {total:.2f}; most profitable "
                     f"{top.key} ({top.profit:.2f})")
    if found:
        best = found[0]
        lines.append(f"association rules: {len(found)}; strongest "
                     f"{' + '.join(best['antecedents'])} → {' + '.join(best['consequents'])} "
                     f"(lift {best['lift']:.1f}, confidence {best['confidence']:.0%})")
    lines.append(f"next-best offers saved as 'demo-next-best' for {saved} customers "
                 "(crmkit catalogue offers --list demo-next-best)")
    return lines
