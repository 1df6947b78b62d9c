"""Planning a campaign: one INSERT … SELECT of its audience into ``campaigns_recipients``.

Each customer of the audience (not erased, not planned for this campaign yet)
gets one row, decided in SQL, in this order:

1. skipped, with the first reason that applies: ``no address`` (no email for an
   email campaign), ``no consent`` (the consent ledger has no decision for the
   channel), ``consent withdrawn``, ``prefers <channel>`` (the customer's
   preferred channel is another one: the collaborative plugin's rule that a
   customer is contacted on the preferred channel), ``frequency cap`` (the
   customer already has the cap's number of messages on the channel in the
   window: queued or sent in the core's ``messages``, or planned by another
   campaign);
2. held out, when the customer's draw is below the holdout fraction;
3. planned, with the variant the second draw falls in.

The draws are a hash of the campaign's seed and the customer id, computed in
SQL with 64-bit integer arithmetic (the same on SQLite and PostgreSQL), so a
customer's holdout and variant never change between runs.  Running again plans
only customers who joined the audience since.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (BigInteger, Boolean, String, and_, case, cast, func, literal, not_, null,
                        or_, select, true, union_all, update)
from sqlalchemy.dialects import postgresql, sqlite

from crmkit.plugin import (ADDRESSED_BY, ValidationError, consents, customer_condition,
                           customers, messages)

from . import templates
from .definition import (PLANNING_REASONS, SEED_RANGE, campaign_row, campaign_variants,
                         recipient_counts)
from .settings import Settings, settings_of
from .tables import campaigns, recipients

HOLDOUT_SALT = 1
VARIANT_SALT = 2


def draw(customer_id, seed: int, salt: int):
    """A stable pseudo-random integer in [0, 2^31 - 1) for each customer: two rounds of an
    affine step and a squaring modulo the prime 2^31 - 1 (every product stays below 2^63)."""
    p = literal(SEED_RANGE, BigInteger)
    x = (cast(customer_id, BigInteger) * literal(48271, BigInteger)
         + literal((seed * 7 + salt * 1_000_003) % SEED_RANGE, BigInteger)) % p
    x = (x * x) % p
    x = (x * literal(16807, BigInteger) + literal((seed + salt) % SEED_RANGE, BigInteger)) % p
    return (x * x) % p


def threshold(fraction: float) -> int:
    """The draw below which a customer falls in the first ``fraction`` of the range."""
    return int(round(fraction * SEED_RANGE))


def audience(crm, definition: dict[str, Any], as_of: dt.datetime):
    """``(source, test)``: ``customers`` joined to a saved segment's members, or ``customers``
    and the condition as a WHERE test (no second pass over customers); erased ones excluded."""
    if "segment" in definition:
        members = crm.plugin("analytical").segment_query(definition["segment"], as_of
                                                         ).subquery("audience")
        return customers.join(members, members.c.id == customers.c.id), true()
    return customers, and_(customers.c.erased_at.is_(None),
                           customer_condition(definition["if"]))


def capped(settings: Settings, channel: str, campaign_id: int, now: dt.datetime):
    """SELECT of the customers at the channel's frequency cap (None: the channel has no cap):
    messages queued or sent on it in the window plus recipients other campaigns planned on it.
    Used as ``id IN (…)``, which both databases evaluate once (a hashed subplan, an ephemeral
    index) rather than once per customer."""
    cap = settings.frequency_caps.get(channel)
    if cap is None:
        return None
    m = messages.c
    sent = select(m.customer_id.label("customer_id")).where(
        m.channel == channel, m.customer_id.is_not(None),
        m.created_at >= now - dt.timedelta(days=cap.days),
        m.status.not_in(("cancelled", "failed")))
    planned = (select(recipients.c.customer_id.label("customer_id"))
               .join(campaigns, campaigns.c.id == recipients.c.campaign_id)
               .where(campaigns.c.channel == channel, recipients.c.status == "planned",
                      recipients.c.campaign_id != campaign_id))
    counted = union_all(sent, planned).subquery("counted")
    return (select(counted.c.customer_id).group_by(counted.c.customer_id)
            .having(func.count() >= cap.messages))


def plan_query(crm, campaign: dict[str, Any], settings: Settings, now: dt.datetime):
    """The SELECT of the new ``campaigns_recipients`` rows (columns in ``PLANNED`` order).

    Each customer's reason and draws are computed once, in a MATERIALIZED common table
    expression: the status, holdout and variant columns all depend on them, and both
    databases would otherwise inline the expression (the consent tests, the frequency-cap
    lookup, the hash draws) into every column that uses it."""
    channel = campaign["channel"]
    c = customers.c
    source, in_audience = audience(crm, campaign["audience"], now)
    consent = consents.alias("consent")
    source = source.outerjoin(consent, and_(consent.c.customer_id == c.id,
                                            consent.c.channel == channel))
    no_address, no_consent, withdrawn, at_cap_reason = (literal(reason, String)
                                                         for reason in PLANNING_REASONS)
    rules = []
    if channel in ADDRESSED_BY:
        address = c[ADDRESSED_BY[channel]]
        rules.append((or_(address.is_(None), address == ""), no_address))
    rules += [(consent.c.granted.is_(None), no_consent),
              (not_(consent.c.granted), withdrawn),
              (and_(c.preferred_channel.is_not(None), c.preferred_channel != channel),
               literal("prefers ", String) + c.preferred_channel)]
    at_cap = capped(settings, channel, campaign["id"], now)
    if at_cap is not None:
        rules.append((c.id.in_(at_cap), at_cap_reason))
    seed = campaign["seed"]
    decided = (select(c.id.label("customer_id"), case(*rules, else_=null()).label("reason"),
                      draw(c.id, seed, HOLDOUT_SALT).label("holdout_draw"),
                      draw(c.id, seed, VARIANT_SALT).label("variant_draw"))
               .select_from(source).where(in_audience)
               ).cte("decided").prefix_with("MATERIALIZED")
    held = and_(decided.c.reason.is_(None),
                decided.c.holdout_draw < threshold(campaign["holdout"]))
    status = case((decided.c.reason.is_not(None), "skipped"), (held, "held_out"),
                  else_="planned")
    return select(literal(campaign["id"]), decided.c.customer_id,
                  _variant(crm, campaign, decided), cast(held, Boolean), status,
                  decided.c.reason, literal(now, recipients.c.planned_at.type)
                  ).where(true())  # SQLite: a WHERE before ON CONFLICT keeps the parse unambiguous


def plan_statement(conn, select_rows):
    """INSERT the planned rows, skipping customers the campaign already has a row for (the
    unique (campaign_id, customer_id) index decides: no anti-join reading the table being
    written, which PostgreSQL may plan as a scan per row)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return (dialect.insert(recipients).from_select(PLANNED, select_rows)
            .on_conflict_do_nothing(index_elements=["campaign_id", "customer_id"]))


