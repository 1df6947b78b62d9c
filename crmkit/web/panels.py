"""Dashboard panels: what each enabled plugin shows on the web app's ``/dashboards`` page.

A plugin implements ``crmkit_dashboard_panels(crm, principal, as_of)`` (or declares the part
``"dashboard"``: ``panels(crm, principal, as_of)`` in ``<plugin>/dashboard.py``) and returns
a list of :class:`Panel`.  The page draws each panel's chart as SVG on the server, shows its
numbers in a table beside it and offers them as CSV at ``/dashboards/<panel name>.csv``.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import attrs

from ..errors import PluginError
from .cards import readable_answers

log = logging.getLogger("crmkit.web")

CHARTS = ("bar", "line", "heatmap", "funnel", "curve", "table")
"""The kinds of chart a panel may ask for (``"table"``: no chart, the table alone)."""

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
"""A panel's name: a slug of lower-case letters, digits, ``.``, ``_`` and ``-``."""


def _rows(value: Any) -> tuple[tuple, ...]:
    return tuple(tuple(row) for row in value)


def _check_name(panel: "Panel", attribute: Any, value: str) -> None:
    if not NAME_PATTERN.match(value):
        raise ValueError(f"Panel.name {value!r} is not a slug (lower-case letters, digits, "
                         f"'.', '_' and '-', such as 'analytical.rfm-grid')")


def _check_chart(panel: "Panel", attribute: Any, value: str) -> None:
    if value not in CHARTS:
        raise ValueError(f"Panel.chart {value!r} is not one of {', '.join(CHARTS)}")


@attrs.frozen
class Panel:
    """One dashboard panel: a titled table of numbers and the chart drawn from it.

    ``name`` is a slug starting with the plugin's name and a dot (``"analytical.rfm-grid"``,
    also the CSV's file name);
    ``title`` is shown as text (already translated by the plugin); ``columns`` is the
    table's header row (and the CSV's), ``rows`` its rows.  ``chart`` is ``"bar"``,
    ``"line"``, ``"heatmap"``, ``"funnel"``, ``"curve"`` or ``"table"`` (no chart);
    ``x`` is the index of the column of labels and ``y`` the indexes of the columns drawn
    as series (a heat map draws ``x`` as rows, ``y`` as columns and the cells' numbers).
    ``note`` is an optional line under the panel.
    """

    name: str = attrs.field(validator=_check_name)
    title: str = attrs.field(converter=str)
    columns: tuple[str, ...] = attrs.field(converter=lambda value: tuple(map(str, value)))
    rows: tuple[tuple, ...] = attrs.field(converter=_rows)
    chart: str = attrs.field(default="bar", validator=_check_chart)
    x: int = 0
    y: tuple[int, ...] = attrs.field(default=(1,), converter=tuple)
    note: str | None = None

    def __attrs_post_init__(self) -> None:
        width = len(self.columns)
        for index in (self.x, *self.y):
            if not 0 <= index < width:
                raise ValueError(f"Panel {self.name!r}: column index {index} is outside its "
                                 f"{width} columns")
        for number, row in enumerate(self.rows, 1):
            if len(row) != width:
                raise ValueError(f"Panel {self.name!r}: row {number} has {len(row)} values, "
                                 f"not {width} (one per column)")


@attrs.frozen
class ShownPanel:
    """A panel as the dashboards page shows it: the plugin it comes from, and its panel
    or the problem that kept the plugin's panels from being drawn."""

    plugin: str
    panel: Panel | None
    problem: str | None = None


PANEL_FAILED = "this plugin's panels could not be shown (the server logged why)"
"""The problem shown for a plugin whose panels failed unexpectedly."""


def dashboard_panels(crm, principal, as_of: datetime, plugin: str | None = None
                     ) -> list[ShownPanel]:
    """Every enabled plugin's panels as of ``as_of``, in plugin order (only ``plugin``'s
    when given).

    A plugin is asked only when ``principal`` holds ``<plugin>.read``; its panels' names
    must start with ``<plugin>.`` (so a name tells whose panel it is).  A plugin whose
    hook raises a crmkit error shows that error's text in place of its panels; one that
    fails unexpectedly, or returns anything but a list of :class:`Panel`, shows
    :data:`PANEL_FAILED` (its error logged).  The other plugins' panels still show.
    Every panel is computed from one snapshot of the data (:meth:`crmkit.CRM.snapshot`).
    """
    with crm.snapshot():
        answers = list(readable_answers(crm, "crmkit_dashboard_panels", principal,
                                        {"crm": crm, "principal": principal, "as_of": as_of},
                                        only=plugin))
    shown: list[ShownPanel] = []
    for name, panels, error in answers:
        if isinstance(error, PluginError):
            log.error("plugin %r: its dashboard panels failed: %s", name, error)
            shown.append(ShownPanel(name, None, PANEL_FAILED))
            continue
        if error is not None:
            shown.append(ShownPanel(name, None, str(error)))
            continue
        if not isinstance(panels, (list, tuple)) or not all(isinstance(p, Panel)
                                                            for p in panels):
            log.error("plugin %r: crmkit_dashboard_panels returned %s, not a list of "
                      "crmkit.plugin.Panel", name, type(panels).__name__)
            shown.append(ShownPanel(name, None, PANEL_FAILED))
            continue
        strangers = [p.name for p in panels if not p.name.startswith(f"{name}.")]
        if strangers:
            log.error("plugin %r: dashboard panel names must start with %r: %s", name,
                      f"{name}.", ", ".join(strangers))
            shown.append(ShownPanel(name, None, PANEL_FAILED))
            continue
        shown.extend(ShownPanel(name, panel) for panel in panels)
    return shown


__all__ = ["Panel", "ShownPanel", "CHARTS", "NAME_PATTERN", "PANEL_FAILED",
           "dashboard_panels"]
