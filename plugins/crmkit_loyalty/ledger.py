"""The ledger's mechanics: appending rows with their lot uses, lots, FIFO consumption, sums.

Everything here works on an open connection inside the caller's transaction
and is set-based: one statement per call whatever the number of customers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable, NamedTuple

import attrs
from sqlalchemy import and_, bindparam, case, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import ColumnElement, FromClause

from crmkit.plugin import allocate_ids, insert_rows

from .ceiling import raise_ceilings
from .inactivity import Inactivity
from .tables import IS_LOT, ledger, lot_uses, members

CHUNK = 5000
"""Most ids bound in one ``IN`` list."""


@attrs.define
class WriteOff:
    """What expire rows dated ``at`` took from a lot, net of what was given back since
    (``expire_id``: the first of them, the expiry run's row)."""

    expire_id: int
    at: dt.datetime
    points: int


@attrs.define
class Lot:
    """A ledger row with positive points and what is left of it.

    ``written_off``: the part of ``remaining`` that an expire row dated after the moment
    :func:`open_lots` was asked about wrote off, which a debit before that row gives back
    before taking it (see :func:`take`).
    """

    id: int
    customer_id: int
    at: dt.datetime
    remaining: int
    expires_at: dt.datetime | None
    available_at: dt.datetime | None
    written_off: WriteOff | None = None

    def left(self, moment: dt.datetime) -> int:
        """What a debit at ``moment`` may take of ``remaining``: all of it, less what an expire
        row dated at or before ``moment`` wrote off."""
        if self.written_off is not None and self.written_off.at <= moment:
            return self.remaining - self.written_off.points
        return self.remaining

    def expired(self, moment: dt.datetime) -> bool:
        """Past its expiry (dated or, under inactivity, its lapse) at ``moment``: empty from
        then on, whether or not the expiry run has written it off yet."""
        return self.expires_at is not None and self.expires_at <= moment

    def spendable(self, moment: dt.datetime) -> bool:
        """Unlocked and not past its expiry at ``moment``."""
        return ((self.available_at is None or self.available_at <= moment)
                and not self.expired(moment))

    def fifo_key(self) -> tuple:
        """First-in-first-out by expiry: earliest expiry first, undated lots last."""
        return (self.expires_at is None, self.expires_at or self.at, self.at, self.id)


class Use(NamedTuple):
    """``points`` a ledger row takes from the lot ``lot_id`` (negative: gives back to it).
    ``given_back``: how many of them the row first gives back from the expiry that wrote
    them off (:func:`append` writes that give-back before the row)."""

    lot_id: int
    points: int
    given_back: WriteOff | None = None


def chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    """``ids`` sorted, in lists of at most :data:`CHUNK`."""
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start:start + CHUNK]


def append(conn, rows: list[dict[str, Any]], now: dt.datetime, actor: str) -> list[int]:
    """Append ledger rows (each may carry ``uses``: ``[Use]``); return their ids.

    A row taking points an expiry wrote off (:attr:`Use.given_back`) is preceded by the row
    giving them back (:func:`give_back`).  One id range, one executemany for the rows and
    one for their lot uses; rows that add qualifying points raise their members' upgrade
    ceilings.
    """
    if not rows:
        return []
    raise_ceilings(conn, rows)
    written = []                        # (row, whether it is one of ``rows``)
    for row in rows:
        written += [(give_back(row, use), False) for use in row.get("uses", ())
                    if use.given_back]
        written.append((row, True))
    first = allocate_ids(conn, ledger, len(written))
    stored, uses, ids = [], [], []
    for offset, (row, asked) in enumerate(written):
        row_id = first + offset
        values = {"id": row_id, "owed_change": 0, "interaction_id": None, "related_id": None,
                  "reward_code": None, "expires_at": None, "available_at": None,
                  "recorded_at": now, "actor": actor}
        values.update({k: v for k, v in row.items() if k != "uses"})
        stored.append(values)
        uses.extend({"ledger_id": row_id, "lot_id": use.lot_id, "points": use.points}
                    for use in row.get("uses", ()) if use.points)
        if asked:
            ids.append(row_id)
    insert_rows(conn, ledger, stored)
    if uses:
        insert_rows(conn, lot_uses, uses)
    return ids


