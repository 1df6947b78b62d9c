"""``crmkit sweep``: run every enabled plugin's time-based rules."""

from __future__ import annotations

import click

from .common import as_of_option, format_option, output, pass_state, status


@click.command()
@as_of_option
@format_option
@pass_state
def sweep(state, as_of, fmt) -> None:
    """Run each enabled plugin's sweep (dormancy, SLA breaches, waits, expiry...); idempotent.

    On a terminal the plugin being swept is shown while it runs.

    \b
    Example (a nightly cron job):
      crmkit sweep --format json >> sweep.log
    """
    from ..clock import FixedClock, parse_timestamp

    if as_of:
        state.clock = FixedClock(parse_timestamp(as_of, "--as-of"))
    with state.open() as crm, status("sweep") as say:
        results = crm.sweep(progress=say)
    rows = [{"plugin": name, "what": key, "count": value}
            for name, counts in results.items() for key, value in counts.items()]
    output(rows, ["plugin", "what", "count"], fmt)
