"""``crmkit campaigns ...``: imported only when the command is invoked."""

from __future__ import annotations

import click

from crmkit.plugin import (ValidationError, as_of_option, check_chart, draw_chart,
                           format_option, output, output_document, parse_json, parse_timestamp,
                           pass_state, plot_option, resolve_as_of)


@click.group(name="campaigns")
def group() -> None:
    """Marketing campaigns: plan, schedule, run and pause."""


def read_template(path: str, option: str) -> str:
    """The text of a template file; an unreadable file is one clear error."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ValidationError(f"{option} {path}: cannot read it: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValidationError(f"{option} {path}: not UTF-8 text") from None


def parse_variant(spec: str):
    """``NAME:SHARE:SUBJECT:TEMPLATE_FILE`` → a Variant (the subject may contain colons)."""
    from .definition import Variant

    name, _, rest = spec.partition(":")
    share_text, _, rest = rest.partition(":")
    subject, _, path = rest.rpartition(":")
    if not name or not share_text or not path:
        raise ValidationError(f"--variant {spec!r}: expected NAME:SHARE:SUBJECT:TEMPLATE_FILE "
                              "(B:0.5:Spring offer:b.txt)")
    try:
        share = float(share_text)
    except ValueError:
        raise ValidationError(f"--variant {spec!r}: share {share_text!r} is not a number "
                              "(0.5 is half of the recipients)") from None
    return Variant(name, share, subject or None,
                   read_template(path, f"--variant {name} template file"))


def _campaign_document(campaign: dict) -> dict:
    """A campaign for display: the template by its length, not its text."""
    shown = {key: value for key, value in campaign.items() if key != "template"}
    shown["variants"] = [{k: v for k, v in variant.items() if k != "template"}
                         for variant in campaign["variants"]]
    return shown


@group.command()
@click.argument("name")
@click.option("--channel", required=True, help="The channel the messages go out on (email, "
              "webhook, or one a plugin adds).")
@click.option("--if", "condition", default=None, metavar="CONDITION",
              help="The audience: a condition over customer fields, as JSON (the condition "
                   "language of saved segments).")
@click.option("--segment", default=None, help="The audience: an analytical saved segment.")
@click.option("--subject", default=None, help="The message subject (required for email; may "
              "use the template's fields).")
@click.option("--template-file", "template_file", required=True, type=click.Path(dir_okay=False),
              help="The message template (Jinja2 over the customer's fields; HTML when it "
                   "starts with <).")
@click.option("--holdout", type=float, default=0.0, show_default=True,
              help="Fraction of the eligible recipients held out (sent nothing), in [0, 1).")
@click.option("--cost", default="0", show_default=True, help="Fixed cost of the campaign.")
@click.option("--cost-per-message", "cost_per_message", default="0", show_default=True,
              help="Cost of each message sent.")
@click.option("--goal", default=None, help="What the campaign is for, in a line.")
@click.option("--variant", "variants", multiple=True, metavar="NAME:SHARE:SUBJECT:TEMPLATE_FILE",
              help="An A/B variant (repeat it; the shares add up to 1).")
@click.option("--attribution-days", "attribution_days", type=int, default=None,
              help="Days after a message in which a purchase counts as the campaign's.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@pass_state
def add(state, name, channel, condition, segment, subject, template_file, holdout, cost,
        cost_per_message, goal, variants, attribution_days, fmt) -> None:
    """Add a draft campaign NAME.

    The audience is a saved segment (--segment) or a condition (--if); the
    template is checked against the customer fields before anything is stored.

    \b
    Example:
      crmkit campaigns add spring --channel email --segment loyal \\
        --subject "Hello {{ name }}" --template-file spring.txt \\
        --holdout 0.1 --cost 500 --cost-per-message 0.01
    """
    if condition is not None:
        try:
            condition = parse_json(condition)
        except ValueError as exc:
            raise ValidationError(f"--if: not valid JSON: {exc}") from None
    template = read_template(template_file, "--template-file")
    chosen = [parse_variant(spec) for spec in variants]
    with state.open() as crm:
        campaign = crm.plugin("campaigns").add(
            name, channel=channel, template=template, subject=subject, segment=segment,
            condition=condition, holdout=holdout, cost=cost, cost_per_message=cost_per_message,
            goal=goal, variants=chosen, attribution_days=attribution_days,
            template_label=f"--template-file {template_file}")
    output_document(_campaign_document(campaign), fmt)


@group.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@pass_state
def show(state, name, fmt) -> None:
    """Show campaign NAME: its definition and recipient counts.

    Recipients by status, by the reason they were skipped, and by variant.

    \b
    Example:
      crmkit campaigns show spring --format json
    """
    with state.open() as crm:
        campaign = crm.plugin("campaigns").show(name)
    output_document(campaign if fmt == "json" else _campaign_document(campaign), fmt)


@group.command(name="list")
@format_option
@pass_state
def list_campaigns(state, fmt) -> None:
    """List the campaigns, newest first, with their recipient counts.

    \b
    Example:
      crmkit campaigns list --format csv
    """
    from .definition import LIST_COLUMNS

    state.show(lambda crm: crm.plugin("campaigns").list(), LIST_COLUMNS, fmt)


@group.command()
@click.argument("name")
@click.option("--at", "at", required=True, metavar="ISO",
              help="When to start (ISO 8601; without an offset: UTC); in the future.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@pass_state
def schedule(state, name, at, fmt) -> None:
    """Schedule campaign NAME: the worker plans and sends it at --at.

    \b
    Example:
      crmkit campaigns schedule spring --at 2026-12-24T09:00:00+01:00
    """
    moment = parse_timestamp(at, "--at")
    with state.open() as crm:
        campaign = crm.plugin("campaigns").schedule(name, moment)
    output_document({"name": campaign["name"], "status": campaign["status"],
                     "schedule_at": campaign["schedule_at"]}, fmt)


@group.command()
@click.argument("name")
@format_option
@pass_state
def run(state, name, fmt) -> None:
    """Plan campaign NAME's recipients now and print the counts.

    Consent, preferred channel, frequency caps, holdout and variants are
    decided for the whole audience at once; running again plans only customers
    who joined the audience since.  The worker renders and sends the messages
    when the campaign is due.

    \b
    Example:
      crmkit campaigns run spring --format json
    """
    from .planning import counts_rows

    with state.open() as crm:
        result = crm.plugin("campaigns").run(name)
    if fmt == "json":
        output_document(result, fmt)
    else:
        output(counts_rows(result), ["count", "recipients"], fmt)


@group.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True, help="Output format.")
@pass_state
def pause(state, name, fmt) -> None:
    """Pause campaign NAME until it is run again.

    No more messages are rendered; those already queued still go.

    \b
    Example:
      crmkit campaigns pause spring
    """
    with state.open() as crm:
        campaign = crm.plugin("campaigns").pause(name)
    output_document({"name": campaign["name"], "status": campaign["status"]}, fmt)


@group.command()
@click.option("--since", required=True, metavar="DATE",
              help="The period starts after this date (its campaigns were created in it).")
@as_of_option
@format_option
@plot_option
@pass_state
def returns(state, since, as_of, fmt, plot) -> None:
    """CRM ROI and customer acquisition cost of a period.

    Revenue attributed to the period's campaigns against their costs and the CRM's
    running cost (config costs), and acquisition cost per new customer, inputs shown.
    --plot draws the benefit against the costs.

    \b
    Example:
      crmkit campaigns returns --since 2026-01-01 --as-of 2026-07-01 --format json
    """
    if plot is not None:
        check_chart(plot)
    with state.open() as crm:
        result = crm.plugin("campaigns").returns(parse_timestamp(since, "--since"),
                                                 resolve_as_of(crm, as_of))
    output_document(dict(result, campaigns=", ".join(result["campaigns"]))
                    if fmt != "json" else result, fmt)
    from .returns import plot as draw

    draw_chart(plot, lambda: draw(result, plot),
               None if result["revenue"] or result["cost"] else "no revenue and no cost in "
                                                                "the period")


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

    Deliveries, responses, revenue, cost, ROI and uplift over the holdout.
    One row for all recipients, one per A/B variant and one for the holdout;
    --format json prints one object with the totals at the top.

    \b
    Example:
      crmkit campaigns report spring-sale --format json --plot spring.png
    """
    from . import report as reporting

    if plot is not None:
        check_chart(plot)
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
