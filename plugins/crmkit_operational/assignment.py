"""Assignment: round robin, smooth weighted round robin, territories, capacity, persisted cursor.

Staff of a team are taken in a stable order (by staff id).  Round robin
continues after the last handle stored in ``operational_cursors``; weighted
keeps each member's current weight there (nginx's smooth weighted round
robin: add every weight, pick the largest current, subtract the total).
Members at ``capacity`` open items (open tasks plus open or in-progress
cases) are skipped; when everybody is full the item stays unassigned and
``assignment.failed`` is emitted.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import bindparam, func, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from crmkit.plugin import customers

from .rows import insert_all
from .settings import settings_of
from .tables import assignments, cases, cursors, leads, tasks

OPEN_CASE_STATUSES = ("open", "in_progress")


def open_items(conn, handles: Sequence[str]) -> dict[str, int]:
    """Open tasks plus open/in-progress cases per staff handle."""
    if not handles:
        return {}
    open_tasks = select(tasks.c.assignee.label("who")).where(
        tasks.c.status == "open", tasks.c.assignee.in_(bindparam("h1", expanding=True)))
    open_cases = select(cases.c.assignee.label("who")).where(
        cases.c.status.in_(OPEN_CASE_STATUSES), cases.c.assignee.in_(bindparam("h2", expanding=True)))
    both = union_all(open_tasks, open_cases).subquery()
    query = select(both.c.who, func.count()).group_by(both.c.who)
    counts = dict(conn.execute(query, {"h1": list(handles), "h2": list(handles)}).all())
    return {h: counts.get(h, 0) for h in handles}


class Picker:
    """Picks staff of one team, item after item, then saves the cursor."""

    def __init__(self, ctx, team: str):
        self.ctx = ctx
        self.team = team
        self.staff = [s.handle for s in ctx.crm.staff.list(team=team)]
        settings = settings_of(ctx).assignment.team(team)
        self.strategy, self.capacity = settings.strategy, settings.capacity
        self.weights = {h: int(settings.weights.get(h, 1)) for h in self.staff}
        row = locked_cursor(ctx.conn, team, ctx.now())
        self.last = row.last_handle
        stored = dict(row.current)
        self.current = {h: int(stored.get(h, 0)) for h in self.staff}
        self.load = open_items(ctx.conn, self.staff) if self.capacity is not None else {}

    def _available(self) -> list[str]:
        if self.capacity is None:
            return list(self.staff)
        return [h for h in self.staff if self.load[h] < self.capacity]

    def pick(self) -> str | None:
        """The next staff handle, or None when the team is empty or everybody is full."""
        available = self._available()
        if not available:
            return None
        if self.strategy == "weighted":
            total = sum(self.weights[h] for h in available)
            for h in available:
                self.current[h] += self.weights[h]
            chosen = max(available, key=lambda h: (self.current[h], -self.staff.index(h)))
            self.current[chosen] -= total
        else:
            start = self.staff.index(self.last) + 1 if self.last in self.staff else 0
            rotation = self.staff[start:] + self.staff[:start]
            chosen = next(h for h in rotation if h in available)
        self.last = chosen
        if self.capacity is not None:
            self.load[chosen] += 1
        return chosen

    def save(self) -> None:
        """Persist the cursor (last handle, current weights)."""
        values = {"last_handle": self.last, "current": self.current, "updated_at": self.ctx.now()}
        self.ctx.conn.execute(update(cursors).where(cursors.c.team == self.team).values(**values))


def locked_cursor(conn, team: str, now) -> Any:
    """The team's cursor row, created when missing, locked until the transaction ends
    (``FOR UPDATE`` on PostgreSQL; SQLite's write lock already excludes other writers):
    concurrent assignments to one team take turns instead of picking the same person
    or both creating the row."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(cursors).values(team=team, last_handle=None, current={},
                                                updated_at=now)
                 .on_conflict_do_nothing(index_elements=["team"]))
    return conn.execute(select(cursors).where(cursors.c.team == team).with_for_update()).one()


def assign_team(ctx, team: str, items: Sequence[tuple[int, str]]) -> list[str | None]:
    """Pick a staff member of ``team`` for each ``(customer_id, subject)``; record every decision.

    Returns the handles (None where nobody could take the item; an
    ``assignment.failed`` event is emitted for each of those).
    """
    if not items:
        return []
    picker = Picker(ctx, team)
    picks = [picker.pick() for _ in items]
    picker.save()
    now = ctx.now()
    insert_all(ctx.conn, assignments, [
        {"customer_id": cid, "team": team, "assignee": who, "subject": subject[:300], "at": now}
        for (cid, subject), who in zip(items, picks)])
    for (cid, subject), who in zip(items, picks):
        if who is None:
            ctx.emit("assignment.failed", cid, {"team": team, "subject": subject})
    return picks


def territory_teams(ctx, customer_ids: Sequence[int]) -> dict[int, str]:
    """The team of each lead: the first territory whose condition holds, else ``lead_team``."""
    from .sqlfields import FieldSQL

    section = settings_of(ctx).assignment
    result: dict[int, str] = {}
    remaining = list(customer_ids)
    fields = FieldSQL(interaction_table=None)
    for territory in section.territories:
        if not remaining:
            break
        query = (select(customers.c.id)
                 .select_from(customers.outerjoin(leads, leads.c.customer_id == customers.c.id))
                 .where(customers.c.id.in_(bindparam("ids", expanding=True)),
                        fields.compile(territory.condition)))
        matched = {r[0] for r in ctx.conn.execute(query, {"ids": remaining})}
        for cid in matched:
            result[cid] = territory.team
        remaining = [cid for cid in remaining if cid not in matched]
    for cid in remaining:
        result[cid] = section.lead_team
    return result


