"""idic's part of ``crmkit demo``: a few duplicate records, groups, a treatment, dialogues."""

from __future__ import annotations

import datetime as dt


def _variant(name: str) -> str:
    first, _, last = name.partition(" ")
    return f"{first[:3]} {last}" if len(first) > 3 else f"{first}e {last}"


def run(crm, rng) -> list[str]:
    """Add look-alike records, differentiate, start a treatment, hold dialogues; report."""
    api = crm.plugin("idic")
    people = [c for c in crm.customers.list(limit=200, type="person") if c.email and c.phone]
    originals = rng.sample(people, min(4, len(people)))
    copies = []
    for i, c in enumerate(originals):
        row = {"external_id": f"DUP-{i + 1:02d}", "name": _variant(c.name or "")}
        if i % 2 == 0:
            row["email"] = c.email.upper()
        else:
            digits = c.phone.replace("+44", "0").replace(" ", "")
            row["phone"] = f"{digits[:3]} {digits[3:7]} {digits[7:]} (GB)"
        copies.append(row)
    crm.customers.add_many(copies)
    now = crm.clock.now()
    found = api.find_duplicates()
    merged = 0
    if found.pairs:
        best = found.pairs[0]
        api.merge(best.first, best.second)
        merged = 1
    result = api.differentiate(now)
    api.add_treatment("mvc-priority-line", "MVC", "service_level",
                      "Dedicated phone line and next-day callback", start=now - dt.timedelta(days=180))
    due = api.due(now)
    held = 0
    for contact in due[:25]:
        customer = crm.customers.get_by_id(contact.customer_id)
        crm.customers.set_consent(customer.external_id, contact.channel, True, "demo")
        api.record_dialogue(customer.external_id, "Checked in on recent orders",
                            contact.channel, now)
        held += 1
    rate = api.identification_rate(now)
    report = api.report(now)
    uplift = api.uplift("mvc-priority-line", "revenue", now)
    counts = ", ".join(f"{g} {n}" for g, n in result.counts.items())
    return [
        f"duplicates: {len(found.pairs)} candidate pairs (e.g. {found.pairs[0].first} ~ "
        f"{found.pairs[0].second}: {'; '.join(found.pairs[0].reasons)}); merged {merged}"
        if found.pairs else "duplicates: none found",
        f"identification rate: {rate.rate:.1%} of {rate.interactions} interactions",
        f"value groups: {counts}" + (f" (potential value 0 for everyone: no predicted CLV: "
                                     f"{result.clv_missing})" if result.clv_missing else ""),
        f"contacts due: {len(due)}; dialogues recorded: {held}",
        f"treatment mvc-priority-line: {uplift.treated} treated, {uplift.held_out} held out; "
        f"revenue per customer {uplift.treated_value} vs {uplift.holdout_value}, uplift "
        f"{uplift.uplift} ± {uplift.standard_error} (s.e.; the demo's purchases are random)",
        f"mean IDIC progress: {report['progress']['mean_progress']} / 4",
    ]
