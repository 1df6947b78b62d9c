"""collaborative's part of ``crmkit demo``: today's inbox routed, some hand-offs, outbound contacts."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from crmkit.plugin import ConsentError

KINDS = [("message", 0.4), ("call", 0.25), ("complaint", 0.2), ("email", 0.15)]
CHANNELS = {"message": ["sms", "web", "social"], "call": ["phone"], "complaint": ["email", "web"],
            "email": ["email"]}
NOTES = ["question about an invoice", "asks for a refund on a duplicate charge",
         "wants an upgrade quote", "interested in the business plan"]
SUBJECTS = ["Following up on your message", "Your order update", "About your recent complaint"]


COMPLAINTS = ["delivery was late", "too expensive", "product broke after a week", "slow support"]


def history(rng, start: dt.datetime, end: dt.datetime, per_customer: float,
            products: list[dict[str, str]]) -> list[dict]:
    """One demo customer's complaints over the history (``crmkit_demo_interactions``; the
    sample ``products`` are not needed)."""
    days = (end - start).total_seconds() / 86400
    return [{"occurred_at": start + dt.timedelta(days=rng.uniform(0, days)), "kind": "complaint",
             "channel": rng.choice(CHANNELS["complaint"]), "direction": "inbound",
             "payload": {"text": rng.choice(COMPLAINTS)}}
            for _ in range(int(rng.expovariate(1 / (per_customer * 0.045))))]


def run(crm, rng) -> list[str]:
    """Record a day of inbound contacts (routed into work items), hand some off, contact customers."""
    api = crm.plugin("collaborative")
    now = crm.clock.now().replace(microsecond=0)
    people = [c.external_id for c in crm.customers.list(limit=None, type="person")]
    picked = rng.sample(people, min(80, len(people)))
    rows = []
    for n, customer in enumerate(picked):
        kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
        payload = {"text": "The parcel arrived damaged"} if kind == "complaint" else {}
        rows.append({"customer": customer, "kind": kind, "channel": rng.choice(CHANNELS[kind]),
                     "direction": "inbound", "external_id": f"collaborative-demo-{n}",
                     "occurred_at": now - dt.timedelta(minutes=rng.randrange(1, 24 * 60)),
                     "payload": payload})
    crm.interactions.record_many(rows)
    items = [i for c in picked for i in api.items_of(c)]
    with crm.transaction():  # one commit for the day's follow-up work
        return _follow_up(crm, api, rng, people, items)


def _follow_up(crm, api, rng, people, items) -> list[str]:
    """Hand-offs, work started and finished, outbound contacts; the report lines."""
    by_team = Counter(i.team for i in items)
    by_rule = Counter(i.rule for i in items)
    handed = acknowledged = 0
    for item in items[:12]:
        target = "billing" if item.team != "billing" else "sales"
        api.hand_off(item.id, target, rng.choice(NOTES))
        handed += 1
        if rng.random() < 0.5:
            api.acknowledge(item.id)
            acknowledged += 1
    started = finished = 0
    for item in items[12:30]:
        current = api.work_item(item.id)
        if current.state == "queued":
            members = crm.staff.list(team=current.team)
            if not members:
                continue
            api.assign(item.id, rng.choice(members).handle)
        api.start(item.id)
        started += 1
        if rng.random() < 0.6:
            api.complete(item.id)
            finished += 1
    sent = overridden = refused = 0
    for customer in rng.sample(people, min(30, len(people))):
        record = crm.customers.get(customer)
        if rng.random() < 0.7 and record.preferred_channel:
            crm.customers.set_consent(customer, record.preferred_channel, True, "demo sign-up form")
        if rng.random() < 0.5:
            crm.customers.set_consent(customer, "phone", True, "demo call centre")
        urgent = rng.random() < 0.3 and record.preferred_channel != "phone"
        try:
            if urgent:
                api.contact(customer, rng.choice(SUBJECTS), channel="phone",
                            override_reason="urgent: delivery address needs confirming")
            else:
                api.contact(customer, rng.choice(SUBJECTS))
        except ConsentError:
            refused += 1
            continue
        if urgent:
            overridden += 1
        else:
            sent += 1
    teams = ", ".join(f"{t} {n}" for t, n in sorted(by_team.items()))
    rules = ", ".join(f"{r} {n}" for r, n in by_rule.most_common())
    return [
        f"today's inbox: {len(items)} inbound interactions routed ({teams})",
        f"deciding rules: {rules}",
        f"hand-offs: {handed} ({acknowledged} acknowledged, {handed - acknowledged} awaiting "
        f"acknowledgement within {crm.plugin_config('collaborative')['ack_hours']:g} h)",
        f"work started on {started} items, {finished} done",
        f"outbound: {sent} on the preferred channel, {overridden} with a recorded override, "
        f"{refused} refused (no consent)",
    ]
