"""Incremental scoring: the hits stored with each lead give exactly the scores of the full computation.

Every test compares the stored scores (summed from the leads' stored hits plus
the batch's own matches in the react step) with an independent Python
evaluation of the definition and with the computation from the interactions
(``api.score``), and the stored hits with those computed from the interactions.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_UP, Decimal

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from crmkit_operational import hits
from crmkit_operational.tables import leads

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


def recorded_customers(crm, clock, rng, customers, count):
    """Add ``customers`` and record ``count`` random rows for them; return the rows."""
    crm.customers.add_many([{"external_id": c} for c in customers])
    rows = random_rows(rng, clock, customers, count)
    record(crm, rows)
    return rows


def stored_hits(crm, customer) -> list | None:
    with crm.read() as conn:
        return hits.stored(conn, crm.customers.get(customer).id)


def hits_per_group(crm, customers) -> int:
    """The most hits any (customer, rule) keeps."""
    groups = Counter((c, rule) for c in customers for rule, _ in stored_hits(crm, c) or [])
    return max(groups.values(), default=0)


def assert_hits_are_the_capped_matches(crm, rules, customers):
    """Every known stored hit set equals the capped matches computed from the interactions."""
    with crm.read() as conn:
        for c in customers:
            cid = crm.customers.get(c).id
            mine = hits.stored(conn, cid)
            if mine is not None:
                fresh = hits.from_interactions(conn, rules, [cid])
                assert sorted(mine) == sorted(
                    (int(j), hits.EPOCH + int(at) * hits.MICROSECOND)
                    for j, at in zip(fresh.rule, fresh.at)), c


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
    rows = recorded_customers(crm, clock, rng, customers, 150)
    clock.advance(hours=30)  # the future interactions are now past: the hits fall back to the full query
    more = random_rows(rng, clock, customers, 60, start=150)
    record(crm, more)
    check(crm, clock, api, RULES, rows + more, customers)
    assert_hits_are_the_capped_matches(crm, api.settings.scoring.rules, customers)
    assert 0 < hits_per_group(crm, customers) <= max(r["cap"] for r in RULES)
    # rescore (a rebuild of the hits) gives the same numbers
    stored = {c: api.lead(c)["score"] for c in customers}
    assert api.rescore()[0] == len(customers)
    assert {c: api.lead(c)["score"] for c in customers} == stored


def test_a_change_of_match_or_cap_rebuilds_the_hits(crm, clock, operational):
    api = operational(CONFIG)
    rng = random.Random(11)
    customers = ["A", "B", "C"]
    rows = recorded_customers(crm, clock, rng, customers, 40)
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


def test_merge_forgets_the_kept_customers_hits_and_keeps_the_caps(crm, clock, operational):
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
    assert stored_hits(crm, "KEEP") is None  # not known: computed from both customers' interactions
    crm.interactions.record("KEEP", clock.now() - dt.timedelta(days=50), kind="visit")
    # the two most recent of the five: 10 and 20 days old
    assert api.lead("KEEP")["score"] == api.score("KEEP") == Decimal("7.50")
    assert sorted(stored_hits(crm, "KEEP")) == [(0, clock.now() - dt.timedelta(days=d)) for d in (20, 10)]


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
    with crm.transaction() as tx:  # claim, wrongly, that C1 has no hits
        tx.conn.execute(leads.update().values(hits=b""))
    assert api.rescore() == (1, [])
    assert api.lead("C1")["score"] == Decimal("10.00")
    crm.interactions.record("C1", clock.now(), kind="visit")
    assert api.lead("C1")["score"] == Decimal("15.00")


@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 2), st.integers(-5, 5)), max_size=60),
       st.lists(st.integers(1, 3), min_size=3, max_size=3))
def test_capped_keeps_each_groups_most_recent_hits_and_packing_round_trips(items, caps):
    given_hits = hits.Hits.of([c for c, _, _ in items], [r for _, r, _ in items],
                              [t for _, _, t in items], range(len(items)))
    kept = given_hits.capped(caps)
    got = Counter(zip(kept.customer.tolist(), kept.rule.tolist(), kept.at.tolist()))
    want = Counter()
    for c, r in {(c, r) for c, r, _ in items}:  # ties in time: any of them, the same time kept
        times = sorted((t for cc, rr, t in items if (cc, rr) == (c, r)), reverse=True)[:caps[r]]
        want.update((c, r, t) for t in times)
    assert got == want
    assert kept.customer.tolist() == sorted(kept.customer.tolist())
    assert all(items[n][2] == t for n, t in zip(kept.interaction.tolist(), kept.at.tolist()))
    packed = kept.packed({c for c, _, _ in items} | {99})
    assert packed[99] == b""
    back = hits.unpack(sorted(packed.items()))
    assert Counter(zip(back.customer.tolist(), back.rule.tolist(), back.at.tolist(),
                       back.interaction.tolist())) == Counter(zip(
        kept.customer.tolist(), kept.rule.tolist(), kept.at.tolist(), kept.interaction.tolist()))


def test_a_batch_added_twice_in_one_transaction_counts_once(crm, clock, operational):
    """Hits computed earlier in the batch's transaction (a plugin updating a customer before
    operational reacts) already hold the batch's rows: adding them again changes nothing."""
    from crmkit import Batch
    from crmkit.tables import interactions
    from crmkit_operational import scoring

    api = operational(CONFIG)
    rng = random.Random(3)
    customers = ["A", "B", "C"]
    rows = recorded_customers(crm, clock, rng, customers, 30)
    with crm.transaction() as tx:
        recorded = [dict(r) for r in tx.conn.execute(interactions.select()
                                                     .order_by(interactions.c.id)).mappings()]
        batch = Batch("interactions", recorded, recorded[0]["id"], recorded[-1]["id"])
        ctx = tx.context("operational")
        scoring.rescore(ctx, hits.customers_in(batch.first_id, batch.last_id), batch=batch)
    check(crm, clock, api, RULES, rows, customers)
    assert_hits_are_the_capped_matches(crm, api.settings.scoring.rules, customers)
