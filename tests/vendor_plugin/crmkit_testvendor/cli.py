"""``crmkit testvendor …`` commands."""

import click

from crmkit.plugin import pass_state


@click.group(name="testvendor")
def group() -> None:
    """Test vendor commands."""


@group.command()
@click.argument("customer")
@pass_state
def purchases(state, customer) -> None:
    """Print how many purchases were counted for CUSTOMER."""
    with state.open() as crm:
        click.echo(crm.plugin("testvendor").purchases(customer))
