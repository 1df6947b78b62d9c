"""Charts of the dashboards page, drawn on the server as plain SVG text.

Each function takes a :class:`crmkit.web.panels.Panel` and returns an ``<svg>`` element as
:class:`markupsafe.Markup` (every label and title escaped), with ``role="img"`` and a
``<title>``.  Colour is never the only signal: every bar, point and cell carries its value
as text, and series differ by line pattern as well as colour, with a legend in words.
Values that are not numbers (None, text) are drawn as 0; the table beside the chart shows
them as they are.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any, Callable

from markupsafe import Markup

from .panels import Panel

WIDTH = 640
"""The width of every chart's view box (it scales to the page's width)."""
ROW = 28
"""The height of one bar, funnel step or heat-map row."""
LABEL_WIDTH = 190
"""The room left of bars and heat-map rows for their labels."""
SERIES = (("#0b57d0", ""), ("#b3261e", "6 4"), ("#146c2e", "2 3"), ("#8a4baf", "10 3 2 3"))
"""Colour and line pattern (SVG ``stroke-dasharray``) of each series, in order."""

def number(value: Any) -> float:
    """A cell as a float for drawing (0 when it is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return 0.0
    return float(value)


def shown(value: Any) -> str:
    """A cell as the text drawn next to its mark: numbers grouped by thousands, at most
    two decimals; None as an empty text."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return str(value)
    if float(value).is_integer() and not isinstance(value, Decimal):
        return f"{int(value):,}"
    text = f"{float(value):,.2f}".rstrip("0").rstrip(".")
    return text


LABEL_CHARACTERS = 26
"""Longer labels are cut (with "…") where they stand left of a chart; the table shows them whole."""


def _label(value: Any) -> str:
    text = shown(value)
    return text if len(text) <= LABEL_CHARACTERS else text[:LABEL_CHARACTERS - 1] + "…"


def _dashes(pattern: str) -> str:
    return f' stroke-dasharray="{pattern}"' if pattern else ""


def _text(x: float, y: float, value: str, anchor: str = "start", **extra: Any) -> str:
    attributes = "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in extra.items())
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{attributes}>'
            f'{escape(value)}</text>')


def _svg(panel: Panel, height: float, body: list[str]) -> Markup:
    ident = f"chart-{panel.name}"  # a slug: unique on the page, safe in an attribute
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{escape(panel.chart)}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-labelledby="{ident}" '
        f'font-family="system-ui, sans-serif" font-size="14">'
        f'<title id="{ident}">{escape(panel.title)}</title>{"".join(body)}</svg>')


def _legend(panel: Panel, y: float) -> list[str]:
    """One entry per series: a sample of its line and its column's name."""
    parts = []
    x = 10.0
    for index, column in enumerate(panel.y):
        colour, dashes = SERIES[index % len(SERIES)]
        parts.append(f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 24:.1f}" y2="{y - 4:.1f}" '
                     f'stroke="{colour}" stroke-width="3"{_dashes(dashes)}/>')
        parts.append(_text(x + 30, y, panel.columns[column]))
        x += 40 + 8 * len(panel.columns[column])
    return parts


def _span(values: list[float]) -> tuple[float, float]:
    """The value range a chart's axis covers: always including 0, never empty."""
    low, high = min([0.0, *values]), max([0.0, *values])
    return (low, high) if high > low else (low, low + 1)


def bar(panel: Panel) -> Markup:
    """Horizontal bars, one group per row (one bar per series), each with its value."""
    series = len(panel.y)
    values = [number(row[c]) for row in panel.rows for c in panel.y]
    low, high = _span(values)
    room = WIDTH - LABEL_WIDTH - 70
    scale = room / (high - low)
    zero = LABEL_WIDTH + (0 - low) * scale
    group = ROW * series + 8
    top = 24 if series > 1 else 6
    body = _legend(panel, 16) if series > 1 else []
    for index, row in enumerate(panel.rows):
        y0 = top + index * group
        body.append(_text(LABEL_WIDTH - 8, y0 + ROW * series / 2 + 4, _label(row[panel.x]), "end"))
        for s, column in enumerate(panel.y):
            colour, dashes = SERIES[s % len(SERIES)]
            value = number(row[column])
            start = min(zero, zero + value * scale)
            width = abs(value * scale)
            y = y0 + s * ROW
            body.append(f'<rect x="{start:.1f}" y="{y + 3:.1f}" width="{width:.1f}" '
                        f'height="{ROW - 6}" fill="{colour}" fill-opacity="0.8" '
                        f'stroke="{colour}"{_dashes(dashes)}/>')
            body.append(_text(max(start + width, zero) + 4, y + ROW / 2 + 4,
                              shown(row[column])))
    body.append(f'<line x1="{zero:.1f}" y1="{top:.1f}" x2="{zero:.1f}" '
                f'y2="{top + group * len(panel.rows):.1f}" stroke="#4a5160"/>')
    return _svg(panel, top + group * max(len(panel.rows), 1) + 4, body)


def funnel(panel: Panel) -> Markup:
    """Centred bars narrowing with the first series: each step's label and value inside."""
    column = panel.y[0]
    values = [number(row[column]) for row in panel.rows]
    high = max([*values, 0.0]) or 1.0
    room = WIDTH - LABEL_WIDTH - 10
    middle = LABEL_WIDTH + room / 2
    body = []
    for index, row in enumerate(panel.rows):
        value = max(number(row[column]), 0.0)
        width = max(room * value / high, 2.0)
        y = 4 + index * ROW
        body.append(_text(LABEL_WIDTH - 8, y + ROW / 2 + 4, _label(row[panel.x]), "end"))
        body.append(f'<rect x="{middle - width / 2:.1f}" y="{y + 2:.1f}" width="{width:.1f}" '
                    f'height="{ROW - 4}" fill="{SERIES[0][0]}" fill-opacity="0.25" '
                    f'stroke="{SERIES[0][0]}"/>')
        body.append(_text(middle, y + ROW / 2 + 4, shown(row[column]), "middle"))
    return _svg(panel, 8 + ROW * max(len(panel.rows), 1), body)