def give_back(debit: dict[str, Any], use: Use) -> dict[str, Any]:
    """The ``expire`` row of positive points, dated at the expiry and naming it, that gives
    back to ``use``'s lot what that expiry wrote off of the points the ``debit``, dated
    before it, takes (:attr:`Use.given_back`): not a lot, not earned, not activity."""
    expiry = use.given_back
    return {"customer_id": debit["customer_id"], "at": expiry.at, "type": "expire",
            "source": "expiry", "points": expiry.points, "related_id": expiry.expire_id,
            "reason": f"expiry given back: {expiry.points} points of lot {use.lot_id} were "
                      f"still valid on {debit['at'].date().isoformat()}, the date of a debit "
                      "recorded after the expiry",
            "uses": [Use(use.lot_id, -expiry.points)]}


def used_points(as_of: dt.datetime | None = None):
    """Correlated SQL: how many points of the outer ledger row (a lot) were consumed
    (by debits dated at or before ``as_of`` when given)."""
    query = (select(func.coalesce(func.sum(lot_uses.c.points), 0))
             .where(lot_uses.c.lot_id == ledger.c.id))
    if as_of is not None:
        debit = ledger.alias("debit")
        query = query.where(debit.c.id == lot_uses.c.ledger_id, debit.c.at <= as_of)
    return query.scalar_subquery()


def write_off(after: dt.datetime, as_of: dt.datetime | None = None):
    """Correlated SQL ``(points, expire id, date)`` for the outer ledger row (a lot): what
    the expire rows dated after ``after`` (and at or before ``as_of`` when given) took from
    it, net of what was given back, the first such row and its date (NULL: none)."""
    expire = ledger.alias("loyalty_expiry")
    query = select().where(lot_uses.c.lot_id == ledger.c.id, expire.c.id == lot_uses.c.ledger_id,
                           expire.c.type == "expire", expire.c.at > after)
    if as_of is not None:
        query = query.where(expire.c.at <= as_of)
    return tuple(query.add_columns(column).scalar_subquery()
                 for column in (func.coalesce(func.sum(lot_uses.c.points), 0),
                                func.min(expire.c.id), func.min(expire.c.at)))


def lots_with(inactivity: Inactivity | None, customers: Any = None
              ) -> tuple[FromClause, ColumnElement]:
    """``(FROM clause, expiry column)`` of the ledger's rows with the expiry a lot has: its
    stored date, or under ``inactivity`` the earlier of that and its lapse (see
    :mod:`.inactivity`; worked out for the customers ``customers``, an argument for ``IN``,
    None: everyone)."""
    stored = ledger.c.expires_at
    if inactivity is None:
        return ledger, stored
    dates = inactivity.dates(customers)
    lapse = dates.c.expires_at
    return (ledger.outerjoin(dates, dates.c.id == ledger.c.id),
            case((stored.is_(None), lapse), (lapse.is_(None), stored), (lapse < stored, lapse),
                 else_=stored))


def open_lots(conn, customer_ids: Iterable[int], expiring_by: dt.datetime | None = None,
              as_of: dt.datetime | None = None, inactivity: Inactivity | None = None,
              written_off_after: dt.datetime | None = None) -> dict[int, list[Lot]]:
    """Each customer's lots with points left, FIFO-ordered.

    ``expiring_by``: only lots whose expiry is at or before that time.  ``as_of``:
    the lots as they stood then (rows and uses dated later are ignored).
    ``inactivity``: lots expire by that rule too (see :mod:`.inactivity`).
    ``written_off_after``: what expire rows dated after that time wrote off counts as left,
    noted as the lot's :attr:`Lot.written_off` (what a debit dated before those rows gives
    back before taking it).
    """
    remaining = ledger.c.points - used_points(as_of)
    written_off = []
    if written_off_after is not None:
        off = write_off(written_off_after, as_of)
        remaining = remaining + off[0]
        written_off = [column.label(name) for column, name
                       in zip(off, ("written_off", "expire_id", "expired_at"))]
    result: dict[int, list[Lot]] = {}
    for part in chunks(customer_ids):
        source, expires = lots_with(inactivity, part)
        query = (select(ledger.c.id, ledger.c.customer_id, ledger.c.at,
                        remaining.label("remaining"), expires.label("expires_at"),
                        ledger.c.available_at, *written_off)
                 .select_from(source)
                 .where(ledger.c.customer_id.in_(part), IS_LOT, remaining > 0))
        if expiring_by is not None:
            query = query.where(expires <= expiring_by)
        if as_of is not None:
            query = query.where(ledger.c.at <= as_of)
        for row in conn.execute(query):
            lot = Lot(*row[:6])
            if written_off and row.written_off:
                lot.written_off = WriteOff(row.expire_id, row.expired_at, row.written_off)
            result.setdefault(row.customer_id, []).append(lot)
    for lots in result.values():
        lots.sort(key=Lot.fifo_key)
    return result


