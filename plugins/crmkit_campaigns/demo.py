"""campaigns' part of ``crmkit demo``: the campaigns in the demo CRM."""

from __future__ import annotations

import random


def run(crm, rng: random.Random) -> list[str]:
    """Report the demo CRM's campaigns and their recipient counts."""
    rows = crm.plugin("campaigns").list()
    return [f"campaigns: {len(rows)} campaign(s)"] + [
        f"  {r['name']}: {r['status']}, {r['queued']} queued, {r['skipped']} skipped, "
        f"{r['held_out']} held out" for r in rows]
