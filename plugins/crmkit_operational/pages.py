"""This plugin's web pages (the plugin part ``pages``): the pipeline board
``/operational/board``, and My work's **Complete** (``work.py`` lists the tasks).

The board has one column per configured opportunity stage, then ``won`` and ``lost``; each card shows the
opportunity's name, customer, amount, owner and its stage's win probability.  A card moves
by the keyboard-accessible form on it (a labelled stage select and a **Move** button, which
works without JavaScript) or by dragging it onto another column (``static/board.js`` sends
the same form).  Every read and move goes through this plugin's API handlers
(``site.api``): the same permissions, row-level rule (an agent without
``operational.all`` sees and moves only their own) and transition rules; an illegal move
shows the rule's message (422) and changes nothing.  Under the columns, the weighted
pipeline per owner (Σ amount × probability, summed in SQL by the API).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from crmkit.plugin import N_, Site, ValidationError, WebPage

PLUGIN = "operational"
FINAL_STAGES = (("won", 100), ("lost", 0))
"""operational's closed stages after the configured ones, with their win probability."""
OPEN_COLUMN = 200
"""The most opportunities one open stage's column shows (the newest)."""
CLOSED_COLUMN = 20
"""The most opportunities the won and lost columns show (the newest)."""


def columns(site: Site, principal) -> list[dict[str, Any]]:
    """The board's columns: stage, probability, whether it is open, and its opportunities
    as the API lists them for ``principal`` (newest first), each with ``customer_name``."""
    stages = [(s["name"], s["probability"])
              for s in site.crm.plugin_config(PLUGIN)["funnel"]["opportunity_stages"]]
    shown = []
    for name, probability in stages + list(FINAL_STAGES):
        closed = (name, probability) in FINAL_STAGES
        limit = CLOSED_COLUMN if closed else OPEN_COLUMN
        items = site.api(principal, "GET", f"{PLUGIN}/opportunities",
                         {"stage": name, "limit": limit})
        shown.append({"stage": name, "probability": probability, "closed": closed,
                      "limit": limit, "items": items})
    names = site.customer_names(principal,
                                {o["customer"] for column in shown for o in column["items"]})
    for column in shown:
        for item in column["items"]:
            item["customer_name"] = names.get(item["customer"])
    return shown


def weighted_by_owner(site: Site, principal) -> list[dict[str, Any]]:
    """The API's weighted pipeline grouped by owner (and currency); a principal without
    ``operational.all`` gets only their own row (the API's row-level rule)."""
    return site.api(principal, "GET", f"{PLUGIN}/pipeline", {"by": ["owner"]})


def show(site: Site, request: Request, principal, status: int = 200,
         error: str | None = None) -> Response:
    """The board page (``error``: the refused move's message, shown above the columns)."""
    pipeline = weighted_by_owner(site, principal)
    shown = columns(site, principal)
    moved_id = request.query_params.get("moved", "") if error is None else ""
    moved = next((dict(o, stage=c["stage"]) for c in shown for o in c["items"]
                  if str(o["id"]) == moved_id), None)
    return site.render(request, "board.html", status, principal=principal, columns=shown,
                       pipeline=pipeline, error=error, moved=moved,
                       can_move=site.crm.auth.allowed(principal, f"{PLUGIN}.write"))


def board_page(site: Site, request: Request, principal, form) -> Response:
    """The board."""
    return show(site, request, principal)


def move(site: Site, request: Request, principal, form) -> Response:
    """Move an opportunity to the form's ``stage`` through operational's API handler."""
    opportunity = request.path_params["opportunity_id"]
    path = f"{PLUGIN}/opportunities/{urllib.parse.quote(opportunity, safe='')}/stage"
    try:
        site.api(principal, "POST", path, body={"stage": (form or {}).get("stage", "")})
    except ValidationError as exc:
        return show(site, request, principal, 422, str(exc))
    root = request.scope.get("root_path", "")
    query = urllib.parse.urlencode({"moved": opportunity})
    return RedirectResponse(f"{root}/{PLUGIN}/board?{query}"
                            f"#opportunity-{urllib.parse.quote(opportunity)}", 303)


def complete_task(site: Site, request: Request, principal, form) -> Response:
    """My work's **Complete**: close the task as done through ``POST tasks/{id}/status``."""
    task = urllib.parse.quote(request.path_params["task_id"], safe="")
    return site.my_work_action(request, principal, f"{PLUGIN}/tasks/{task}/status",
                               {"status": "done"}, f"{PLUGIN}.task")


PAGES = [
    WebPage("/board", board_page, title=N_("Pipeline"), permission=f"{PLUGIN}.read"),
    WebPage("/board/opportunities/{opportunity_id}/stage", move, methods=["POST"]),
    WebPage("/my-work/tasks/{task_id}/done", complete_task, methods=["POST"]),
]
"""The plugin's web pages (the plugin part ``pages``)."""
