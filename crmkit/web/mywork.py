"""My work ``/my-work``: the signed-in staff member's open tasks, open cases with their SLA
countdown, and the hand-offs waiting for their team to acknowledge.

Tasks and cases come from the operational plugin's API handlers (those assigned to the
member), hand-offs from the collaborative plugin's (the member's team queue); **Complete**
and **Acknowledge** send the same handlers' writes (:meth:`Pages.api`), so permissions and
rules are the API's.  Countdowns run on the CRM clock and are written out ("2 h 5 min
left", "breached 1 d 3 h ago"): colour is never the only signal.  A section whose plugin is
not enabled, or that the member's role may not read, says so; the others still show.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..errors import ConflictError, NotFound, PermissionDenied, ValidationError
from .pages import Pages, signed_in, site_pages

SHOWN = 100
"""The most tasks, and the most cases per status, the page lists."""
OPEN_CASE_STATUSES = ("open", "in_progress")
"""The case statuses that still count as the member's work."""


def span(seconds: float) -> dict[str, int]:
    """A length of time (its absolute value) as whole days, hours and minutes."""
    minutes = int(abs(seconds) // 60)
    return {"days": minutes // 1440, "hours": minutes // 60 % 24, "minutes": minutes % 60}


def countdown(due: str | None, now: dt.datetime, breached_at: str | None = None
              ) -> dict[str, Any] | None:
    """``{"due", "late", "span"}`` of a deadline at ``now``: late once it passed (or the
    plugin recorded a breach); ``span`` is the time left, or how long ago it passed."""
    if due is None:
        return None
    seconds = (dt.datetime.fromisoformat(due) - now).total_seconds()
    return {"due": due, "late": seconds <= 0 or breached_at is not None, "span": span(seconds)}


def _section(read: Callable[[], Any]) -> tuple[Any, str | None]:
    """(what ``read`` returns, None) or (None, why the section cannot be shown)."""
    try:
        return read(), None
    except NotFound:
        return None, "not enabled"
    except PermissionDenied as exc:
        return None, str(exc)


def _tasks(site: Pages, principal, now: dt.datetime) -> list[dict[str, Any]]:
    items = site.api(principal, "GET", "operational/tasks",
                     {"assignee": principal.handle, "status": "open", "limit": SHOWN})
    for task in items:
        task["countdown"] = countdown(task["due_at"], now)
    return items


def _cases(site: Pages, principal, now: dt.datetime) -> list[dict[str, Any]]:
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


def _handoffs(site: Pages, principal, team: str, now: dt.datetime) -> list[dict[str, Any]]:
    queue = site.api(principal, "GET", f"collaborative/queues/{urllib.parse.quote(team, safe='')}")
    items = [item for item in queue if item["ack_due_at"] is not None]
    for item in items:
        history = site.api(principal, "GET", f"collaborative/items/{item['id']}")["history"]
        handed = [entry for entry in history if entry["action"] == "handed_off"]
        item["handoff"] = handed[-1] if handed else None
        item["countdown"] = countdown(item["ack_due_at"], now)
    return items


def show(site: Pages, request: Request, principal, status: int = 200,
         error: str | None = None) -> Response:
    """The page (``error``: why the last button's change was refused)."""
    now = site.crm.clock.now()
    team = site.crm.staff.get(principal.handle).team
    tasks, tasks_problem = _section(lambda: _tasks(site, principal, now))
    cases, cases_problem = _section(lambda: _cases(site, principal, now))
    handoffs, handoffs_problem = _section(lambda: _handoffs(site, principal, team, now))
    names = site.customer_names(principal, {row["customer"] for rows in (tasks, cases, handoffs)
                                            for row in rows or ()})
    done = site.done_notice(request)[0] if error is None else ""
    return site.render(
        request, "mywork.html", status, principal=principal, now=now, team=team, names=names,
        tasks=tasks, tasks_problem=tasks_problem, cases=cases, cases_problem=cases_problem,
        handoffs=handoffs, handoffs_problem=handoffs_problem, error=error, done=done,
        can_complete=site.crm.auth.allowed(principal, "operational.write"),
        can_acknowledge=site.crm.auth.allowed(principal, "collaborative.write"))


@signed_in
def my_work(site: Pages, request: Request, principal, form) -> Response:
    return show(site, request, principal)


def _change(site: Pages, request: Request, principal, path: str, body: Any, done: str
            ) -> Response:
    """Send one write to the API; back to the page (``?done=``), or the page with the
    refusal (422, or 409 for a conflict such as a hand-off already acknowledged)."""
    try:
        site.api(principal, "POST", path, body=body)
    except ConflictError as exc:
        return show(site, request, principal, 409, str(exc))
    except ValidationError as exc:
        return show(site, request, principal, 422, str(exc))
    return site.done_redirect(request, "/my-work", done)


@signed_in
def complete_task(site: Pages, request: Request, principal, form) -> Response:
    """Close the task as done through operational's ``POST tasks/{id}/status``."""
    task = urllib.parse.quote(request.path_params["task_id"], safe="")
    return _change(site, request, principal, f"operational/tasks/{task}/status",
                   {"status": "done"}, "task")


@signed_in
def acknowledge(site: Pages, request: Request, principal, form) -> Response:
    """Acknowledge the hand-off through collaborative's ``POST items/{id}/acknowledge``."""
    item = urllib.parse.quote(request.path_params["item_id"], safe="")
    return _change(site, request, principal, f"collaborative/items/{item}/acknowledge", None,
                   "handoff")


def routes(site: Pages) -> list[BaseRoute]:
    """My work's pages."""
    return site_pages(site, ("GET", "/my-work", my_work),
                      ("POST", "/my-work/tasks/{task_id}/done", complete_task),
                      ("POST", "/my-work/handoffs/{item_id}/acknowledge", acknowledge))


__all__ = ["routes", "countdown", "span", "SHOWN", "OPEN_CASE_STATUSES"]
