"""``crmkit valuechain …``: SSCs, network, propositions, actions, ratings, stages, report."""

from __future__ import annotations

import click

from crmkit.plugin import (
    as_of_option, format_option, output, output_document, pass_state, resolve_as_of,
)


def _row(item) -> dict:
    import attrs

    return attrs.asdict(item, recurse=False)


@click.group(name="valuechain")
def group() -> None:
    """Buttle's CRM value chain: five stages in order, supporting conditions."""


@group.command()
@as_of_option
@click.option("--top-share", type=float, default=None, help="Default: config ssc_top_share.")
@format_option
@pass_state
def suggest(state, as_of, top_share, fmt) -> None:
    """Suggest high-value SSCs from predicted CLV.

    \b
    Example:
      crmkit valuechain suggest --as-of 2026-12-01 --top-share 0.1
    """
    with state.open() as crm:
        rows = crm.plugin("valuechain").suggest_ssc(resolve_as_of(crm, as_of), top_share)
    output([_row(r) for r in rows], ["rank", "customer", "name", "clv", "marked"], fmt)


@group.group()
def ssc() -> None:
    """Strategically significant customers."""


@ssc.command("mark")
@click.argument("customer")
@click.option("--reason", "reasons", multiple=True, required=True,
              type=click.Choice(["high_value", "benchmark", "inspiration", "door_opener"]),
              help="Why the customer is significant (repeatable).")
@click.option("--group", "group_name", default=None, help="SSC group (default: config).")
@click.option("--note", default=None, help="A note kept with the mark.")
@pass_state
def ssc_mark(state, customer, reasons, group_name, note) -> None:
    """Mark CUSTOMER as strategically significant.

    \b
    Examples:
      crmkit valuechain ssc mark C00042 --reason high_value --reason door_opener \\
        --group "key accounts"
    """
    with state.open() as crm:
        crm.plugin("valuechain").mark_ssc(customer, list(reasons), group_name, note)
    click.echo(f"{customer} marked as SSC ({', '.join(reasons)})")


@ssc.command("unmark")
@click.argument("customer")
@pass_state
def ssc_unmark(state, customer) -> None:
    """Remove CUSTOMER's SSC mark.

    \b
    Example:
      crmkit valuechain ssc unmark C00042
    """
    with state.open() as crm:
        crm.plugin("valuechain").unmark_ssc(customer)
    click.echo(f"{customer} is no longer an SSC")


@ssc.command("list")
@format_option
@pass_state
def ssc_list(state, fmt) -> None:
    """Every SSC.

    \b
    Example:
      crmkit valuechain ssc list --format json
    """
    with state.open() as crm:
        rows = crm.plugin("valuechain").sscs()
    output([_row(r) for r in rows], ["customer", "name", "group", "reasons", "note", "marked_at"],
           fmt)


@group.command()
@click.argument("kind", type=click.Choice(["supplier", "partner", "employee", "owner"]))
@click.argument("name")
@click.option("--role", required=True, help="Its role towards the SSCs.")
@click.option("--group", "group_name", default=None, help="Only towards this SSC group.")
@click.option("--customer", default=None, help="Only towards this SSC.")
@pass_state
def network(state, kind, name, role, group_name, customer) -> None:
    """Record a network member (KIND NAME) and its role.

    \b
    Examples:
      crmkit valuechain network supplier "Acme Logistics" \\
        --role "next-day delivery" \\
        --group "key accounts"
    """
    with state.open() as crm:
        member = crm.plugin("valuechain").add_network_member(kind, name, role, group_name, customer)
    click.echo(f"network member {member} recorded")


@group.command()
@click.argument("group_name", metavar="GROUP")
@click.argument("text")
@pass_state
def proposition(state, group_name, text) -> None:
    """Record the value proposition TEXT of SSC group GROUP.

    \b
    Example:
      crmkit valuechain proposition "key accounts" "Same-day support"
    """
    with state.open() as crm:
        crm.plugin("valuechain").set_proposition(group_name, text)
    click.echo(f"value proposition for {group_name} recorded")


@group.command()
@click.argument("group_name", metavar="GROUP")
@click.argument("kind", type=click.Choice(["acquisition", "retention", "development"]))
@click.argument("description")
@pass_state
def action(state, group_name, kind, description) -> None:
    """Record a lifecycle action of KIND for SSC group GROUP.

    DESCRIPTION says what the action is.

    \b
    Example:
      crmkit valuechain action "key accounts" retention "Quarterly review"
    """
    with state.open() as crm:
        crm.plugin("valuechain").add_action(group_name, kind, description)
    click.echo(f"{kind} action for {group_name} recorded")


@group.command()
@click.argument("condition", type=click.Choice(["leadership_culture", "data_it", "people",
                                                "processes"]))
@click.argument("rating", type=click.IntRange(1, 5))
@click.option("--note", default=None, help="Why this rating.")
@pass_state
def rate(state, condition, rating, note) -> None:
    """Rate a supporting CONDITION from 1 to 5 (RATING).

    \b
    Example:
      crmkit valuechain rate data_it 3 --note "no single customer view yet"
    """
    with state.open() as crm:
        crm.plugin("valuechain").rate(condition, rating, note)
    click.echo(f"{condition} rated {rating}")


@group.command()
@click.argument("stage")
@pass_state
def complete(state, stage) -> None:
    """Complete STAGE of the value chain.

    STAGE is 1-5 or its name: portfolio, intimacy, network, proposition,
    lifecycle.

    \b
    Example:
      crmkit valuechain complete portfolio
    """
    with state.open() as crm:
        result = crm.plugin("valuechain").complete(stage)
    click.echo(f"stage {result.stage} complete: {result.detail}")


@group.command()
@click.argument("stage")
@pass_state
def reopen(state, stage) -> None:
    """Reopen STAGE and every later stage.

    \b
    Example:
      crmkit valuechain reopen 3
    """
    with state.open() as crm:
        stages = crm.plugin("valuechain").reopen(stage)
    click.echo("reopened stage(s) " + ", ".join(map(str, stages)))


@group.command()
@as_of_option
@format_option
@pass_state
def report(state, as_of, fmt) -> None:
    """The chain's progress, blocking stage and weakest condition.

    The weakest condition is the lowest rated supporting condition.

    \b
    Example:
      crmkit valuechain report --as-of 2026-12-01 --format json
    """
    with state.open() as crm:
        document = crm.plugin("valuechain").report(resolve_as_of(crm, as_of))
    output_document(document, fmt)
