"""Charts of results people would rather look at (cohorts, RFM grid, funnel, Pareto curve,
sales growth, relationship phases).

Drawn with matplotlib's object API (no global pyplot state) into PNG or SVG.
matplotlib is the optional ``plots`` extra: without it, asking for a chart is
a :class:`MissingExtra` error saying ``pip install 'crmkit[plots]'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from crmkit.plugin import ValidationError, save_chart

from .errors import MissingExtra
from .results import CohortCell, FunnelStep, GrowthRow, Pareto

FORMATS = (".png", ".svg")
INSTALL = "pip install 'crmkit[plots]'"


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def check(path: str | Path) -> None:
    """Fail early (before any computation) on a bad file name or a missing matplotlib."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValidationError(f"--plot {path}: the file name must end in .png or .svg")
    if not available():
        raise MissingExtra(f"--plot needs matplotlib, which is not installed: {INSTALL}")


def _figure(path: str | Path, size=(8, 5)):
    check(path)
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


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
    return save_chart(figure, path)


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
    return save_chart(figure, path)


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
    return save_chart(figure, path)


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
    return save_chart(figure, path)


def phases(counts: dict[str, int], path: str | Path) -> Path:
    """Customers per relationship phase."""
    figure = _figure(path)
    ax = figure.add_subplot()
    bars = ax.bar(list(counts), list(counts.values()), color="tab:green")
    ax.bar_label(bars)
    ax.set_ylabel("customers")
    ax.set_title("Relationship phases")
    return save_chart(figure, path)


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
    return save_chart(figure, path)
