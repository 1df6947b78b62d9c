"""``crmkit campaigns ...``: imported only when the command is invoked."""

from __future__ import annotations

import click

from crmkit.plugin import (as_of_option, format_option, output, output_document, pass_state,
                           resolve_as_of)


@click.group(name="campaigns")
def group() -> None:
    """Marketing campaigns: plan, schedule, run and pause."""


@group.command(name="list")
@format_option
@pass_state
def list_campaigns(state, fmt) -> None:
    """List the campaigns, newest first, with their recipient counts.

    \b
    Example:
      crmkit campaigns list --format csv
    """
    from .planning import LIST_COLUMNS

    with state.open() as crm:
        rows = crm.plugin("campaigns").list()
    output(rows, LIST_COLUMNS, fmt)


@group.command()
@click.argument("name")
@click.option("--plot", "plot", default=None, metavar="FILE",
              help="Also draw the funnel per variant into FILE (.png or .svg; needs "
                   "crmkit[plots]).")
@as_of_option
@format_option
@pass_state
def report(state, name, plot, as_of, fmt) -> None:
    """Campaign NAME's results: sent, converted, revenue, ROI, uplift.

    Deliveries, responses, revenue, cost, ROI and uplift over the holdout.  One row for all recipients, one per A/B variant and one for the holdout;
    --format json prints one object with the totals at the top.

    \b
    Example:
      crmkit campaigns report spring-sale --format json --plot spring.png
    """
    from . import report as reporting

    if plot is not None:
        reporting.check_plot(plot)
    with state.open() as crm:
        result = crm.plugin("campaigns").report(name, resolve_as_of(crm, as_of))
    if fmt == "json":
        output_document(result.document(), fmt)
    else:
        output(result.rows(), reporting.COLUMNS, fmt)
    if plot is not None:
        click.echo(f"chart written to {reporting.plot(result, plot)}", err=True)


@group.command()
@click.argument("name")
@click.option("--amount", default=None, help="Give each recipient a coupon for this much off.")
@click.option("--currency", default=None, help="The --amount's currency (ISO 4217).")
@click.option("--percent", default=None, help="Give each recipient a coupon for this percent off.")
@click.option("--valid-days", type=int, default=None, help="Days a code is valid from issue.")
@click.option("--expires", default=None, metavar="DATE", help="The date every code expires.")
@click.option("--shared", default=None, metavar="CODE",
              help="One code for every recipient (once per customer) instead of unique codes.")
@click.option("--max-uses", type=int, default=None, help="Most redemptions of a --shared code.")
@format_option
@pass_state
def coupons(state, name, amount, currency, percent, valid_days, expires, shared, max_uses,
            fmt) -> None:
    """List campaign NAME's coupons, or set its coupon offer.

    With --amount or --percent the campaign's offer is set: every recipient
    planned so far gets a code now, later ones when their message is
    rendered; templates show it as {{ coupon }}.  A unique code is used once;
    a purchase redeems it with "coupon": CODE in its payload.

    \b
    Example:
      crmkit campaigns coupons spring-sale --percent 10 --valid-days 14
    """
    import attrs

    from crmkit.plugin import ValidationError, parse_timestamp

    with state.open() as crm:
        api = crm.plugin("campaigns")
        if amount is not None or percent is not None:
            if amount is not None and percent is not None:
                raise ValidationError("coupons: give --amount or --percent, not both")
            issued = api.set_offer(
                name, "amount" if amount is not None else "percent",
                amount if amount is not None else percent, currency, valid_days,
                None if expires is None else parse_timestamp(expires, "--expires"), shared,
                max_uses)
            click.echo(f"campaign {name}: coupon offer set; {issued} code(s) issued", err=True)
        rows = [attrs.asdict(coupon) for coupon in api.coupons(name)]
    output(rows, ["code", "customer", "kind", "value", "currency", "expires_at", "max_uses",
                  "uses", "issued_at"], fmt)
