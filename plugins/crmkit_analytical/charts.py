"""Charts of results people would rather look at (cohorts, RFM grid, funnel, Pareto curve,
sales growth, relationship phases, equity, engagement, relationship quality, perceived
value).

Drawn with matplotlib's object API through the core's chart helpers
(``chart_figure``, ``save_chart``): without matplotlib, asking for a chart is a
``MissingExtra`` error saying ``pip install 'crmkit[plots]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from crmkit.plugin import PLOTS_INSTALL as INSTALL
from crmkit.plugin import chart_figure as _figure
from crmkit.plugin import charts_available as available
from crmkit.plugin import check_chart as check
from crmkit.plugin import save_chart as _save

from .results import (CohortCell, CustomerEquity, EngagementScore, FunnelStep, GrowthRow, Pareto,
                      PerceivedValue)


def cohorts(cells: Sequence[CohortCell], path: str | Path, metric: str = "share") -> Path:
    """Heatmap of the cohort matrix (share of members purchasing, or revenue per member)."""
    figure = _figure(path)
    names = sorted({c.cohort for c in cells})
    width = max((c.month for c in cells), default=0) + 1
    grid = [[float("nan")] * width for _ in names]
    for c in cells:
        grid[names.index(c.cohort)][c.month] = (c.share if metric == "share"
                                                else float(c.revenue_per_member))
    ax = figure.add_subplot()
    image = ax.imshow(grid, aspect="auto", cmap="viridis")
    ax.set_yticks(range(len(names)), names)
    ax.set_xticks(range(width))
    ax.set_xlabel("months since first purchase")
    ax.set_ylabel("cohort (first purchase month)")
    ax.set_title("Cohorts: % of members purchasing" if metric == "share"
                 else "Cohorts: revenue per member")
    figure.colorbar(image, ax=ax)
    return _save(figure, path)


def rfm_grid(cells: Sequence[dict[str, Any]], bins: int, path: str | Path) -> Path:
    """Heatmap of customers per (R, F) score, annotated with counts."""
    figure = _figure(path, (6, 5))
    grid = [[0] * bins for _ in range(bins)]
    for cell in cells:
        grid[cell["f"] - 1][cell["r"] - 1] = cell["customers"]
    ax = figure.add_subplot()
    image = ax.imshow(grid, origin="lower", cmap="Blues")
    for f in range(bins):
        for r in range(bins):
            ax.text(r, f, str(grid[f][r]), ha="center", va="center", fontsize=8)
    ax.set_xticks(range(bins), [str(i + 1) for i in range(bins)])
    ax.set_yticks(range(bins), [str(i + 1) for i in range(bins)])
    ax.set_xlabel("R score (5 = most recent)")
    ax.set_ylabel("F score (5 = most frequent)")
    ax.set_title("RFM grid: customers per cell")
    figure.colorbar(image, ax=ax)
    return _save(figure, path)


def funnel(steps: Sequence[FunnelStep], path: str | Path) -> Path:
    """Horizontal bars of flows (customers) reaching each stage (first group)."""
    figure = _figure(path)
    group = steps[0].group if steps else "all"
    shown = [s for s in steps if s.group == group]
    ax = figure.add_subplot()
    ax.barh([s.stage for s in shown][::-1], [s.reached for s in shown][::-1], color="tab:blue")
    for i, s in enumerate(shown[::-1]):
        ax.text(s.reached, i, f" {s.reached}", va="center", fontsize=8)
    ax.set_xlabel("customers (flows) reaching the stage")
    ax.set_title(f"Funnel ({group})")
    return _save(figure, path)


def growth(rows: Sequence[GrowthRow], measure: str, path: str | Path) -> Path:
    """Sales per period as bars, with each period's growth over the one before."""
    figure = _figure(path)
    ax = figure.add_subplot()
    labels = [r.period for r in rows]
    bars = ax.bar(labels, [float(r.value) for r in rows], color="tab:blue")
    ax.bar_label(bars, labels=["" if r.growth_percent is None else f"{r.growth_percent:+.1f}%"
                               for r in rows], fontsize=8)
    ax.set_ylabel(measure)
    ax.tick_params(axis="x", labelrotation=45)
    ax.set_title(f"Sales growth ({measure})")
    return _save(figure, path)


