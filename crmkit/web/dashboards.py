"""The web app's dashboards: every enabled plugin's panels as SVG charts, tables and CSV.

``/dashboards?as_of=`` shows the panels (:mod:`crmkit.web.panels`) of every plugin whose
``<plugin>.read`` the signed-in member holds, each drawn by :mod:`crmkit.web.charts` beside
a table of its numbers; ``/dashboards/<panel name>.csv`` downloads those numbers (the same
permission).  ``as_of`` is a date or an instant (a date is midnight UTC, as with the
commands' ``--as-of``); without it, now.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..clock import parse_timestamp
from ..errors import NotFound, ValidationError
from ..services.records import neutralise
from .charts import chart
from .pages import Pages
from .signin import signed_in, site_pages
from .panels import NAME_PATTERN, Panel, dashboard_panels


def as_of_of(site: Pages, request: Request) -> dt.datetime:
    """The page's ``as_of`` query parameter as an aware datetime (now when absent or
    empty); ValidationError when it is not a date or timestamp."""
    text = request.query_params.get("as_of", "").strip()
    return site.crm.clock.now() if not text else parse_timestamp(text, "as_of")


@signed_in
def dashboards(site: Pages, request: Request, principal, form) -> Response:
    """Every panel the member may see, as of ``?as_of=``."""
    try:
        as_of = as_of_of(site, request)
    except ValidationError as exc:
        return site.refused(request, 422, str(exc), principal)
    shown = dashboard_panels(site.crm, principal, as_of)
    return site.render(request, "dashboards.html", principal=principal, as_of=as_of,
                       as_of_text=request.query_params.get("as_of", "").strip(),
                       shown=shown, charts={s.panel.name: chart(s.panel)
                                            for s in shown if s.panel is not None})


@signed_in
def panel_csv(site: Pages, request: Request, principal, form) -> Response:
    """One panel's columns and rows as CSV (text cells that could start a spreadsheet
    formula get a leading ``'``)."""
    name = request.path_params["panel"]
    try:
        as_of = as_of_of(site, request)
    except ValidationError as exc:
        return site.refused(request, 422, str(exc), principal)
    plugin = name.split(".", 1)[0]
    if not NAME_PATTERN.match(name) or plugin not in site.crm.enabled_plugins():
        raise NotFound(f"no dashboard panel {name!r}")
    site.crm.auth.require(principal, f"{plugin}.read")
    found = [s for s in dashboard_panels(site.crm, principal, as_of, plugin)
             if s.panel is not None and s.panel.name == name]
    if not found:
        raise NotFound(f"no dashboard panel {name!r}")
    return Response(panel_csv_text(found[0].panel), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"',
                             "Cache-Control": "no-store"})


def panel_csv_text(panel: Panel) -> str:
    """The panel as CSV: its columns, then its rows (None as an empty cell)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([neutralise(c) for c in panel.columns])
    for row in panel.rows:
        writer.writerow(["" if v is None else neutralise(v) if isinstance(v, str) else v
                         for v in row])
    return buffer.getvalue()


def routes(site: Pages) -> list[BaseRoute]:
    """The dashboards page and each panel's CSV."""
    return site_pages(site, ("GET", "/dashboards", dashboards),
                      ("GET", "/dashboards/{panel}.csv", panel_csv))


__all__ = ["routes", "as_of_of", "panel_csv_text"]
