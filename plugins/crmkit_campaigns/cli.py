"""``crmkit campaigns ...``: imported only when the command is invoked."""

from __future__ import annotations

import click

from crmkit.plugin import format_option, output, pass_state


@click.group(name="campaigns")
def group() -> None:
    """Marketing campaigns: plan, schedule, run and pause."""


@group.command(name="list")
@format_option
@pass_state
def list_campaigns(state, fmt) -> None:
    """List the campaigns, newest first, with their recipient counts.

    \b
    Example:
      crmkit campaigns list --format csv
    """
    from .planning import LIST_COLUMNS

    with state.open() as crm:
        rows = crm.plugin("campaigns").list()
    output(rows, LIST_COLUMNS, fmt)
