"""``crmkit staff add|list|remove|role|password``."""

from __future__ import annotations

import click

from .common import format_option, pass_state


@click.group()
def staff() -> None:
    """Staff members and teams, their roles and passwords."""


@staff.command()
@click.argument("handle")
@click.option("--name", required=True, help="The member's full name.")
@click.option("--team", required=True, help="The team they work in (assignment is per team).")
@click.option("--email", help="Their email address.")
@click.option("--role", default="agent", show_default=True,
              help="Their role: admin, manager, agent, viewer, or one the core config's roles "
              "define.")
@pass_state
def add(state, handle, name, team, email, role) -> None:
    """Add staff member HANDLE to a team, with a role.

    The role decides what they may do through the API (crmkit config shows
    the roles and their permissions).

    \b
    Example:
      crmkit staff add ana --name "Ana Lima" --team sales --role manager
    """
    with state.open() as crm:
        crm.staff.add(handle, name, team, email, role=role)
    click.echo(f"added staff {handle} to {team} as {role}")


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
    state.show(lambda crm: crm.staff.list(team=team), ["handle", "name", "team", "role", "email"],
               fmt)


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


@staff.command()
@click.argument("handle")
@click.argument("role")
@pass_state
def role(state, handle, role) -> None:
    """Give staff member HANDLE another ROLE.

    ROLE is admin, manager, agent, viewer or one the core config's roles
    define; it applies to their next request.

    \b
    Example:
      crmkit staff role ana manager
    """
    with state.open() as crm:
        before = crm.staff.get(handle).role
        crm.staff.set_role(handle, role)
    click.echo(f"staff {handle} is now {role}" + (f" (was {before})" if before != role else ""))


@staff.command()
@click.argument("handle")
@pass_state
def password(state, handle) -> None:
    """Set the sign-in password of staff member HANDLE.

    The password is read from standard input when it is piped (its first
    line), otherwise asked for twice without echo; it is never a command-line
    argument.  At least 10 characters.  Stored as an argon2id hash; a new
    password also lifts a lock-out after failed sign-ins.

    \b
    Example:
      crmkit staff password ana < ana-password.txt
    """
    import sys

    from ..errors import ValidationError

    with state.open() as crm:
        crm.staff.get(handle)  # an unknown handle fails before anything is asked
        if stdin_is_terminal():
            secret = click.prompt(f"New password for {handle}", hide_input=True,
                                  confirmation_prompt=True, err=True)
        else:
            secret = sys.stdin.readline().rstrip("\r\n")
            if not secret:
                raise ValidationError("no password on standard input (give it on the first "
                                       "line, or run in a terminal to be asked)")
        crm.staff.set_password(handle, secret)
    click.echo(f"password of {handle} set")


def stdin_is_terminal() -> bool:
    """Whether standard input is a terminal (then a password is prompted for, not read)."""
    import sys

    return sys.stdin.isatty()