@attrs.frozen
class LotTotals:
    """One customer's open lots summed at a moment: spendable and locked points, and the points
    whose lots expire after the moment but by ``expiring_by`` (with the first such expiry)."""

    available: int
    locked: int
    expiring: int
    first_expiry: dt.datetime | None


def lot_totals(conn, customer_id: int, moment: dt.datetime, as_of: dt.datetime | None = None,
               expiring_by: dt.datetime | None = None, inactivity: Inactivity | None = None
               ) -> LotTotals:
    """:class:`LotTotals` of the lots earned by ``moment`` that :func:`open_lots` lists
    (``as_of`` and ``inactivity`` as there, written off after ``moment`` counting as left),
    summed in SQL: spendable as :meth:`Lot.spendable` decides at ``moment``.  A lot dated
    after ``moment`` is not earned yet: neither spendable nor locked."""
    remaining = ledger.c.points - used_points(as_of) + write_off(moment, as_of)[0]
    source, expires = lots_with(inactivity, [customer_id])
    unlocked = or_(ledger.c.available_at.is_(None), ledger.c.available_at <= moment)
    unexpired = or_(expires.is_(None), expires > moment)
    soon = (false() if expiring_by is None
            else and_(expires > moment, expires <= expiring_by))

    def total(condition):
        return func.coalesce(func.sum(case((condition, remaining), else_=0)), 0)

    query = (select(total(and_(unlocked, unexpired)), total(ledger.c.available_at > moment),
                    total(soon), func.min(case((soon, expires))))
             .select_from(source)
             .where(ledger.c.customer_id == customer_id, IS_LOT, remaining > 0,
                    ledger.c.at <= moment))
    if as_of is not None:
        query = query.where(ledger.c.at <= as_of)
    available, locked, expiring, first = conn.execute(query).one()
    return LotTotals(int(available), int(locked), int(expiring), first)


def usable(lots: Iterable[Lot], moment: dt.datetime, locked: bool = False) -> list[Lot]:
    """The ``lots`` a debit dated ``moment`` may consume: those earned by then and spendable
    then (:meth:`Lot.spendable`), or with ``locked`` those earned by then and not expired
    then, locked or not."""
    return [lot for lot in lots
            if lot.at <= moment and not lot.expired(moment) and (locked or lot.spendable(moment))]


def take(lots: list[Lot], points: int, moment: dt.datetime, first: Iterable[int] = (),
         locked: bool = False) -> list[Use]:
    """Consume up to ``points`` from the :func:`usable` ``lots`` at ``moment`` (mutated):
    ``first`` lot ids, then FIFO; from each lot what :meth:`Lot.left` allows, its points
    never written off first, then those an expiry dated after ``moment`` wrote off (given
    back: :attr:`Use.given_back`).

    Returns the uses; their sum is less than asked when the lots run out.
    """
    preferred = set(first)
    order = usable([lot for lot in lots if lot.id in preferred] +
                   [lot for lot in lots if lot.id not in preferred], moment, locked)
    uses = []
    for lot in order:
        if points <= 0:
            break
        used = min(lot.left(moment), points)
        if used <= 0:
            continue
        expiry = lot.written_off
        given = 0 if expiry is None else max(used - (lot.remaining - expiry.points), 0)
        lot.remaining -= used
        points -= used
        if given:
            expiry.points -= given
        uses.append(Use(lot.id, used,
                        WriteOff(expiry.expire_id, expiry.at, given) if given else None))
    return uses


