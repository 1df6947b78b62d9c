"""A hand-off's team check while a manager hands the item on, from threads of one process.

The check locks the work item before it reads its team, so a hand-on committing meanwhile
is waited for and seen.  Staged with a gate (a statement that blocks until the test opens it),
never with sleeps; on SQLite the write lock orders the two the same way.
"""

from __future__ import annotations

import threading

from sqlalchemy import event

import rel_support
from crmkit import CRM
from crmkit.devtools.testing import api_client

API = "/api/v1/collaborative"
HANG_GUARD_S = rel_support.HANG_GUARD_S


def problem_detail(answer, status: int) -> str:
    assert answer.status_code == status, answer.text
    return answer.json()["detail"]


def test_a_hand_on_racing_an_acknowledgement_is_seen_by_the_team_check(crm, crm_url, clock):
    """dee (support) acknowledges the hand-off waiting for support while a manager, in another
    connection, hands the item on to billing: dee's request waits for the manager's to commit,
    then is refused (the item now waits for billing), instead of acknowledging again the
    hand-off the manager acknowledged by handing it on."""
    crm.plugins.enable("collaborative")
    crm.staff.add("dee", "Dee", "support", role="agent")
    crm.staff.add("ivy", "Ivy", "billing", role="agent")
    crm.staff.add("mia", "Mia", "office", role="manager")
    crm.customers.add("C2", "Bob")
    crm.interactions.record("C2", clock.now(), kind="complaint", channel="email")
    [item] = crm.plugin("collaborative").items_of("C2")
    crm.plugin("collaborative").hand_off(item.id, "billing", "a refund")
    crm.plugin("collaborative").hand_off(item.id, "support", "not a refund")  # waits for support
    path = f"{API}/items/{item.id}"
    with CRM.open(crm_url, clock=clock, actor="mia") as manager, \
            api_client(crm, handle="dee") as dee:
        moved, opened = threading.Event(), threading.Event()

        def hold_after_the_move(conn, cursor, statement, *args):
            if statement.startswith("UPDATE collaborative_work_items") and not moved.is_set():
                moved.set()
                assert opened.wait(HANG_GUARD_S), "the test never let the hand-on commit"

        event.listen(manager.engine, "after_cursor_execute", hold_after_the_move)
        hand_on = rel_support.Outcome(lambda: manager.plugin("collaborative").hand_off(
            item.id, "billing", "a refund after all"))
        hand_on.start()
        assert moved.wait(HANG_GUARD_S), "the hand-on never moved the item"
        acknowledging = rel_support.Outcome(lambda: dee.post(f"{path}/acknowledge"))
        acknowledging.start()
        rel_support.wait_until_blocked(crm_url)
        opened.set()
        assert hand_on.finish().error is None, hand_on.error
        answer = acknowledging.finish().result
        assert problem_detail(answer, 403).startswith(
            f"work item {item.id}: its hand-off waits for team 'billing'")
        after = dee.get(path).json()
    assert [h["actor"] for h in after["history"] if h["action"] == "acknowledged"] == [
        "system", "mia"]  # none by dee
    assert after["ack_due_at"] is not None  # billing has yet to acknowledge
