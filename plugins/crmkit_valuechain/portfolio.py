"""Stage 1, customer portfolio analysis: strategically significant customers (SSCs).

An SSC is marked with one or more reasons (Buttle): ``high_value`` (high
lifetime value), ``benchmark``, ``inspiration``, ``door_opener``.  Value SSCs
are suggested from the analytical plugin's predicted CLV: of the ``n``
customers with CLV > 0, the top ``ceil(ssc_top_share × n)`` (ties: lower id).
Without predicted CLV (the models cannot be fitted) :class:`MissingCLV` says why.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import attrs
from sqlalchemy import delete, insert, select, update

from crmkit.plugin import NotFound, PluginError, ValidationError, customers

from .errors import MissingCLV
from .network import optional_text
from .settings import Settings
from .tables import ssc

REASONS = ("high_value", "benchmark", "inspiration", "door_opener")


@attrs.frozen
class Suggestion:
    """A customer suggested as a high-value SSC."""

    rank: int
    customer: str
    name: str | None
    clv: Decimal
    marked: bool


@attrs.frozen
class SSC:
    """A marked strategically significant customer."""

    customer: str
    name: str | None
    group: str
    reasons: tuple[str, ...]
    note: str | None
    marked_at: dt.datetime


def suggest(crm, conn, settings: Settings, as_of: dt.datetime,
            top_share: float | None = None) -> list[Suggestion]:
    """Customers to consider as high-value SSCs, best first."""
    if "analytical" not in crm.enabled_plugins():
        raise PluginError("valuechain needs the analytical plugin for CLV: "
                          "`crmkit plugins enable analytical`")
    share = settings.ssc_top_share if top_share is None else top_share
    if not 0 < share <= 1:
        raise ValidationError(f"top share: {share} is outside (0, 1]")
    outcome = crm.plugin("analytical").clv_outcome(as_of)
    if outcome.missing:
        raise MissingCLV(f"no SSC suggestions from CLV: no predicted CLV ({outcome.missing})")
    clv = {cid: Decimal(str(v)) for cid, v in outcome.values.items()
           if v is not None and Decimal(str(v)) > 0}
    ranked = sorted(clv.items(), key=lambda item: (-item[1], item[0]))
    top = ranked[:math.ceil(Decimal(str(share)) * len(ranked))]
    if not top:
        return []
    ids = [cid for cid, _ in top]
    info = {r.id: r for r in conn.execute(
        select(customers.c.id, customers.c.external_id, customers.c.name,
               customers.c.erased_at).where(customers.c.id.in_(ids)))}
    marked = {r[0] for r in conn.execute(select(ssc.c.customer_id).where(ssc.c.customer_id.in_(ids)))}
    out = []
    for rank, (cid, value) in enumerate(top, start=1):
        row = info.get(cid)
        if row is None or row.erased_at is not None:
            continue
        out.append(Suggestion(rank, row.external_id, row.name, value.quantize(Decimal("0.01")),
                              cid in marked))
    return out


def _customer_id(conn, external_id: str) -> int:
    row = conn.execute(select(customers.c.id, customers.c.erased_at)
                       .where(customers.c.external_id == external_id)).first()
    if row is None:
        raise NotFound(f"no customer {external_id!r}")
    if row.erased_at is not None:
        raise ValidationError(f"customer {external_id!r} was erased")
    return row.id


def mark(tx, settings: Settings, external_id: str, reasons: list[str],
         group: str | None = None, note: str | None = None) -> None:
    """Mark (or re-mark) a customer as an SSC; audited, emits ``valuechain.ssc_marked``."""
    reasons = list(dict.fromkeys(reasons))
    bad = [r for r in reasons if r not in REASONS]
    if not reasons or bad:
        raise ValidationError(f"reasons: {bad[0] if bad else 'none given'!r} — give one or more "
                              f"of {', '.join(REASONS)}")
    group = group or settings.default_ssc_group
    optional_text(tx, group, "group", 100)
    optional_text(tx, note, "note", 1000)
    customer_id = _customer_id(tx.conn, external_id)
    values = {"reasons": reasons, "ssc_group": group, "note": note, "marked_at": tx.now(),
              "marked_by": tx.actor}
    old = tx.conn.execute(select(ssc.c.reasons, ssc.c.ssc_group)
                          .where(ssc.c.customer_id == customer_id)).first()
    if old is None:
        tx.conn.execute(insert(ssc).values(customer_id=customer_id, **values))
    else:
        tx.conn.execute(update(ssc).where(ssc.c.customer_id == customer_id).values(**values))
    ctx = tx.context("valuechain")
    ctx.audit("mark_ssc", "valuechain_ssc", external_id,
              {"reasons": [old.reasons if old else None, reasons],
               "group": [old.ssc_group if old else None, group]}, customer_id=customer_id)
    ctx.emit("valuechain.ssc_marked", customer_id, {"reasons": reasons, "group": group})


def unmark(tx, external_id: str) -> None:
    """Remove a customer's SSC mark; audited."""
    customer_id = _customer_id(tx.conn, external_id)
    if tx.conn.execute(delete(ssc).where(ssc.c.customer_id == customer_id)).rowcount == 0:
        raise NotFound(f"customer {external_id!r} is not marked as an SSC")
    tx.context("valuechain").audit("unmark_ssc", "valuechain_ssc", external_id, {},
                                   customer_id=customer_id)


def list_sscs(conn) -> list[SSC]:
    """Every SSC, by group then customer."""
    query = (select(customers.c.external_id, customers.c.name, ssc)
             .join(ssc, ssc.c.customer_id == customers.c.id)
             .order_by(ssc.c.ssc_group, customers.c.id))
    return [SSC(r.external_id, r.name, r.ssc_group, tuple(r.reasons), r.note, r.marked_at)
            for r in conn.execute(query)]


def ssc_groups(conn) -> list[str]:
    """The SSC groups in use."""
    return [r[0] for r in conn.execute(select(ssc.c.ssc_group).distinct().order_by(ssc.c.ssc_group))]
