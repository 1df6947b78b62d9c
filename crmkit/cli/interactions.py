"""``crmkit interactions record|list``."""

from __future__ import annotations


import click

from ..services.columns import INTERACTION_COLUMNS
from .common import format_option, limit_option, output, pass_state

COLUMNS = ["id", *(c for c in INTERACTION_COLUMNS if c not in ("actor", "payload"))]


@click.group()
def interactions() -> None:
    """Record and list interactions."""


@interactions.command()
@click.argument("customer")
@click.option("--kind", default="purchase", show_default=True,
              help="What happened (purchase, visit, call, email, complaint ...).")
@click.option("--at", "occurred_at", help="ISO 8601 time (default: now); a bare date is midnight UTC.")
@click.option("--channel", help="Channel it happened on (web, store, phone, email ...).")
@click.option("--direction", type=click.Choice(["inbound", "outbound"]), default="inbound",
              help="Inbound (from the customer) or outbound (to the customer).")
@click.option("--amount", help="Money amount, as a decimal number.")
@click.option("--currency", help="ISO 4217 currency code of the amount (EUR, USD ...).")
@click.option("--external-id", help="Its id in the source system.")
@click.option("--payload", help="A JSON object.")
@pass_state
def record(state, customer, kind, occurred_at, channel, direction, amount, currency, external_id,
           payload) -> None:
    """Record one interaction for CUSTOMER (external id).

    \b
    Example:
      crmkit interactions record C00042 --kind purchase --at 2026-12-01 \\
        --channel web --amount 59.90 --currency EUR --external-id ORD-1001
    """
    from ..clock import parse_timestamp
    from ..errors import ValidationError
    from ..types import parse_json

    try:
        data = parse_json(payload) if payload else None
    except ValueError as exc:
        raise ValidationError(f"--payload: not valid JSON: {exc}") from None
    with state.open() as crm:
        when = parse_timestamp(occurred_at, "--at") if occurred_at else crm.clock.now()
        stored = crm.interactions.record(
            customer, when, kind=kind, channel=channel, direction=direction, amount=amount,
            currency=currency, external_id=external_id, payload=data)
    click.echo(f"recorded interaction {stored.id}")


@interactions.command("list")
@click.option("--customer", help="Only this customer's (external id).")
@click.option("--kind", help="Only interactions of this kind (purchase, visit, ...).")
@limit_option("interactions")
@format_option
@pass_state
def list_(state, customer, kind, limit, fmt) -> None:
    """List interactions, newest first.

    \b
    Example:
      crmkit interactions list --customer C00042 --kind purchase --format csv
    """
    import attrs

    with state.open() as crm:
        items = crm.interactions.list(customer=customer, kind=kind, limit=limit)
        names = crm.customers.external_ids_by_id(i.customer_id for i in items)
    rows = [dict(attrs.asdict(i, recurse=False), customer=names.get(i.customer_id))
            for i in items]
    output(rows, COLUMNS, fmt, limit=limit, more="raise --limit or narrow with --customer or --kind")