def lock_members(conn, customer_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Lock the members' rows (``FOR UPDATE`` on PostgreSQL; SQLite's write lock is already held).

    Locks in customer-id order so concurrent writers cannot deadlock; returns the rows.
    """
    result = {}
    for part in chunks(customer_ids):
        query = (select(members).where(members.c.customer_id.in_(part))
                 .order_by(members.c.customer_id).with_for_update())
        result.update({r["customer_id"]: dict(r) for r in conn.execute(query).mappings()})
    return result


def enrol(conn, joined: dict[int, dt.datetime], review_at) -> None:
    """Create member rows for customers not yet members (``review_at(joined_at)`` gives the review)."""
    if not joined:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    rows = [{"customer_id": c, "joined_at": at, "tier": None, "tier_since": None,
             "review_at": review_at(at), "purchases": 0, "owed": 0}
            for c, at in sorted(joined.items())]
    conn.execute(dialect.insert(members).on_conflict_do_nothing(index_elements=["customer_id"]),
                 rows)


def change_owed(conn, deltas: dict[int, int]) -> None:
    """Add each delta to the member's owed points (one executemany)."""
    rows = [{"cid": c, "delta": d} for c, d in deltas.items() if d]
    if rows:
        conn.execute(update(members).where(members.c.customer_id == bindparam("cid"))
                     .values(owed=members.c.owed + bindparam("delta")), rows)


def sums(conn, customer_ids: Iterable[int] | None, as_of: dt.datetime | None = None
         ) -> dict[int, tuple[int, int]]:
    """``{customer_id: (Σ points, Σ owed_change)}`` of ledger rows dated at or before ``as_of``."""
    query = (select(ledger.c.customer_id, func.sum(ledger.c.points), func.sum(ledger.c.owed_change))
             .group_by(ledger.c.customer_id))
    if as_of is not None:
        query = query.where(ledger.c.at <= as_of)
    if customer_ids is None:
        return {r[0]: (int(r[1]), int(r[2])) for r in conn.execute(query)}
    result = {}
    for part in chunks(customer_ids):
        result.update({r[0]: (int(r[1]), int(r[2]))
                       for r in conn.execute(query.where(ledger.c.customer_id.in_(part)))})
    return result


def debt_dates(conn, customer_ids: Iterable[int]) -> dict[int, dt.datetime]:
    """``{customer_id: date}`` of each member's latest ledger row adding to what they owe."""
    query = (select(ledger.c.customer_id, func.max(ledger.c.at))
             .where(ledger.c.owed_change > 0).group_by(ledger.c.customer_id))
    result: dict[int, dt.datetime] = {}
    for part in chunks(customer_ids):
        result.update(conn.execute(query.where(ledger.c.customer_id.in_(part))).all())
    return result


def settle_owed(conn, owed: dict[int, int], now: dt.datetime, actor: str,
                inactivity: Inactivity | None) -> dict[int, int]:
    """Pay members' owed points from their lots (new earnings first by construction).

    ``owed`` maps customer ids to what they owe; the members must already be
    locked by the caller when lots may be spent concurrently.  A lot pays on its
    *pay-off date*: when it was earned or, if later, the member's latest debt
    (:func:`debt_dates`), locked or not, and nothing if expired or lapsed by
    then (``inactivity``: the expiry mode's rule, see :func:`.inactivity.of`,
    here counting activity up to the latest of those debts).  Lots pay in order
    of their pay-off dates, FIFO among those of one date, each date that pays
    anything writing one ``reverse`` row dated then (recorded at ``now``);
    returns what each member paid.
    """
    owing = {c: o for c, o in owed.items() if o > 0}
    if not owing:
        return {}
    debts = debt_dates(conn, owing)
    if inactivity is not None:
        inactivity = attrs.evolve(inactivity, moment=max(debts.values()))
    lots = open_lots(conn, owing, inactivity=inactivity,
                     written_off_after=min(debts.values()))
    rows, paid = [], {}
    for customer_id, due in sorted(owing.items()):
        by_day: dict[dt.datetime, list[Lot]] = {}
        for lot in lots.get(customer_id, []):
            by_day.setdefault(max(debts[customer_id], lot.at), []).append(lot)
        left = due
        for day in sorted(by_day):
            if left <= 0:
                break
            uses = take(by_day[day], left, day, locked=True)
            amount = sum(use.points for use in uses)
            if amount > 0:
                rows.append({"customer_id": customer_id, "at": day, "type": "reverse",
                             "source": "owed", "points": -amount, "owed_change": -amount,
                             "reason": "owed points paid off from new earnings", "uses": uses})
                left -= amount
        if left < due:
            paid[customer_id] = due - left
    append(conn, rows, now, actor)
    change_owed(conn, {c: -p for c, p in paid.items()})
    return paid
