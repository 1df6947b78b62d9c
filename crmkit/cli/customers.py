"""``crmkit customers add|list|show``."""

from __future__ import annotations

import json

import click

from .common import format_option, output, output_document, pass_state

COLUMNS = ["external_id", "type", "name", "email", "phone", "preferred_channel",
           "lifecycle_stage", "tags"]


@click.group()
def customers() -> None:
    """Add, list and show customers (a customer ID is its external id)."""


@customers.command()
@click.argument("external_id")
@click.option("--name")
@click.option("--type", "type_", type=click.Choice(["person", "organisation"]), default="person",
              show_default=True)
@click.option("--email")
@click.option("--phone")
@click.option("--organisation", help="External id of the organisation this person belongs to.")
@click.option("--preferred-channel")
@click.option("--lifecycle-stage")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--attr", "attrs_", multiple=True, metavar="KEY=VALUE",
              help="An attribute (repeatable; VALUE is JSON when it parses).")
@pass_state
def add(state, external_id, name, type_, email, phone, organisation, preferred_channel,
        lifecycle_stage, tags, attrs_) -> None:
    """Add a customer."""
    attributes = {}
    for item in attrs_:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--attr")
        try:
            attributes[key] = json.loads(value)
        except json.JSONDecodeError:
            attributes[key] = value
    with state.open() as crm:
        customer = crm.customers.add(
            external_id, name, type=type_, email=email, phone=phone, organisation=organisation,
            preferred_channel=preferred_channel, lifecycle_stage=lifecycle_stage,
            tags=list(tags), attributes=attributes)
    click.echo(f"added customer {customer.external_id}")


@customers.command("list")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--type", "type_", type=click.Choice(["person", "organisation"]))
@click.option("--organisation", help="Only the people of this organisation (external id).")
@format_option
@pass_state
def list_(state, limit, offset, type_, organisation, fmt) -> None:
    """List customers."""
    with state.open() as crm:
        rows = [vars_of(c) for c in crm.customers.list(limit=limit, offset=offset, type=type_,
                                                        organisation=organisation)]
    output(rows, COLUMNS, fmt)


def vars_of(customer) -> dict:
    """A customer as a flat dict for output."""
    import attrs

    return attrs.asdict(customer, recurse=False)


@customers.command()
@click.argument("external_id")
@format_option
@pass_state
def show(state, external_id, fmt) -> None:
    """Show one customer's profile and attributes."""
    with state.open() as crm:
        customer = crm.customers.get(external_id)
    output_document(vars_of(customer), "json" if fmt == "json" else "table")
