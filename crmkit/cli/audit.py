"""``crmkit audit``: who changed what, when, through which command."""

from __future__ import annotations

import click

from .common import format_option, limit_option, output, pass_state

COLUMNS = ["id", "at", "actor", "action", "table_name", "record_key", "changes", "command"]


@click.command()
@click.option("--customer", help="Only this customer's entries (external id).")
@click.option("--since", metavar="DATE", help="Only entries at or after this ISO date/time.")
@click.option("--action", help="Only this action (create, update, merge, erase, consent, "
              "import, enable, disable, configure).")
@click.option("--actor", help="Only this actor (staff handle or system).")
@limit_option("entries")
@format_option
@pass_state
def audit(state, customer, since, action, actor, limit, fmt) -> None:
    """Show the audit log, newest first.

    \b
    Example:
      crmkit audit --customer C00042 --since 2026-11-01 --action update
    """
    import attrs

    from ..clock import parse_timestamp
    from ..services.audit import AuditLog

    when = parse_timestamp(since, "--since") if since else None
    with state.open() as crm:
        entries = AuditLog(crm).list(customer=customer, since=when, action=action, actor=actor,
                                     limit=limit)
    output([attrs.asdict(e) for e in entries], COLUMNS, fmt, limit=limit,
           more="raise --limit or narrow with --customer, --since, --action or --actor")
