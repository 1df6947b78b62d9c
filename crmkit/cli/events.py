"""``crmkit events list|types``."""

from __future__ import annotations

import click

from .common import format_option, limit_option, output, pass_state


@click.group()
def events() -> None:
    """Stored domain events."""


@events.command("list")
@click.option("--type", "type_", help="Only events of this type (crmkit events types lists them).")
@click.option("--customer", help="Only events of this customer (external id).")
@click.option("--after", type=click.IntRange(0), default=None, metavar="EVENT_ID",
              help="Only events after this event id (to page on from the last one shown).")
@limit_option("events")
@format_option
@pass_state
def list_(state, type_, customer, after, limit, fmt) -> None:
    """List stored events, oldest first.

    Each event names its customer by external id.

    \b
    Example:
      crmkit events list --type stage.changed --after 1200 --format json
    """
    with state.open() as crm:
        customer_id = crm.customers.get(customer).id if customer is not None else None
        found = crm.events.list(type=type_, customer_id=customer_id, after_id=after, limit=limit)
        external = crm.customers.external_ids_by_id(e.customer_id for e in found)
    rows = [{"id": e.id, "type": e.type, "customer": external.get(e.customer_id),
             "occurred_at": e.occurred_at, "source": e.source, "payload": e.payload}
            for e in found]
    output(rows, ["id", "type", "customer", "occurred_at", "source", "payload"], fmt, limit=limit,
           more="raise --limit or page on with --after and the last id shown")


@events.command("types")
@format_option
@pass_state
def types(state, fmt) -> None:
    """Every event type the core and the enabled plugins emit.

    \b
    Example:
      crmkit events types --format csv
    """
    state.show(lambda crm: [{"type": k, "description": v}
                            for k, v in sorted(crm.events.types().items())],
               ["type", "description"], fmt)
