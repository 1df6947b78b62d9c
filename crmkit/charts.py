"""Charts for ``--plot FILE``: the option, the file-name check, a figure and saving it.

Plugins draw with matplotlib's object API (no global pyplot state) into PNG or
SVG.  matplotlib is the optional ``plots`` extra: without it, asking for a
chart is a :class:`~crmkit.errors.MissingExtra` error saying how to install it.
"""

from __future__ import annotations

from pathlib import Path

import click

from .errors import MissingExtra, ValidationError

CHART_FORMATS = (".png", ".svg")
"""The file name endings ``--plot`` accepts."""
PLOTS_INSTALL = "pip install 'crmkit[plots]'"
"""How to install matplotlib (the ``plots`` extra)."""


def plot_option(func):
    """Add ``--plot FILE.png|svg`` (needs the ``plots`` extra) to a click command."""
    return click.option("--plot", "plot", default=None, metavar="FILE",
                        help="Also draw a chart into FILE (.png or .svg; needs crmkit[plots])."
                        )(func)


def charts_available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def check_chart(path: str | Path) -> None:
    """Fail early (before any computation) on a file name not ending in .png/.svg
    (ValidationError) or a missing matplotlib (MissingExtra)."""
    if Path(path).suffix.lower() not in CHART_FORMATS:
        raise ValidationError(f"--plot {path}: the file name must end in .png or .svg")
    if not charts_available():
        raise MissingExtra(f"--plot needs matplotlib, which is not installed: {PLOTS_INSTALL}")


def chart_figure(path: str | Path, size: tuple[float, float] = (8, 5)):
    """A new matplotlib ``Figure`` (constrained layout) for a chart to be saved to ``path``."""
    check_chart(path)
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def save_chart(figure, path: str | Path) -> Path:
    """Write ``figure`` to ``path`` (format from its ending); ValidationError if it cannot."""
    target = Path(path)
    try:
        figure.savefig(target)
    except OSError as exc:
        raise ValidationError(f"--plot {path}: cannot write the file: {exc.strerror}") from None
    return target


def draw_chart(plot: str | None, draw, empty: str | None) -> None:
    """After a command's listing: when ``--plot`` was given, draw the chart (``draw()``
    returns the file written) and say where on stderr; when ``empty`` says there is
    nothing to draw, write no file and say so instead (the listing itself succeeded)."""
    if not plot:
        return
    if empty:
        click.echo(f"nothing to plot: {empty}; no chart written to {plot}", err=True)
        return
    click.echo(f"chart written to {draw()}", err=True)


__all__ = ["draw_chart", "CHART_FORMATS", "PLOTS_INSTALL", "plot_option", "charts_available", "check_chart",
           "chart_figure", "save_chart"]
