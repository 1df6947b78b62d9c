"""``crmkit staff add|list|remove``."""

from __future__ import annotations

import click

from .common import format_option, output, pass_state


@click.group()
def staff() -> None:
    """Staff members and teams."""


@staff.command()
@click.argument("handle")
@click.option("--name", required=True, help="The member's full name.")
@click.option("--team", required=True, help="The team they work in (assignment is per team).")
@click.option("--email", help="Their email address.")
@pass_state
def add(state, handle, name, team, email) -> None:
    """Add staff member HANDLE to a team.

    \b
    Example:
      crmkit staff add ana --name "Ana Lima" --team sales --email ana@example.com
    """
    with state.open() as crm:
        crm.staff.add(handle, name, team, email)
    click.echo(f"added staff {handle} to {team}")


@staff.command("list")
@click.option("--team", help="Only the members of this team.")
@format_option
@pass_state
def list_(state, team, fmt) -> None:
    """List active staff members.

    \b
    Example:
      crmkit staff list --team sales
    """
    import attrs

    with state.open() as crm:
        rows = [attrs.asdict(s) for s in crm.staff.list(team=team)]
    output(rows, ["handle", "name", "team", "email"], fmt)


@staff.command()
@click.argument("handle")
@pass_state
def remove(state, handle) -> None:
    """Remove staff member HANDLE.

    Nothing new is assigned to them; their history and audit entries stay,
    and their open work keeps its owner until reassigned.

    \b
    Example:
      crmkit staff remove ana
    """
    with state.open() as crm:
        crm.staff.remove(handle)
    click.echo(f"removed staff {handle} (their history stays)")
