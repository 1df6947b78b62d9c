"""Charts of the sales reports (``--plot FILE``): the sales-cycle distribution, forecast
against actual per month, and leads and conversions per lead source.

Drawn with matplotlib through the core's chart helpers: without matplotlib, asking for a
chart is a ``MissingExtra`` error saying how to install it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from crmkit.plugin import chart_figure, save_chart

from .cycle import BUCKETS


def sales_cycle(rows: Sequence[dict[str, Any]], by: str | None, path: str | Path) -> Path:
    """Won opportunities per sales-cycle bucket (days), overall or one series per owner."""
    figure = chart_figure(path)
    ax = figure.add_subplot()
    labels = [label for _, label in BUCKETS]
    width = 0.8 / len(rows)
    for n, row in enumerate(rows):
        name = "all" if by is None else (row[by] or "(none)")
        ax.bar([x + n * width for x in range(len(labels))],
               [row[f"days_{label}"] for label in labels], width,
               label=f"{name}: median {row['median_days']} days")
    ax.set_xticks([x + width * (len(rows) - 1) / 2 for x in range(len(labels))],
                  [f"{label} days" for label in labels])
    ax.set_ylabel("opportunities won")
    ax.legend()
    ax.set_title("Sales-cycle length: lead created to won")
    return save_chart(figure, path)


def forecast_accuracy(months: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """The weighted-pipeline forecast and the amount won per month, one pair of lines per
    currency."""
    figure = chart_figure(path)
    ax = figure.add_subplot()
    labels = sorted({r["month"] for r in months})
    for currency in sorted({r["currency"] for r in months}):
        mine = {r["month"]: r for r in months if r["currency"] == currency}
        for key, style in (("forecast", "--"), ("actual", "-")):
            ax.plot(labels, [float(mine[m][key]) if m in mine else float("nan") for m in labels],
                    style, marker="o", label=f"{key} {currency}")
    ax.set_ylabel("amount")
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend()
    ax.set_title("Forecast accuracy: weighted pipeline at the month's start vs won")
    return save_chart(figure, path)


def lead_sources(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Leads and converted leads per source."""
    figure = chart_figure(path)
    ax = figure.add_subplot()
    xs = range(len(rows))
    width = 0.4
    ax.bar([x - width / 2 for x in xs], [r["leads"] for r in rows], width, label="leads",
           color="tab:blue")
    ax.bar([x + width / 2 for x in xs], [r["converted"] for r in rows], width,
           label="converted", color="tab:green")
    ax.set_xticks(list(xs), [r["source"] for r in rows])
    ax.tick_params(axis="x", labelrotation=30)
    ax.set_ylabel("leads")
    ax.legend()
    ax.set_title("Lead sources: leads and conversions")
    return save_chart(figure, path)


__all__ = ["sales_cycle", "forecast_accuracy", "lead_sources"]
