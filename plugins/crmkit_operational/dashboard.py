"""operational's panel on the web app's dashboards: the funnel (stage counts, conversion)."""

from __future__ import annotations

from crmkit.plugin import Panel


def panels(crm, principal, as_of) -> list[Panel]:
    """The funnel at ``as_of``: customers reaching each stage (drawn), records at each stage
    now and the conversion to the next stage."""
    rows = crm.plugin("operational").stage_counts(as_of)
    ordered = [r for r in rows if r["reached"] is not None]
    exits = ", ".join(f"{r['current']} {r['stage']}" for r in rows if r["reached"] is None)
    return [Panel(
        name="operational.funnel", title="Funnel",
        columns=("Stage", "Reached (customers)", "At this stage now", "Conversion to next (%)"),
        rows=[(r["stage"], r["reached"], r["current"], r["conversion"]) for r in ordered],
        chart="funnel", x=0, y=(1,),
        note=f"Reached: customers whose furthest stage is this one or a later one. "
             f"Closed without winning: {exits}.")]
