"""``crmkit catalogue …``: products, profit, association rules and next-best offers."""

from __future__ import annotations

import attrs
import click

from crmkit.plugin import (ImportRejected, ValidationError, as_of_option, format_option, output,
                           output_document, parse_timestamp, pass_state, resolve_as_of)

PRODUCT_COLUMNS = ["sku", "name", "category", "list_price", "unit_cost", "active_from",
                   "active_to"]
PROFIT_COLUMNS = ["customers", "revenue", "cost_of_goods", "gross_margin", "cost_to_serve",
                  "acquisition_cost", "profit"]


@click.group(name="catalogue")
def group() -> None:
    """Products, profit per customer, cross-sell and up-sell."""


@group.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(["csv", "jsonl"]),
              help="File format (default: from the extension: .csv, .jsonl, .ndjson).")
@click.option("--skip-invalid", is_flag=True,
              help="Write the good rows and report the bad ones (default: any bad row "
                   "rejects the file).")
@pass_state
def import_(state, file, file_format, skip_invalid) -> None:
    """Import products from FILE (CSV or JSON Lines), upserted by SKU.

    Columns: sku, name, category (a path such as drinks/tea), list_price,
    unit_cost, and optionally active_from and active_to (ISO 8601).  The whole
    file is checked first; every bad row is reported as "line N: field:
    problem" and nothing is written unless --skip-invalid.

    \b
    Example:
      crmkit catalogue import products.csv
    """

    with state.open() as crm:
        try:
            report = crm.plugin("catalogue").import_products(file, file_format, skip_invalid)
        except ImportRejected as exc:
            _print_problems(exc.report.problems)
            click.echo(exc.report.summary())
            raise ValidationError(f"{exc.report.rejected} bad row(s), nothing written: fix the "
                                  "rows above, or use --skip-invalid to write the good rows"
                                  ) from None
    _print_problems(report.problems)
    click.echo(report.summary())


def _print_problems(problems) -> None:
    for where, field, message in problems:
        click.echo(f"{where}: {field}: {message}", err=True)


@group.command(name="list")
@click.option("--category", help="Only this category and its subcategories (a path).")
@click.option("--active", "active_only", is_flag=True,
              help="Only products on sale at --as-of.")
@as_of_option
@format_option
@pass_state
def list_(state, category, active_only, as_of, fmt) -> None:
    """List the products by SKU.

    \b
    Example:
      crmkit catalogue list --category drinks --active --format csv
    """
    with state.open() as crm:
        at = resolve_as_of(crm, as_of) if active_only else None
        found = crm.plugin("catalogue").products(category, at)
    output([attrs.asdict(p) for p in found], PRODUCT_COLUMNS, fmt)


@group.command()
@click.argument("sku")
@format_option
@pass_state
def show(state, sku, fmt) -> None:
    """Show the product SKU.

    \b
    Example:
      crmkit catalogue show TEA-1 --format json
    """
    with state.open() as crm:
        product = crm.plugin("catalogue").product(sku)
    output_document(attrs.asdict(product), "json" if fmt == "json" else "table")


@group.command()
@click.option("--by", type=click.Choice(["customer", "segment", "period"]), default="customer",
              show_default=True, help="One line per customer, saved segment, or period.")
@click.option("--period", type=click.Choice(["month", "quarter", "year"]), default="month",
              show_default=True, help="The period of --by period (calendar, UTC).")
@click.option("--since", help="Only purchases and costs after this date (ISO 8601).")
@as_of_option
@format_option
@pass_state
def profit(state, by, period, since, as_of, fmt) -> None:
    """Profit: gross margin − cost to serve − acquisition cost.

    Gross margin is the line items' totals minus quantity × unit cost; cost to
    serve is the configured cost per event (cases, tasks) plus handling time.
    Acquisition cost is each customer's share of the campaign costs that
    acquired them (with the campaigns plugin); a note on standard error says
    where it comes from, or why it is 0.

    \b
    Example:
      crmkit catalogue profit --by period --period quarter --as-of 2025-01-01
    """
    with state.open() as crm:
        api = crm.plugin("catalogue")
        start = None if since is None else parse_timestamp(since, "--since")
        lines = api.profit(by, resolve_as_of(crm, as_of), start, period)
    output([line.as_dict(by) for line in lines], [by, *PROFIT_COLUMNS], fmt)
    click.echo(f"note: {api.acquisition_note()}", err=True)


@group.command()
@click.option("--min-support", type=click.FloatRange(0, 1, min_open=True),
              help="Least support of an itemset (default: the configuration's).")
@click.option("--min-confidence", type=click.FloatRange(0, 1),
              help="Least confidence of a rule (default: the configuration's).")
@click.option("--min-lift", type=click.FloatRange(0), help="Least lift of a rule.")
@click.option("--max-itemset", type=click.IntRange(2, 4), help="Largest itemset mined.")
@as_of_option
@format_option
@pass_state
def rules(state, min_support, min_confidence, min_lift, max_itemset, as_of, fmt) -> None:
    """Association rules over baskets: support, confidence, lift.

    \b
    Example:
      crmkit catalogue rules --min-support 0.02 --min-lift 1.5 --format csv
    """
    overrides = {k: v for k, v in {"min_support": min_support, "min_confidence": min_confidence,
                                   "min_lift": min_lift, "max_itemset": max_itemset}.items()
                 if v is not None}
    with state.open() as crm:
        found = crm.plugin("catalogue").rules(resolve_as_of(crm, as_of), **overrides)
    if fmt != "json":
        found = [dict(r, antecedents=" + ".join(r["antecedents"]),
                      consequents=" + ".join(r["consequents"])) for r in found]
    output(found, ["antecedents", "consequents", "support", "confidence", "lift"], fmt)


@group.command()
@click.option("--customer", help="Only this customer's offers (external id).")
@click.option("--save", "save_as", metavar="NAME",
              help="Save every customer's offers as the list NAME, for a campaign.")
@click.option("--replace", is_flag=True, help="With --save: recompute an existing list.")
@click.option("--segment", is_flag=True,
              help="With --save: also save the list's customers as the analytical segment NAME.")
@click.option("--list", "list_name", metavar="NAME", help="Show the saved list NAME.")
@as_of_option
@format_option
@pass_state
def offers(state, customer, save_as, replace, segment, list_name, as_of, fmt) -> None:
    """Next-best offers: cross-sell and up-sell per customer.

    Products a customer has not bought and that are on sale, ranked by the
    association rules and the customer's categories; kind up is a dearer
    product in a category the customer bought from.

    \b
    Example:
      crmkit catalogue offers --customer C-1
      crmkit catalogue offers --save spring-offers --segment
    """
    columns = ["customer", "rank", "sku", "kind", "score"]
    with state.open() as crm:
        api = crm.plugin("catalogue")
        if save_as is not None:
            if customer or list_name:
                raise ValidationError("--save saves every customer's offers: drop --customer "
                                      "and --list")
            count = api.save_offers(save_as, resolve_as_of(crm, as_of), replace, segment)
            click.echo(f"saved offer list {save_as!r}: {count} customer(s)"
                       + (f"; and the analytical segment {save_as!r}" if segment else ""))
            return
        if list_name is not None:
            output(api.offer_list(list_name), columns, fmt)
            return
        output(api.offers(customer, resolve_as_of(crm, as_of)), columns, fmt)