def line(panel: Panel) -> Markup:
    """One line per series over the rows' labels, each point marked and labelled."""
    values = [number(row[c]) for row in panel.rows for c in panel.y]
    low, high = _span(values)
    left, right, top, bottom = 48, WIDTH - 16, 30, 200
    count = len(panel.rows)
    step = (right - left) / max(count - 1, 1)

    def at(index: int, value: float) -> tuple[float, float]:
        return left + index * step, bottom - (value - low) / (high - low) * (bottom - top)

    body = _legend(panel, 16)
    body.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#4a5160"/>')
    body.append(_text(left - 6, top + 4, shown(high), "end"))
    body.append(_text(left - 6, bottom + 4, shown(low), "end"))
    every = max(1, -(-count // 8))  # at most 8 labels under the axis
    for index, row in enumerate(panel.rows):
        if index % every == 0 or index == count - 1:
            body.append(_text(at(index, low)[0], bottom + 18, shown(row[panel.x]), "middle"))
    for s, column in enumerate(panel.y):
        colour, dashes = SERIES[s % len(SERIES)]
        points = [(index, row[column]) for index, row in enumerate(panel.rows)
                  if row[column] is not None]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in (at(i, number(v)) for i, v in points))
        if len(points) > 1:
            body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                        f'stroke-width="2"{_dashes(dashes)}/>')
        for index, value in points:
            x, y = at(index, number(value))
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>')
            body.append(_text(x, y - 7 - 11 * (s % 2), shown(value), "middle", fill=colour))
    return _svg(panel, bottom + 28, body)


def curve(panel: Panel) -> Markup:
    """A cumulative curve over 0–100 % on both axes (x column against the first series),
    with the diagonal of an even spread for comparison."""
    column = panel.y[0]
    left, right, top, bottom = 48, WIDTH - 20, 14, 254

    def at(x: float, y: float) -> tuple[float, float]:
        return left + x / 100 * (right - left), bottom - y / 100 * (bottom - top)

    body = [f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#4a5160"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#4a5160"/>',
            f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{top}" stroke="#8a94a6" '
            f'stroke-dasharray="4 4"/>']
    for tick in (0, 25, 50, 75, 100):
        x, y = at(tick, tick)
        body.append(_text(x, bottom + 16, f"{tick} %", "middle"))
        body.append(_text(left - 6, y + 4, f"{tick} %", "end"))
    body.append(_text(right, bottom + 32, panel.columns[panel.x], "end"))
    body.append(_text(left + 6, top + 12, panel.columns[column]))
    points = [at(number(row[panel.x]), number(row[column])) for row in panel.rows]
    if points:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        body.append(f'<polyline points="{path}" fill="none" stroke="{SERIES[0][0]}" '
                    f'stroke-width="2.5"/>')
    for row, (x, y) in zip(panel.rows, points):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{SERIES[0][0]}"/>')
    return _svg(panel, bottom + 40, body)


def heatmap(panel: Panel) -> Markup:
    """A grid: rows are the label column's values, columns the series; each cell shaded by
    its value (darker is more) and labelled with it."""
    columns = len(panel.y)
    values = [number(row[c]) for row in panel.rows for c in panel.y]
    high = max([*values, 0.0]) or 1.0
    cell = (WIDTH - LABEL_WIDTH) / max(columns, 1)
    top = 24
    body = []
    for index, column in enumerate(panel.y):
        body.append(_text(LABEL_WIDTH + (index + 0.5) * cell, 16, panel.columns[column],
                          "middle"))
    for r, row in enumerate(panel.rows):
        y = top + r * ROW
        body.append(_text(LABEL_WIDTH - 8, y + ROW / 2 + 4, _label(row[panel.x]), "end"))
        for index, column in enumerate(panel.y):
            value = row[column]
            x = LABEL_WIDTH + index * cell
            share = number(value) / high if value is not None else 0.0
            fill = "#ffffff" if value is None else "#0b57d0"
            body.append(f'<rect x="{x + 1:.1f}" y="{y + 1:.1f}" width="{cell - 2:.1f}" '
                        f'height="{ROW - 2}" fill="{fill}" fill-opacity="{0.08 + 0.8 * share:.2f}" '
                        f'stroke="#dde1e7"/>')
            colour = "#ffffff" if share > 0.55 else "#1b1f24"
            body.append(_text(x + cell / 2, y + ROW / 2 + 4, shown(value), "middle",
                              fill=colour))
    return _svg(panel, top + ROW * max(len(panel.rows), 1) + 4, body)


CHART_DRAWERS: dict[str, Callable[[Panel], Markup]] = {
    "bar": bar, "line": line, "funnel": funnel, "curve": curve, "heatmap": heatmap}
"""The drawing function of each kind of chart (``"table"`` has none)."""


def chart(panel: Panel) -> Markup | None:
    """The panel's chart as SVG, or None for a ``"table"`` panel or one without rows."""
    drawer = CHART_DRAWERS.get(panel.chart)
    if drawer is None or not panel.rows:
        return None
    return drawer(panel)


__all__ = ["chart", "bar", "line", "funnel", "curve", "heatmap", "number", "shown",
           "CHART_DRAWERS", "WIDTH", "ROW", "LABEL_WIDTH", "SERIES"]
