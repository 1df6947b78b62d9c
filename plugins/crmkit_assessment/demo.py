"""assessment's part of ``crmkit demo``: two assessments a quarter apart, from the demo's data."""

from __future__ import annotations

import datetime as dt

from .questionnaire import items


def run(crm, rng) -> list[str]:
    """Take an assessment three months ago and one now; report scores, band and gaps."""
    api = crm.plugin("assessment")
    now = crm.clock.now()
    enabled = set(crm.enabled_plugins())

    def answers(boost: int) -> dict:
        doc = {part: {i.key: max(1, min(5, rng.randint(2, 4) + boost)) for i in items(part)}
               for part in ("indicators", "capabilities")}
        doc["questions"] = {i.key: i.module in enabled and rng.random() < 0.5 + boost * 0.3
                            for i in items("questions")}
        return doc

    api.assess(answers(0), now - dt.timedelta(days=91), note="baseline")
    latest = api.assess(answers(1), now, note="after enabling the crmkit modules")
    s = latest["scores"]
    loyalty_gap = [g for g in latest["gaps"] if g["item"] == "loyal_rewarded"]
    disagree = [r["item"] for rows in latest["answers"].values() for r in rows
                if r["evidence_agrees"] is False]
    return [
        f"overall {s['overall']} ({s['band']}), change {latest['change']['overall']:+} since the "
        f"baseline; indicators {s['indicators']['mean']}/5, capabilities "
        f"{s['capabilities']['mean']}/5, {s['questions']['yes']}/11 yes",
        f"gaps: {len(latest['gaps'])}"
        + (f" (e.g. loyal customers not rewarded -> {loyalty_gap[0]['module']}, "
           f"{'enabled' if loyalty_gap[0]['module_enabled'] else 'not enabled'})"
           if loyalty_gap else ""),
        f"answers the data contradicts: {', '.join(disagree) if disagree else 'none'}",
    ]
