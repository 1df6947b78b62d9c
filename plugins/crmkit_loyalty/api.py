"""loyalty's public API: ``crm.plugin("loyalty")``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from sqlalchemy import and_, case, func, or_, select

from crmkit.plugin import PluginAPI, NotFound, ValidationError, month_number, text_limit

from . import expiry, inactivity, ledger as lg, rewards, tiers
from .errors import NotEnoughPoints
from .settings import Settings, add_months, program_currency
from .tables import IS_LOT, MAX_POINTS, REASON_WIDTH, ledger, members


@attrs.frozen
class Member:
    """A member's standing at ``as_of``."""

    external_id: str
    tier: str | None
    joined_at: dt.datetime
    review_at: dt.datetime
    purchases: int
    balance: int
    available: int
    locked: int
    owed: int


@attrs.frozen
class StatementLine:
    """One ledger row with the running balance after it."""

    id: int
    at: dt.datetime
    type: str
    source: str
    points: int
    balance: int
    owed_change: int
    reason: str
    expires_at: dt.datetime | None


@attrs.frozen
class TierSummary:
    """A configured tier with its rule and how many members hold it."""

    name: str
    threshold: Decimal
    multiplier: Decimal
    members: int


@attrs.frozen
class LiabilityLine:
    """Outstanding points and their cost for one tier (``tier`` None: members without a tier)."""

    tier: str | None
    members: int
    points: int
    liability: Decimal


@attrs.frozen
class ExpiryLiabilityLine:
    """Points still open at ``as_of`` that expire in one month (``month`` ``"YYYY-MM"``,
    None: points that never expire) and what they cost."""

    month: str | None
    members: int
    points: int
    liability: Decimal


