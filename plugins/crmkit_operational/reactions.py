"""How operational reacts to new customers, new interactions, domain events and the clock.

Each entry point is the body of one hook; the work itself lives in the
funnel, scoring, cases, tasks and automation modules.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select

from . import automation, cases, hits, scoring, tasks
from .funnel import ensure_leads
from .settings import settings_of
from .tables import leads


def new_customers(ctx, batch) -> None:
    """New customers enter the funnel (set-based) and get their fit score."""
    if not ensure_leads(ctx, first_id=batch.first_id, last_id=batch.last_id):
        return
    scoring.rescore(ctx, select(leads.c.customer_id).where(
        leads.c.customer_id.between(batch.first_id, batch.last_id)))


def new_interactions(ctx, batch) -> None:
    """Score the batch's customers, open cases for complaints, match interaction rules.

    The scores are those of the batch's customers and of any whose hits were
    forgotten (the plugin enabled again, changed rules: every lead).
    """
    in_batch = hits.customers_in(batch.first_id, batch.last_id)
    ensure_leads(ctx, in_batch)
    scoring.rescore(ctx, in_batch, batch=batch)
    if settings_of(ctx).open_case_on_complaint:
        cases.open_for_complaints(ctx, batch)
    automation.on_interactions(ctx, batch)


def events(ctx, delivered: Sequence[Any]) -> None:
    """Rescore on attribute changes, open cases for negative mentions, run automation rules."""
    settings = settings_of(ctx)
    changed = sorted({e.customer_id for e in delivered if e.type == "customer.updated"
                      and e.customer_id is not None
                      and {"attributes", "lifecycle_stage"} & set(e.payload.get("fields", []))})
    if changed:
        entered = ensure_leads(ctx, changed)
        if entered or settings.scoring.fit:
            scoring.rescore(ctx, changed)
    if settings.open_case_on_negative_mention:
        mentions = [e for e in delivered
                    if e.type == "social.negative_mention" and e.customer_id is not None]
        if mentions:
            cases.open_cases(ctx, [{
                "customer_id": e.customer_id, "priority": "high", "source": "social",
                "subject": (f"Negative mention on {e.payload.get('platform', 'social media')}"
                            f" by {e.payload.get('handle', 'a customer')}")}
                for e in mentions])
    automation.on_events(ctx, delivered)


def sweep(ctx) -> dict[str, int]:
    """Every time-based rule at ``ctx.now()``: idempotent at a fixed clock."""
    counts = {"cases_closed": cases.sweep_close(ctx), "sla_breaches": cases.sweep_breaches(ctx),
              "dormant_tasks": tasks.sweep_dormant(ctx)}
    counts.update(automation.sweep(ctx))
    return counts
