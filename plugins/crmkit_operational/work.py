"""My work's sections of this plugin (the plugin part ``work``): the member's open tasks,
soonest due first, and their open and in-progress cases with the SLA countdowns, read
through this plugin's API handlers; **Complete** is the page ``pages.complete_task``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmkit.plugin import Site, WorkSection, countdown, gettext as _

SHOWN = 100
"""The most tasks, and the most cases per status, the page lists."""
OPEN_CASE_STATUSES = ("open", "in_progress")
"""The case statuses that still count as the member's work."""


def tasks(site: Site, principal, now: dt.datetime) -> list[dict[str, Any]]:
    """The member's open tasks as the API lists them, each with its due ``countdown``."""
    items = site.api(principal, "GET", "operational/tasks",
                     {"assignee": principal.handle, "status": "open", "limit": SHOWN})
    for task in items:
        task["countdown"] = countdown(task["due_at"], now)
    return items


def cases(site: Site, principal, now: dt.datetime) -> list[dict[str, Any]]:
    """The member's open and in-progress cases, the soonest resolution due first, each with
    the countdowns of its first response (until given) and of its resolution."""
    items = []
    for status in OPEN_CASE_STATUSES:
        items += site.api(principal, "GET", "operational/cases",
                          {"assignee": principal.handle, "status": status, "limit": SHOWN})
    for case in items:
        case["first_response"] = (None if case["first_response_at"] else countdown(
            case["first_response_due"], now, case["first_response_breached_at"]))
        case["resolution"] = countdown(case["resolution_due"], now,
                                       case["resolution_breached_at"])
    return sorted(items, key=lambda c: (c["resolution_due"], c["id"]))


def sections(site: Site, principal, now: dt.datetime) -> list[WorkSection]:
    """My open tasks and my open cases."""
    open_tasks, open_cases = tasks(site, principal, now), cases(site, principal, now)
    names = site.customer_names(principal, {row["customer"] for row in open_tasks + open_cases})
    can_complete = site.crm.auth.allowed(principal, "operational.write")
    return [WorkSection("operational-tasks", _("My open tasks"), open_tasks, "work_task.html",
                        _("No open tasks are assigned to you."),
                        values={"names": names, "can_complete": can_complete},
                        notices={"operational.task": _("Task completed.")}),
            WorkSection("operational-cases", _("My open cases"), open_cases, "work_case.html",
                        _("No open cases are assigned to you."), values={"names": names})]
