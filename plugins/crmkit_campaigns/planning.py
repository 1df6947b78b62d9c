"""Planning a campaign's recipients, set-based, and reading campaigns back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from .tables import campaigns, recipients

LIST_COLUMNS = ["name", "channel", "status", "schedule_at", "planned", "queued", "skipped",
                "held_out", "created_at"]
"""The columns of ``crmkit campaigns list``."""


def campaign_summaries(conn, where=None) -> list[dict[str, Any]]:
    """Campaigns (newest first) with their recipient counts by status."""
    counts = {status: func.coalesce(func.sum(case((recipients.c.status == status, 1), else_=0)),
                                    0).label(status)
              for status in ("planned", "queued", "skipped", "held_out")}
    c = campaigns.c
    query = (select(c.id, c.name, c.goal, c.channel, c.status, c.schedule_at, c.created_at,
                    *counts.values())
             .select_from(campaigns.outerjoin(recipients, recipients.c.campaign_id == c.id))
             .group_by(c.id, c.name, c.goal, c.channel, c.status, c.schedule_at, c.created_at)
             .order_by(c.created_at.desc(), c.name))
    if where is not None:
        query = query.where(where)
    return [dict(row._mapping) for row in conn.execute(query)]
