"""Inactivity expiry: the date each lot lapses because its member did nothing for a while.

*Activity* is a ledger row that earns points (a purchase that earns any, a
milestone or referral bonus, a positive manual adjustment) or spends them (a
redemption); refund reversals, owed pay-offs, deductions and expiries are not.
A *lapse* ends each spell of ``inactivity_months`` without activity: an
activity at ``a`` whose next activity comes at or after ``add_months(a,
months)`` (or has not come) starts one, ending at that date.  A lot lapses at
the end of the first spell that starts at or after it was earned (every lot is
itself activity), whatever happens later: points a member let lapse stay lapsed.

Only activity dated at or before the moment asked about counts, so a lapse
after that moment is provisional (later activity moves it) and one at or
before it is final.  The dates are computed in SQL with window functions, for
one chunk of customers or for everyone at once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs
from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql import Subquery

from crmkit.plugin import UTCDateTime, add_months

from .tables import IS_LOT, ledger

ACTIVITY = or_(ledger.c.type.in_(("earn", "spend")),
               and_(ledger.c.type == "adjust", ledger.c.points > 0))
"""SQL: a ledger row is activity (see the module's description)."""


@attrs.frozen
class Inactivity:
    """Lots lapse after ``months`` without activity; dated as activity up to ``moment`` puts it."""

    months: int
    moment: dt.datetime

    def dates(self, customers: Any = None) -> Subquery:
        """Subquery ``(id, expires_at)``: when each lot dated at or before the moment lapses,
        for the customers ``customers`` (an argument for ``IN``; None: everyone)."""
        scope = [ledger.c.at <= self.moment]
        if customers is not None:
            scope.append(ledger.c.customer_id.in_(customers))
        follows = func.lead(ledger.c.at, type_=UTCDateTime()).over(
            partition_by=ledger.c.customer_id, order_by=(ledger.c.at, ledger.c.id))
        activity = (select(ledger.c.customer_id, ledger.c.at, follows.label("next_at"))
                    .where(ACTIVITY, *scope).subquery("loyalty_activity"))
        ends = add_months(activity.c.at, self.months)
        # window functions run after WHERE: ``after`` is the start of the previous spell
        after = func.lag(activity.c.at, type_=UTCDateTime()).over(
            partition_by=activity.c.customer_id, order_by=activity.c.at)
        spells = (select(activity.c.customer_id, activity.c.at, ends.label("ends"),
                         after.label("after"))
                  .where(or_(activity.c.next_at.is_(None), activity.c.next_at >= ends))
                  .subquery("loyalty_spells"))
        return (select(ledger.c.id, spells.c.ends.label("expires_at"))
                .join_from(ledger, spells, and_(
                    spells.c.customer_id == ledger.c.customer_id, spells.c.at >= ledger.c.at,
                    or_(spells.c.after.is_(None), spells.c.after < ledger.c.at)))
                .where(IS_LOT, *scope).subquery("loyalty_lapses"))


def of(s, moment: dt.datetime) -> Inactivity | None:
    """The inactivity rule of settings ``s`` at ``moment``; None unless ``expiry_mode`` is
    ``inactivity`` (lots then keep the date stored when they were earned)."""
    return Inactivity(s.inactivity_months, moment) if s.expiry_mode == "inactivity" else None
