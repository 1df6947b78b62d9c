"""``crmkit init`` and ``crmkit db upgrade|status``."""

from __future__ import annotations

import click

from .common import format_option, output, pass_state


@click.command()
@pass_state
def init(state) -> None:
    """Create the crmkit schema in an empty database.

    An existing crmkit database is left as it is.

    \b
    Example:
      crmkit --db sqlite:///crm.db init
    """
    from ..db import hide_password

    with state.open(create=True) as crm:
        click.echo(f"crmkit schema ready at {hide_password(crm.url)}")


@click.group()
def db() -> None:
    """Schema status and upgrades."""


@db.command()
@pass_state
def upgrade(state) -> None:
    """Apply pending migrations of the core and of every enabled plugin.

    Names each revision it applied.  Also warns of each enabled plugin whose installed release refuses its stored
    configuration (writes are refused until it is corrected).

    \b
    Example:
      crmkit db upgrade
    """
    with state.open(upgrade=True) as crm:
        with crm.connect() as conn:
            todo = crm.pending_migrations(conn)
            crm.refresh_plugins(conn)
        for branch, revisions in crm.applied_migrations.items():
            click.echo(f"applied {branch}: {', '.join(revisions)}")
        click.echo("schema up to date" if not any(todo.values()) else f"still pending: {todo}")
        for problem in crm.refused_plugin_configs().values():
            click.echo(f"warning: {problem}; until then writes are refused", err=True)


@db.command()
@format_option
@pass_state
def status(state, fmt: str) -> None:
    """Show each branch's current, head and pending revisions.

    There is one branch for the core and one for each enabled plugin.

    \b
    Example:
      crmkit db status --format json
    """
    from .. import migrate
    from ..app import CRM

    columns = ["branch", "current", "head", "pending"]
    crm = CRM(state.db_url, actor=state.actor, extra_plugins=state.extra_plugins())
    try:
        if not crm.has_schema():
            output([{"branch": "core", "current": "", "head": migrate.head_revision("core", None),
                     "pending": "(no crmkit database: crmkit init)"}], columns, fmt)
            return
        with crm.connect() as conn:
            crm.refresh_plugins(conn)
            branches = crm.migration_branches()
            todo = migrate.pending(conn, branches)
            current = {branch: migrate.current_revisions(conn, branch) for branch in branches}
            rows = [{"branch": branch, "current": ", ".join(sorted(current[branch])) or "none",
                     "head": migrate.head_revision(branch, location),
                     "pending": ", ".join(todo[branch]) or "none"}
                    for branch, location in branches.items()]
    finally:
        crm.close()
    output(rows, columns, fmt)
