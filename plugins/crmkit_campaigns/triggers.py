"""Triggered campaigns: a customer who did X and not Y within N hours gets the campaign.

The setting ``triggers`` lists ``{campaign, after, unless, hours}``: a customer with an
interaction of kind ``after`` (recorded since the campaign was created) that was not
followed by one of kind ``unless`` (*default* ``purchase``; null: nothing cancels)
within ``hours`` (*default* 48) is planned into the campaign once those hours have
passed, with the campaign's usual rules (consent, preferred channel, frequency caps,
holdout and variants); the worker then renders and sends the message.  ``crmkit sweep``
evaluates the triggers; it is idempotent: a customer is planned at most once per
campaign (one recipient row each), however often the sweep runs.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import exists, func, select, update

from crmkit.plugin import days_between, interactions

from .planning import plan_query, plan_statement
from .settings import Trigger, settings_of
from .tables import campaigns, recipients

ACTIVE = ("draft", "scheduled", "running", "done")
"""Statuses in which a trigger plans recipients: all but paused (a triggered campaign is done
whenever every recipient planned so far was rendered, and running again when the trigger
plans more)."""


def triggered(trigger: Trigger, since: dt.datetime, now: dt.datetime):
    """SELECT of the customers whose ``after`` interaction recorded since ``since`` was not
    followed by ``unless`` within ``hours``, the hours having passed by ``now``."""
    seen, later = interactions.alias("seen"), interactions.alias("later")
    hours = trigger.hours
    query = select(seen.c.customer_id).where(
        seen.c.kind == trigger.after, seen.c.recorded_at >= since,
        seen.c.occurred_at <= now - dt.timedelta(hours=hours))
    if trigger.unless is not None:
        query = query.where(~exists().where(
            later.c.customer_id == seen.c.customer_id, later.c.kind == trigger.unless,
            later.c.occurred_at >= seen.c.occurred_at,
            days_between(later.c.occurred_at, seen.c.occurred_at) <= hours / 24))
    return query.distinct()


def sweep(ctx) -> int:
    """Plan every trigger's new customers into its campaign (one INSERT … SELECT each) and
    mark a campaign that got any running; return how many recipients were planned."""
    planned = 0
    settings = settings_of(ctx.config)
    for trigger in settings.triggers:
        campaign = ctx.conn.execute(select(campaigns).where(
            campaigns.c.name == trigger.campaign)).mappings().first()
        if campaign is None or campaign["status"] not in ACTIVE:
            continue
        campaign = dict(campaign)
        query = plan_query(ctx.crm, campaign, settings, ctx.now())
        due = triggered(trigger, campaign["created_at"], ctx.now())
        count = select(func.count()).where(recipients.c.campaign_id == campaign["id"])
        before = ctx.conn.execute(count).scalar_one()
        ctx.conn.execute(plan_statement(
            ctx.conn, query.where(query.selected_columns.customer_id.in_(due))))
        added = ctx.conn.execute(count).scalar_one() - before
        if added and campaign["status"] != "running":
            ctx.conn.execute(update(campaigns).where(campaigns.c.id == campaign["id"])
                             .values(status="running"))
        if added:
            ctx.audit("run", campaigns.name, campaign["name"],
                      {"trigger": trigger.after, "recipients_added": added})
        planned += added
    return planned


__all__ = ["triggered", "sweep", "ACTIVE"]
