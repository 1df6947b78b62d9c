"""My work's section of this plugin (the plugin part ``work``): the work items handed to the
member's team that nobody has acknowledged yet, with who handed them, their note and the
acknowledgement countdown, read through this plugin's API handlers; **Acknowledge** is the
page ``pages.acknowledge``."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any, Iterator

from crmkit.plugin import Site, WorkSection, countdown, gettext as _


def handoffs(site: Site, principal, team: str, now: dt.datetime) -> list[dict[str, Any]]:
    """The hand-offs waiting in ``team``'s queue, each with its last ``handoff`` history
    entry and acknowledgement ``countdown``."""
    items = [item for item in _queue(site, principal, team) if item["ack_due_at"] is not None]
    for item in items:
        history = site.api(principal, "GET", f"collaborative/items/{item['id']}")["history"]
        handed = [entry for entry in history if entry["action"] == "handed_off"]
        item["handoff"] = handed[-1] if handed else None
        item["countdown"] = countdown(item["ack_due_at"], now)
    return items


def _queue(site: Site, principal, team: str) -> Iterator[dict[str, Any]]:
    """Every open work item of ``team``'s queue, oldest first, page by page."""
    path = f"collaborative/queues/{urllib.parse.quote(team, safe='')}"
    query: dict[str, Any] = {"limit": 1000}
    while True:
        page = site.api(principal, "GET", path, query)
        yield from page["items"]
        if page["next_cursor"] is None:
            return
        query = {"limit": 1000, "cursor": page["next_cursor"]}


def sections(site: Site, principal, now: dt.datetime) -> list[WorkSection]:
    """Hand-offs to acknowledge."""
    team = site.crm.staff.get(principal.handle).team
    waiting = handoffs(site, principal, team, now)
    return [WorkSection(
        "collaborative-handoffs", _("Hand-offs to acknowledge"), waiting, "work_handoff.html",
        _("No hand-offs are waiting for your team."),
        hint=_("Work handed to your team ({team}) that nobody has acknowledged yet.").format(
            team=team),
        values={"names": site.customer_names(principal, {item["customer"] for item in waiting}),
                "can_acknowledge": site.crm.auth.allowed(principal, "collaborative.write")},
        notices={"collaborative.handoff": _("Hand-off acknowledged.")})]