def phases(counts: dict[str, int], path: str | Path) -> Path:
    """Customers per relationship phase."""
    figure = _figure(path)
    ax = figure.add_subplot()
    bars = ax.bar(list(counts), list(counts.values()), color="tab:green")
    ax.bar_label(bars)
    ax.set_ylabel("customers")
    ax.set_title("Relationship phases")
    return _save(figure, path)


def pareto(result: Pareto, path: str | Path) -> Path:
    """Cumulative share of revenue against share of customers, with the 80/20 marks."""
    figure = _figure(path)
    ax = figure.add_subplot()
    xs = [p[0] for p in result.curve]
    ys = [p[1] for p in result.curve]
    ax.plot(xs, ys, color="tab:blue", label="customers ranked by revenue")
    ax.plot([0, 100], [0, 100], color="grey", linestyle=":", label="equal shares")
    ax.axvline(result.top_share * 100, color="tab:orange", linestyle="--",
               label=f"top {result.top_share:.0%}: {result.top_revenue_share}% of revenue")
    ax.axhline(result.revenue_target * 100, color="tab:green", linestyle="--",
               label=f"{result.revenue_target:.0%} of revenue: {result.customer_share_for_target}% "
                     "of customers")
    ax.set_xlabel("% of customers")
    ax.set_ylabel("% of revenue")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 105)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Pareto curve")
    return _save(figure, path)


def equity(result: CustomerEquity, path: str | Path) -> Path:
    """Customer equity's parts as bars: current customers' CLV, prospects' expected value,
    and their sum."""
    figure = _figure(path)
    ax = figure.add_subplot()
    labels = [f"current customers ({result.customers})",
              f"prospects ({result.prospects})", "equity"]
    bars = ax.bar(labels, [float(result.current_value), float(result.prospect_value),
                           float(result.equity)],
                  color=["tab:blue", "tab:orange", "tab:green"])
    ax.bar_label(bars, fmt="%.2f")
    ax.set_ylabel("value")
    ax.set_title("Customer equity = Σ CLV of customers + prospects × conversion × "
                 "new-customer value", fontsize=9)
    return _save(figure, path)


def engagement(scores: Sequence[EngagementScore], path: str | Path, bins: int = 10) -> Path:
    """The distribution of the engaged customers' scores (a histogram)."""
    figure = _figure(path)
    ax = figure.add_subplot()
    ax.hist([s.score for s in scores], bins=bins, color="tab:purple", edgecolor="white")
    ax.set_xlabel("engagement score (weighted interactions in the window)")
    ax.set_ylabel("customers")
    ax.set_title(f"Engagement across channels ({len(scores)} engaged customers)")
    return _save(figure, path)


def relationship(summary: dict[str, Any], path: str | Path) -> Path:
    """The mean of each relationship-quality component and of the index (0–100)."""
    figure = _figure(path)
    ax = figure.add_subplot()
    names = ("trust", "satisfaction", "commitment", "index")
    bars = ax.bar(names, [summary[n] for n in names],
                  color=["tab:blue", "tab:orange", "tab:green", "tab:grey"])
    ax.bar_label(bars, fmt="%.1f")
    ax.set_ylim(0, 100)
    ax.set_ylabel("mean (0-100)")
    ax.set_title(f"Relationship quality ({summary['customers']} customers)")
    return _save(figure, path)


def perceived_value(groups: Sequence[PerceivedValue], path: str | Path) -> Path:
    """Perceived benefit and cost per group (every respondent, then each segment)."""
    figure = _figure(path)
    ax = figure.add_subplot()
    shown = [g for g in groups if g.respondents]
    xs = range(len(shown))
    width = 0.4

    def heights(side):  # a side nobody answered is no bar
        return [float("nan") if getattr(g, side) is None else getattr(g, side) for g in shown]

    ax.bar([x - width / 2 for x in xs], heights("benefit"), width, label="benefit",
           color="tab:green")
    ax.bar([x + width / 2 for x in xs], heights("cost"), width, label="cost", color="tab:red")
    ax.set_xticks(list(xs), [g.group + ("" if g.net is None else f"\nnet {g.net:+.1f}")
                             for g in shown])
    ax.set_ylim(0, 100)
    ax.set_ylabel("mean (0-100)")
    ax.legend()
    ax.set_title("Perceived value: benefit against cost")
    return _save(figure, path)