PLANNED = ["campaign_id", "customer_id", "variant", "holdout", "status", "reason", "planned_at"]
"""The columns :func:`plan_query` selects, in order."""


def _variant(crm, campaign: dict[str, Any], decided):
    """The variant of each planned recipient: the second draw's share band (NULL: no variants,
    or not planned)."""
    with crm.read() as conn:
        chosen = campaign_variants(conn, campaign["id"])
    if not chosen:
        return cast(null(), String)
    bands, total = [], 0.0
    for v in chosen[:-1]:
        total += v.share
        bands.append((decided.c.variant_draw < threshold(total), literal(v.name, String)))
    planned = and_(decided.c.reason.is_(None),
                   decided.c.holdout_draw >= threshold(campaign["holdout"]))
    return case((not_(planned), null()), *bands, else_=literal(chosen[-1].name, String))


def check_runnable(crm, conn, campaign: dict[str, Any]) -> None:
    """Refuse to plan what could not be rendered: tracking links (every email's, and links in
    any message) point at the core config's public_url, which must be set."""
    if crm.core_config.get("public_url"):
        return
    texts = [campaign["template"]] + [v.template for v in campaign_variants(conn, campaign["id"])]
    if campaign["channel"] == "email" or any(templates.URL.search(t) for t in texts):
        raise ValidationError(
            f"campaign {campaign['name']!r}: its messages carry tracking links (an email's "
            "open pixel and unsubscribe link, and every link in the text), which need the core "
            "config public_url (the address people reach crmkit serve at): crmkit config "
            "--set public_url=https://crm.example.com")


def run(crm, name: str) -> dict[str, Any]:
    """Plan the campaign's recipients (a new audience member of a running campaign too) and
    mark it running; returns how many rows this run added and the counts by status."""
    settings = settings_of(crm.plugin_config("campaigns"))

    def work(tx) -> int:
        campaign = campaign_row(tx.conn, name, lock=True)
        check_runnable(crm, tx.conn, campaign)
        rows = select(func.count()).where(recipients.c.campaign_id == campaign["id"])
        before = tx.conn.execute(rows).scalar_one()  # (sqlite3 has no rowcount for WITH …)
        tx.conn.execute(plan_statement(tx.conn, plan_query(crm, campaign, settings, tx.now())))
        added = tx.conn.execute(rows).scalar_one() - before
        tx.conn.execute(update(campaigns).where(campaigns.c.id == campaign["id"])
                        .values(status="running"))
        tx.audit("run", campaigns.name, name, {"status": [campaign["status"], "running"],
                                               "recipients_added": added})
        return added

    added = crm.run_transaction(work)
    with crm.read() as conn:
        counts = recipient_counts(conn, campaign_row(conn, name)["id"])
    return {"campaign": name, "new": added, **counts}


def due_scheduled(crm, now: dt.datetime) -> list[str]:
    """Names of the scheduled campaigns whose time has come (the worker plans them)."""
    with crm.read() as conn:
        return list(conn.execute(
            select(campaigns.c.name).where(campaigns.c.status == "scheduled",
                                           campaigns.c.schedule_at <= now)
            .order_by(campaigns.c.schedule_at, campaigns.c.name)).scalars())


def counts_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """A run's (or a campaign's) counts as ``count``/``recipients`` rows for table and CSV."""
    rows = [{"count": key, "recipients": result[key]}
            for key in ("new", "planned", "queued", "held_out", "skipped") if key in result]
    rows += [{"count": f"skipped: {reason}", "recipients": n}
             for reason, n in result["skipped_by_reason"].items()]
    rows += [{"count": f"variant {variant}", "recipients": n}
             for variant, n in result["by_variant"].items()]
    return rows