class LoyaltyAPI(PluginAPI):
    """Points, tiers, rewards: everything other plugins and apps may call."""

    plugin = "loyalty"
    settings_class = Settings

    # -- helpers --------------------------------------------------------------------------

    def _customer_id(self, external_id: str) -> int:
        return self.crm.customers.get(external_id).id

    def _now(self, as_of: dt.datetime | None) -> dt.datetime:
        return self.crm.clock.now() if as_of is None else as_of

    def _ctx(self, tx):
        return tx.context("loyalty")

    # -- reading --------------------------------------------------------------------------

    def is_enabled_program(self) -> bool:
        """True when the program rewards customers: points are earned on purchases
        (``points_per_unit`` > 0) or bonuses (milestones, referrals) are configured."""
        s = self.settings
        return s.points_per_unit > 0 or bool(s.milestones) or s.referral_points > 0

    def balance(self, external_id: str, as_of: dt.datetime | None = None) -> int:
        """The member's points: the sum of their ledger rows dated at or before ``as_of``."""
        customer_id = self._customer_id(external_id)
        with self.crm.read() as conn:
            return lg.sums(conn, [customer_id], self._now(as_of)).get(customer_id, (0, 0))[0]

    def available(self, external_id: str, as_of: dt.datetime | None = None) -> int:
        """Points that can be spent at ``as_of`` (unlocked, unexpired; what an expiry run
        with a later date wrote off counts)."""
        customer_id = self._customer_id(external_id)
        moment = self._now(as_of)
        with self.crm.read() as conn:
            lots = lg.open_lots(conn, [customer_id], as_of=as_of,
                                inactivity=inactivity.of(self.settings, moment),
                                written_off_after=moment).get(customer_id, [])
        return sum(lot.remaining for lot in lots if lot.spendable(moment))

    def owed(self, external_id: str) -> int:
        """Points the member still owes from refunds of purchases whose points were spent."""
        customer_id = self._customer_id(external_id)
        with self.crm.read() as conn:
            return lg.sums(conn, [customer_id]).get(customer_id, (0, 0))[1]

    def tier(self, external_id: str) -> str | None:
        """The member's current tier (None for a non-member or below the lowest tier)."""
        customer_id = self._customer_id(external_id)
        with self.crm.read() as conn:
            return conn.execute(select(members.c.tier)
                                .where(members.c.customer_id == customer_id)).scalar()

    def member(self, external_id: str, as_of: dt.datetime | None = None) -> Member:
        """The member's standing (NotFound when the customer never joined)."""
        customer_id = self._customer_id(external_id)
        moment = self._now(as_of)
        with self.crm.read() as conn:
            row = conn.execute(select(members).where(members.c.customer_id == customer_id)
                               ).mappings().first()
            if row is None:
                raise NotFound(f"customer {external_id!r} is not a loyalty member "
                               "(members join with their first purchase)")
            balance, owed = lg.sums(conn, [customer_id], moment).get(customer_id, (0, 0))
            totals = lg.lot_totals(conn, customer_id, moment, as_of=as_of,
                                   inactivity=inactivity.of(self.settings, moment))
        return Member(external_id, row["tier"], row["joined_at"], row["review_at"],
                      row["purchases"], balance, totals.available, totals.locked, owed)

    def statement(self, external_id: str, as_of: dt.datetime | None = None,
                  after: int | None = None, limit: int | None = None) -> list[StatementLine]:
        """The member's ledger rows dated at or before ``as_of`` in the order written (by id),
        with the running balance after each; ``after`` (a line's id) starts past that line,
        ``limit`` stops after that many lines: a page of the statement."""
        customer_id = self._customer_id(external_id)
        mine = and_(ledger.c.customer_id == customer_id, ledger.c.at <= self._now(as_of))
        query = (select(ledger.c.id, ledger.c.at, ledger.c.type, ledger.c.source, ledger.c.points,
                        ledger.c.owed_change, ledger.c.reason, ledger.c.expires_at)
                 .where(mine).order_by(ledger.c.id).limit(limit))
        with self.crm.read() as conn:
            running = 0
            if after is not None:
                query = query.where(ledger.c.id > after)
                running = int(conn.execute(select(func.coalesce(func.sum(ledger.c.points), 0))
                                           .where(mine, ledger.c.id <= after)).scalar_one())
            rows = conn.execute(query).all()
        lines = []
        for r in rows:
            running += r.points
            lines.append(StatementLine(r.id, r.at, r.type, r.source, r.points, running,
                                       r.owed_change, r.reason, r.expires_at))
        return lines

    def tiers(self, as_of: dt.datetime | None = None) -> list[TierSummary]:
        """The configured tiers, lowest first, with their current member counts."""
        with self.crm.read() as conn:
            counts = dict(conn.execute(select(members.c.tier, func.count())
                                       .group_by(members.c.tier)).all())
        return [TierSummary(t.name, t.threshold, t.multiplier, counts.get(t.name, 0))
                for t in self.settings.tiers]

    def qualifying(self, external_id: str, as_of: dt.datetime | None = None) -> Decimal:
        """The member's qualifying value (tier_basis) in the window ending at ``as_of``."""
        customer_id = self._customer_id(external_id)
        with self.crm.read() as conn:
            values = tiers.qualifying(conn, self.settings, [customer_id], self._now(as_of),
                                      program_currency(self.crm))
        return values.get(customer_id, Decimal(0))

    def liability(self, as_of: dt.datetime | None = None) -> list[LiabilityLine]:
        """Outstanding points × ``cost_per_point``, per current tier: the ledger sums at
        ``as_of`` less what is left of lots expired by then (what ``expire`` at ``as_of``
        writes off)."""
        moment = self._now(as_of)
        cost = self.settings.cost_per_point
        source, expires = lg.lots_with(inactivity.of(self.settings, moment))
        lapsed = case((and_(IS_LOT, expires <= moment),
                       ledger.c.points - lg.used_points(moment)), else_=0)
        query = (select(members.c.tier, func.count(func.distinct(ledger.c.customer_id)),
                        func.sum(ledger.c.points) - func.sum(lapsed))
                 .select_from(source.join(members, members.c.customer_id == ledger.c.customer_id))
                 .where(ledger.c.at <= moment).group_by(members.c.tier))
        with self.crm.read() as conn:
            rows = conn.execute(query).all()
        order = {t.name: i for i, t in enumerate(self.settings.tiers)}
        lines = [LiabilityLine(tier, count, int(points or 0), (int(points or 0) * cost))
                 for tier, count, points in rows]
        return sorted(lines, key=lambda line: order.get(line.tier, -1))

    def liability_by_expiry(self, as_of: dt.datetime | None = None
                            ) -> list[ExpiryLiabilityLine]:
        """Points left at ``as_of`` in the lots earned by then that have not expired by then ×
        ``cost_per_point``, per UTC month of the lots' expiry (in ``inactivity`` mode: when
        they lapse unless the member is active again), soonest first (points that never
        expire last); summed in SQL."""
        moment = self._now(as_of)
        cost = self.settings.cost_per_point
        source, expires = lg.lots_with(inactivity.of(self.settings, moment))
        month = month_number(expires).label("month")
        remaining = ledger.c.points - lg.used_points(moment)
        query = (select(month, func.count(func.distinct(ledger.c.customer_id)),
                        func.sum(remaining))
                 .select_from(source)
                 .where(IS_LOT, ledger.c.at <= moment, remaining > 0,
                        or_(expires.is_(None), expires > moment))
                 .group_by(month))
        with self.crm.read() as conn:
            rows = conn.execute(query).all()
        lines = [ExpiryLiabilityLine(None if number is None
                                     else f"{number // 12:04d}-{number % 12 + 1:02d}",
                                     count, int(points), int(points) * cost)
                 for number, count, points in rows]
        return sorted(lines, key=lambda line: (line.month is None, line.month or ""))

    def rewards(self) -> list[rewards.Reward]:
        """The rewards catalogue."""
        with self.crm.read() as conn:
            return rewards.listing(conn)

    # -- writing --------------------------------------------------------------------------

    def redeem(self, external_id: str, reward_code: str) -> int:
        """Redeem a reward now; return the spend row's id (NotEnoughPoints / OutOfStock otherwise).

        The customer is locked first (``crm.customers.lock``), then the member."""
        return self.crm.run_transaction(lambda tx: rewards.redeem(
            tx, self.crm.customers.lock(tx, external_id).id, external_id, reward_code,
            tx.now(), inactivity.of(self.settings, tx.now())))

    def add_reward(self, code: str, points: int, stock: int | None = None,
                   name: str | None = None) -> rewards.Reward:
        """Add a reward to the catalogue."""
        with self.crm.transaction() as tx:
            return rewards.add(tx, code, points, stock, name)

    def restock(self, code: str, quantity: int) -> rewards.Reward:
        """Add stock to a reward."""
        with self.crm.transaction() as tx:
            return rewards.restock(tx, code, quantity)

    def retire(self, code: str) -> rewards.Reward:
        """Take a reward out of the catalogue (it can no longer be redeemed)."""
        with self.crm.transaction() as tx:
            return rewards.set_active(tx, code, False)

    def adjust(self, external_id: str, points: int, reason: str) -> int:
        """Add (positive) or deduct (negative, FIFO, never below zero) points by hand; audited.

        Returns the ledger row id.  A positive adjustment is a lot expiring like
        earned points; it first pays owed points.
        """
        if not isinstance(points, int) or isinstance(points, bool) or points == 0:
            raise ValidationError(f"adjust: points {points!r} must be a non-zero whole number")
        if abs(points) > MAX_POINTS:
            raise ValidationError(f"adjust: points {points}: one ledger entry holds at most "
                                  f"{MAX_POINTS} (and at least -{MAX_POINTS})")
        if not isinstance(reason, str) or not reason.strip():
            raise ValidationError("adjust: reason: required non-empty text")
        return self.crm.run_transaction(lambda tx: self._adjust(tx, external_id, points, reason))

    def _adjust(self, tx, external_id: str, points: int, reason: str) -> int:
        """:meth:`adjust` inside ``tx``: the customer is locked first, then the member."""
        reason = reason.strip()
        if problem := text_limit(tx.crm, REASON_WIDTH).problem(reason):
            raise ValidationError(f"adjust: reason: {problem}")
        customer_id = self.crm.customers.lock(tx, external_id).id
        s = self.settings
        now, conn = tx.now(), tx.conn
        rule = inactivity.of(s, now)
        lg.enrol(conn, {customer_id: now}, lambda joined: add_months(joined, s.review_months))
        member = lg.lock_members(conn, [customer_id])[customer_id]
        row = {"customer_id": customer_id, "at": now, "type": "adjust", "source": "manual",
               "points": points, "reason": reason}
        if points > 0:
            row.update(expires_at=s.lot_expiry(now), available_at=now)
        else:
            lots = lg.open_lots(conn, [customer_id], inactivity=rule,
                                written_off_after=now).get(customer_id, [])
            have = sum(lot.remaining for lot in lg.usable(lots, now, locked=True))
            if have < -points:
                raise NotEnoughPoints(f"customer {external_id!r} has {have} points; "
                                      f"cannot deduct {-points}")
            row["uses"] = lg.take(lots, -points, now, locked=True)
        [ledger_id] = lg.append(conn, [row], now, tx.actor)
        if points > 0 and member["owed"]:
            lg.settle_owed(conn, {customer_id: member["owed"]}, now, tx.actor, rule)
        tx.audit("adjust", "loyalty_ledger", str(ledger_id),
                 {"points": points, "reason": row["reason"]}, customer_id)
        return ledger_id

    def expire(self, as_of: dt.datetime | None = None) -> expiry.ExpiryResult:
        """Write the expire rows due at ``as_of`` (idempotent)."""
        with self.crm.transaction() as tx:
            return expiry.expire(self._ctx(tx), self.settings, self._now(as_of))

    def review_tiers(self, as_of: dt.datetime | None = None) -> list[tiers.TierChange]:
        """Review the members whose review date is at or before ``as_of`` (idempotent)."""
        with self.crm.transaction() as tx:
            return tiers.review(self._ctx(tx), self.settings, self._now(as_of))
