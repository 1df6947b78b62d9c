"""Customer data services for the analytical tables: timeline, merge, export, erase.

The per-customer rows are derived profiling results: the stored lifecycle
stage, stored RFM scores and stored CLV predictions.  Merge moves them to the
kept customer (dropping the duplicate's row where the kept one has its own:
the next sweep or run recomputes from the merged history), except the RFM
scores of both, which are dropped: the kept customer is scored from the merged
history until the next sweep.  Erase deletes them, since they profile a
person; run totals (``analytical_clv_runs``) keep their amounts, and the core
keeps the anonymised interactions they were computed from, so aggregates
still add up.  Erased customers are never stored again.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, exists, select, update

import crmkit

from .tables import clv_predictions as P
from .tables import clv_runs as R
from .tables import lifecycle as L
from .tables import rfm_scores as S


def timeline(ctx, customer_id: int, limit: int) -> list:
    """The stored lifecycle stage and the latest stored CLV prediction of the customer."""
    conn = ctx.conn
    entries = []
    stage = conn.execute(select(L).where(L.c.customer_id == customer_id)).mappings().first()
    if stage is not None:
        was = f" (was {stage['previous_stage']})" if stage["previous_stage"] else ""
        entries.append(crmkit.TimelineEntry(
            at=stage["changed_at"], kind="lifecycle", summary=f"lifecycle stage {stage['stage']}{was}",
            details={"stage": stage["stage"], "previous_stage": stage["previous_stage"]}))
    rows = conn.execute(select(P, R.c.as_of, R.c.settings).join(R, R.c.id == P.c.run_id)
                        .where(P.c.customer_id == customer_id)
                        .order_by(R.c.as_of.desc(), R.c.id.desc()).limit(1)).mappings()
    for row in rows:
        months = row["settings"].get("months")
        clv = row["clv"].quantize(Decimal("0.01"))
        entries.append(crmkit.TimelineEntry(
            at=row["as_of"], kind="clv",
            summary=f"predicted CLV {clv} over {months} months "
                    f"(P(alive) {row['p_alive']:.2f})",
            details={"run_id": row["run_id"], "clv": str(clv),
                     "p_alive": row["p_alive"], "expected_purchases": row["expected_purchases"]}))
    return entries[:limit]


def merge(ctx, keep_id: int, duplicate_id: int) -> None:
    """Move the duplicate's rows to ``keep_id``; afterwards none points at the duplicate."""
    conn = ctx.conn
    conn.execute(delete(S).where(S.c.customer_id.in_((keep_id, duplicate_id))))
    kept_stage = conn.execute(select(L.c.customer_id).where(L.c.customer_id == keep_id)).first()
    if kept_stage is not None:
        conn.execute(delete(L).where(L.c.customer_id == duplicate_id))
    else:
        conn.execute(update(L).where(L.c.customer_id == duplicate_id).values(customer_id=keep_id))
    both = P.alias("kept")
    conn.execute(delete(P).where(P.c.customer_id == duplicate_id,
                                 exists().where(and_(both.c.run_id == P.c.run_id,
                                                     both.c.customer_id == keep_id))))
    conn.execute(update(P).where(P.c.customer_id == duplicate_id).values(customer_id=keep_id))


def export(ctx, customer_id: int) -> dict[str, Any]:
    """The stored lifecycle stage, RFM scores and every stored CLV prediction of the customer."""
    conn = ctx.conn
    stage = conn.execute(select(L.c.stage, L.c.previous_stage, L.c.changed_at)
                         .where(L.c.customer_id == customer_id)).mappings().first()
    predictions = conn.execute(
        select(R.c.as_of, P.c.frequency, P.c.recency, P.c.age, P.c.monetary, P.c.p_alive,
               P.c.expected_purchases, P.c.expected_spend, P.c.clv)
        .join(R, R.c.id == P.c.run_id).where(P.c.customer_id == customer_id)
        .order_by(R.c.as_of, R.c.id)).mappings()
    scores = conn.execute(select(S.c.last_day, S.c.frequency, S.c.net, S.c.r, S.c.f, S.c.m,
                                 S.c.segment).where(S.c.customer_id == customer_id)
                          ).mappings().first()
    return {"lifecycle": dict(stage) if stage is not None else None,
            "rfm": dict(scores) if scores is not None else None,
            "clv_predictions": [dict(p) for p in predictions]}


def erase(ctx, customer_id: int) -> None:
    """Delete the customer's profiling rows (stage, RFM scores, CLV predictions); run totals
    stay."""
    ctx.conn.execute(delete(L).where(L.c.customer_id == customer_id))
    ctx.conn.execute(delete(S).where(S.c.customer_id == customer_id))
    ctx.conn.execute(delete(P).where(P.c.customer_id == customer_id))
