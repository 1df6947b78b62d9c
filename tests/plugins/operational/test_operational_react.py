"""The react step is set-based: the statements per batch do not grow with the batch."""

from __future__ import annotations

from crmkit.bulk import COPY_MIN_ROWS

CONFIG = {
    "scoring": {"rules": [{"match": {"kind": "visit"}, "weight": 10, "cap": 3},
                          {"match": {"kind": "call"}, "weight": 5}],
                "fit": [{"attribute": "employees", "op": "ge", "value": 10, "points": 5}],
                "mql_threshold": 20},
    "automation": {"rules": [
        {"name": "visits", "on": "interaction.recorded",
         "if": {"field": "payload.kind", "op": "eq", "value": "visit"},
         "do": [{"create_task": {"subject": "Follow up", "team": "sales"}},
                {"emit": {"type": "automation.visited"}}]},
        {"name": "later", "on": "interaction.recorded", "wait_hours": 2,
         "do": [{"add_tag": "seen"}]}]},
}


def statements_for_batch(crm, clock, statements, size: int, offset: int) -> int:
    crm.customers.add_many([{"external_id": f"S{offset + i}", "attributes": {"employees": i}}
                            for i in range(size)])
    rows = [{"customer": f"S{offset + i}", "occurred_at": clock.now(), "kind": kind}
            for i in range(size) for kind in ("visit", "visit", "call")]
    with statements(crm.engine) as seen:
        crm.interactions.record_many(rows, batch_size=10_000)
    return len(seen)


def test_statements_per_batch_do_not_grow_with_the_batch(crm, clock, operational, staff,
                                                         statements):
    api = operational(CONFIG)
    staff("sales", "ana", "ben")
    # both at least COPY_MIN_ROWS customers, so that on PostgreSQL both batches write every
    # table the same way (a COPY is not a statement the engine sees)
    small = statements_for_batch(crm, clock, statements, COPY_MIN_ROWS, 0)
    large = statements_for_batch(crm, clock, statements, 2 * COPY_MIN_ROWS, 1000)
    assert small == large
    # and the work was done: every customer scored 2 x 10 + 5 (+5 fit from 10 employees on),
    # was promoted and assigned, and got a follow-up task
    scores = {s["customer"]: s for s in api.scores(limit=None)}
    assert (scores["S1000"]["score"], scores["S1000"]["stage"]) == (25, "mql")
    assert (scores["S1019"]["score"], scores["S1019"]["stage"]) == (30, "mql")
    # a first contact and a follow-up per visit (2) for each of the 3 x COPY_MIN_ROWS customers
    assert len(api.tasks(status=None)) == 3 * 3 * COPY_MIN_ROWS
    assert len(api.firings(status="waiting")) == 3 * 3 * COPY_MIN_ROWS
    clock.advance(hours=2)
    crm.sweep()
    assert crm.customers.get("S1119").tags == ("seen",)
