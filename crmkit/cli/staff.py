"""``crmkit staff add|list``."""

from __future__ import annotations

import click

from .common import format_option, output, pass_state


@click.group()
def staff() -> None:
    """Staff members and teams."""


@staff.command()
@click.argument("handle")
@click.option("--name", required=True)
@click.option("--team", required=True)
@click.option("--email")
@pass_state
def add(state, handle, name, team, email) -> None:
    """Add a staff member to a team."""
    with state.open() as crm:
        crm.staff.add(handle, name, team, email)
    click.echo(f"added staff {handle} to {team}")


@staff.command("list")
@click.option("--team")
@format_option
@pass_state
def list_(state, team, fmt) -> None:
    """List active staff members."""
    import attrs

    with state.open() as crm:
        rows = [attrs.asdict(s) for s in crm.staff.list(team=team)]
    output(rows, ["handle", "name", "team", "email"], fmt)
