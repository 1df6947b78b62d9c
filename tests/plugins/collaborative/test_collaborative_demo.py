"""collaborative's part of ``crmkit demo`` on a small sample CRM."""

from __future__ import annotations

import random

from crmkit import demo as sample


def test_demo_routes_an_inbox_hands_off_and_contacts(crm):
    crm.plugins.enable("collaborative")
    for handle, name, team in sample.STAFF:
        crm.staff.add(handle, name, team)
    crm.customers.add_many(sample.customers(random.Random(3), 100))
    lines = crm.hooks.call_one("collaborative", "crmkit_demo", None, crm=crm,
                               rng=random.Random(5))
    api = crm.plugin("collaborative")
    load = {t.team: t for t in api.team_load()}
    open_items = sum(t.queued + t.assigned + t.in_progress for t in load.values())
    contacts = crm.events.list(type="contact.sent")
    assert lines[0].startswith("today's inbox: 80 inbound interactions routed (")
    assert len(crm.events.list(type="workitem.routed")) == 80
    done = sum(1 for e in crm.events.list(type="workitem.changed") if e.payload["to"] == "done")
    assert open_items == 80 - done
    assert lines[2].startswith("hand-offs: 12 (")
    assert sum(t.awaiting_ack for t in load.values()) == int(lines[2].split("(")[1].split()[2])
    assert lines[4].startswith(f"outbound: {sum(not e.payload['override'] for e in contacts)} "
                               f"on the preferred channel, "
                               f"{sum(e.payload['override'] for e in contacts)} with a recorded "
                               "override")
