"""``crmkit init`` and ``crmkit db upgrade|status``."""

from __future__ import annotations

import click

from .common import format_option, output, pass_state


@click.command()
@pass_state
def init(state) -> None:
    """Create the crmkit schema in an empty database (an existing one is left as it is)."""
    from ..db import hide_password

    with state.open(create=True) as crm:
        click.echo(f"crmkit schema ready at {hide_password(crm.url)}")


@click.group()
def db() -> None:
    """Schema status and upgrades."""


@db.command()
@pass_state
def upgrade(state) -> None:
    """Apply pending migrations of the core and of every enabled plugin."""
    with state.open(upgrade=True) as crm:
        with crm.connect() as conn:
            todo = crm.pending_migrations(conn)
        click.echo("schema up to date" if not any(todo.values()) else f"still pending: {todo}")


@db.command()
@format_option
@pass_state
def status(state, fmt: str) -> None:
    """Show, per branch (core and each enabled plugin), applied and pending revisions."""
    from .. import migrate
    from ..app import CRM

    crm = CRM(state.db_url, actor=state.actor, extra_plugins=state.extra_plugins())
    try:
        with crm.connect() as conn:
            current = migrate.current_revisions(conn)
            if not current:
                output([{"branch": "core", "applied": "", "pending": "(no schema: crmkit init)"}],
                       ["branch", "applied", "pending"], fmt)
                return
            crm.refresh_plugins(conn)
            todo = crm.pending_migrations(conn)
    finally:
        crm.close()
    rows = [{"branch": branch, "applied": ", ".join(sorted(current)),
             "pending": ", ".join(revs) or "none"} for branch, revs in todo.items()]
    output(rows, ["branch", "pending", "applied"], fmt)
