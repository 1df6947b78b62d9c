"""Incremental scoring: the hits table gives exactly the scores of the full computation.

Every test compares the stored scores (summed from ``operational_score_hits``
in the react step) with an independent Python evaluation of the definition
and with the full SQL computation from the interactions (``api.score``).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from crmkit_operational.tables import score_hits

RULES = [
    {"match": {"kind": "visit"}, "weight": 5, "cap": 3},
    {"match": {"kind": "call", "direction": "inbound"}, "weight": 20, "cap": 2},
    {"match": {"channel": "web"}, "weight": 1.5, "cap": 4},
    {"match": {"kind": "purchase"}, "weight": -7, "cap": 1},
]
CONFIG = {"scoring": {"rules": RULES, "half_life_days": 20, "max_score": 1000, "mql_threshold": 1000},
          "assignment": {"assign_leads_on": "never"}}


def expected(rules, rows, as_of, half_life=20, max_score=1000) -> Decimal:
    """The definition, in Python: Σ_rules weight × Σ over its cap most recent matches of 0.5^(age/h)."""
    total = 0.0
    for rule in rules:
        matching = sorted((r for r in rows if r["occurred_at"] <= as_of
                           and all(r.get(k, {"direction": "inbound"}.get(k)) == v
                                   for k, v in rule["match"].items())),
                          key=lambda r: (r["occurred_at"], r["n"]), reverse=True)[:rule["cap"]]
        for r in matching:
            age = (as_of - r["occurred_at"]).total_seconds() / 86400
            total += rule["weight"] * 0.5 ** (age / half_life)
    return Decimal(repr(min(max_score, total))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def random_rows(rng, clock, customers, count, start=0):
    rows = []
    for n in range(start, start + count):
        row = {"customer": rng.choice(customers), "kind": rng.choice(["visit", "call", "purchase", "note"]),
               "channel": rng.choice(["web", "store", None]), "n": n,
               # a few interactions lie in the future: they count once the clock reaches them
               "occurred_at": clock.now() - dt.timedelta(minutes=rng.randrange(-3000, 200_000))}
        if row["kind"] == "call":
            row["direction"] = rng.choice(["inbound", "outbound"])
        rows.append(row)
    return rows


def record(crm, rows):
    crm.interactions.record_many([{k: v for k, v in r.items() if k != "n" and v is not None}
                                  for r in rows], batch_size=7)


def hits_per_group(crm) -> int:
    h = score_hits
    with crm.read() as conn:
        return conn.execute(select(func.count()).select_from(h)
                            .group_by(h.c.customer_id, h.c.rule)
                            .order_by(func.count().desc()).limit(1)).scalar() or 0


def check(crm, clock, api, rules, rows, customers, half_life=20):
    for cid in customers:
        mine = [r for r in rows if r["customer"] == cid]
        want = expected(rules, mine, clock.now(), half_life)
        assert api.lead(cid)["score"] == want, cid
        assert api.score(cid) == want, cid


def test_incremental_scores_equal_the_definition_on_random_data(crm, clock, operational):
    api = operational(CONFIG)
    rng = random.Random(7)
    customers = [f"C{i}" for i in range(12)]
    crm.customers.add_many([{"external_id": c} for c in customers])
    rows = random_rows(rng, clock, customers, 150)
    record(crm, rows)
    clock.advance(hours=30)  # the future interactions are now past: the hits fall back to the full query
    more = random_rows(rng, clock, customers, 60, start=150)
    record(crm, more)
    check(crm, clock, api, RULES, rows + more, customers)
    assert hits_per_group(crm) <= max(r["cap"] for r in RULES)
    # rescore (a rebuild of the hits) gives the same numbers
    stored = {c: api.lead(c)["score"] for c in customers}
    assert api.rescore()[0] == len(customers)
    assert {c: api.lead(c)["score"] for c in customers} == stored


def test_a_change_of_match_or_cap_rebuilds_the_hits(crm, clock, operational):
    api = operational(CONFIG)
    rng = random.Random(11)
    customers = ["A", "B", "C"]
    crm.customers.add_many([{"external_id": c} for c in customers])
    rows = random_rows(rng, clock, customers, 40)
    record(crm, rows)
    rules = [dict(RULES[0], cap=6), dict(RULES[2], match={"channel": "store"})]
    crm.plugins.configure("operational", dict(CONFIG, scoring=dict(CONFIG["scoring"], rules=rules)))
    more = random_rows(rng, clock, customers, 3, start=40)
    record(crm, more)
    for cid in {r["customer"] for r in more}:
        mine = [r for r in rows + more if r["customer"] == cid]
        assert api.lead(cid)["score"] == expected(rules, mine, clock.now())
    assert api.rescore()[0] == 3
    check(crm, clock, api, rules, rows + more, customers)


def test_interactions_recorded_while_disabled_are_caught_up(crm, clock, operational):
    api = operational(CONFIG)
    crm.customers.add_many([{"external_id": "A"}, {"external_id": "B"}])
    crm.interactions.record("A", clock.now(), kind="visit")
    crm.plugins.disable("operational")
    crm.interactions.record_many([{"customer": "B", "occurred_at": clock.now(), "kind": "visit"}] * 2)
    crm.plugins.enable("operational", CONFIG)
    assert api.lead("B")["score"] == Decimal("0.00")  # nothing ran while disabled
    crm.interactions.record("A", clock.now(), kind="visit")
    assert api.lead("A")["score"] == Decimal("10.00")
    assert api.lead("B")["score"] == Decimal("10.00")  # caught up with A's batch


def test_merge_moves_the_hits_and_keeps_the_caps(crm, clock, operational):
    rules = [{"match": {"kind": "visit"}, "weight": 10, "cap": 2}]
    api = operational({"scoring": {"rules": rules, "half_life_days": 10, "mql_threshold": 1000},
                       "assignment": {"assign_leads_on": "never"}})
    crm.customers.add_many([{"external_id": "KEEP"}, {"external_id": "DUP"}])
    crm.interactions.record_many([
        {"customer": "KEEP", "occurred_at": clock.now() - dt.timedelta(days=20), "kind": "visit"},
        {"customer": "KEEP", "occurred_at": clock.now() - dt.timedelta(days=30), "kind": "visit"},
        {"customer": "DUP", "occurred_at": clock.now() - dt.timedelta(days=10), "kind": "visit"},
        {"customer": "DUP", "occurred_at": clock.now() - dt.timedelta(days=40), "kind": "visit"}])
    assert api.lead("KEEP")["score"] == Decimal("3.75")  # 10 × (0.25 + 0.125)
    assert api.lead("DUP")["score"] == Decimal("5.63")  # 10 × (0.5 + 0.0625)
    crm.customers.merge("KEEP", "DUP")
    assert hits_per_group(crm) == 2
    crm.interactions.record("KEEP", clock.now() - dt.timedelta(days=50), kind="visit")
    # the two most recent of the five: 10 and 20 days old
    assert api.lead("KEEP")["score"] == api.score("KEEP") == Decimal("7.50")


def test_erasure_keeps_the_hits_and_the_score(crm, clock, operational):
    api = operational(CONFIG)
    crm.customers.add("C1", name="Ann Example", email="ann@example.com")
    crm.interactions.record_many([{"customer": "C1", "occurred_at": clock.now(), "kind": "visit"}] * 2)
    assert api.lead("C1")["score"] == Decimal("10.00")
    erased = crm.customers.erase("C1")
    api.rescore()
    assert api.lead(erased.external_id)["score"] == Decimal("10.00")


def test_rescore_repairs_lost_hits(crm, clock, operational):
    api = operational(CONFIG)
    crm.customers.add("C1")
    crm.interactions.record_many([{"customer": "C1", "occurred_at": clock.now(), "kind": "visit"}] * 2)
    with crm.transaction() as tx:
        tx.conn.execute(score_hits.delete())
    assert api.rescore() == (1, [])
    assert api.lead("C1")["score"] == Decimal("10.00")
    crm.interactions.record("C1", clock.now(), kind="visit")
    assert api.lead("C1")["score"] == Decimal("15.00")
