"""``crmkit idic …``: duplicates, differentiation, contact plans, treatments, report."""

from __future__ import annotations

import click

from crmkit.plugin import (
    as_of_option, format_option, output, output_document, pass_state, resolve_as_of,
)


def _when(text: str | None, field: str):
    from crmkit.plugin import parse_timestamp

    return None if text is None else parse_timestamp(text, field)


@click.group(name="idic")
def group() -> None:
    """Identify, differentiate, interact, customise (Peppers & Rogers)."""


@group.command()
@click.option("--min-score", type=click.FloatRange(0, 1), default=None,
              help="List pairs at or above this score (default: config min_score).")
@format_option
@pass_state
def duplicates(state, min_score, fmt) -> None:
    """List candidate duplicates with a score and the reasons.

    \b
    Example:
      crmkit idic duplicates --min-score 0.8 --format csv
    """
    with state.open() as crm:
        result = crm.plugin("idic").find_duplicates(min_score)
    rows = [{"keep": p.first, "duplicate": p.second, "keep_name": p.first_name,
             "duplicate_name": p.second_name, "score": p.score, "reasons": "; ".join(p.reasons)}
            for p in result.pairs]
    output(rows, ["keep", "duplicate", "keep_name", "duplicate_name", "score", "reasons"], fmt)
    if fmt == "table":
        for key, size in result.skipped_blocks:
            click.echo(f"skipped block {key} ({size} records > max_block_size)", err=True)


@group.command()
@click.argument("keep")
@click.argument("duplicate")
@pass_state
def merge(state, keep, duplicate) -> None:
    """Merge customer DUPLICATE into customer KEEP.

    This is the core merge (crmkit customers merge): every plugin's rows move
    to KEEP.

    \b
    Example:
      crmkit idic merge C00042 C00977
    """
    with state.open() as crm:
        crm.plugin("idic").merge(keep, duplicate)
    click.echo(f"merged {duplicate} into {keep}")


@group.command()
@click.argument("first")
@click.argument("second")
@pass_state
def dismiss(state, first, second) -> None:
    """Record that FIRST and SECOND are different people.

    The pair is no longer listed as duplicates.

    \b
    Example:
      crmkit idic dismiss C00042 C00977
    """
    with state.open() as crm:
        crm.plugin("idic").dismiss(first, second)
    click.echo(f"{first} and {second} are not duplicates")


@group.command()
@as_of_option
@click.option("--since", default=None, metavar="DATE", help="Only interactions from this date.")
@format_option
@pass_state
def identification(state, as_of, since, fmt) -> None:
    """The identification rate of interactions.

    The share of interactions attributed to an identified customer.

    \b
    Example:
      crmkit idic identification --as-of 2026-12-01 --since 2026-06-01
    """
    with state.open() as crm:
        rate = crm.plugin("idic").identification_rate(resolve_as_of(crm, as_of),
                                                      _when(since, "--since"))
    output_document({"interactions": rate.interactions, "identified": rate.identified,
                     "identification_rate": rate.rate}, fmt)


@group.command()
@as_of_option
@click.option("--dry-run", is_flag=True, help="Compute and show, but do not store a run.")
@format_option
@pass_state
def differentiate(state, as_of, dry_run, fmt) -> None:
    """Group customers by value and needs; store the run.

    The value groups are MVC, MGC, BZ and maintain.

    \b
    Example:
      crmkit idic differentiate --as-of 2026-12-01 --dry-run --format csv
    """
    with state.open() as crm:
        result = crm.plugin("idic").differentiate(resolve_as_of(crm, as_of), save=not dry_run)
    rows = [{"kind": "value", "group": g, "customers": n} for g, n in result.counts.items()]
    rows += [{"kind": "needs", "group": g, "customers": n}
             for g, n in sorted(result.needs_counts.items())]
    output(rows, ["kind", "group", "customers"], fmt)
    if result.clv_missing:
        click.echo(f"potential value is 0 for everyone: no predicted CLV ({result.clv_missing})",
                   err=True)
    if fmt == "table":
        stored = "not stored (dry run)" if result.run_id is None else f"run {result.run_id}"
        click.echo(f"{stored}; {result.changed} customers changed value group")


@group.command()
@click.option("--group", "group_name", default=None, help="Only this value or needs group.")
@as_of_option
@format_option
@pass_state
def groups(state, group_name, as_of, fmt) -> None:
    """Customers with their groups and values in the latest run.

    \b
    Example:
      crmkit idic groups --group MVC --format csv
    """
    state.show(lambda crm: crm.plugin("idic").groups(resolve_as_of(crm, as_of), group_name),
               ["customer", "name", "value_group", "needs_group", "current_value",
                "potential_value", "cost_to_serve"], fmt)


@group.command()
@click.option("--group", "group_name", default=None, help="Only this value or needs group.")
@as_of_option
@format_option
@pass_state
def due(state, group_name, as_of, fmt) -> None:
    """Customers due for contact under their contact plan.

    A customer's plan is that of their value or needs group.

    \b
    Example:
      crmkit idic due --group MGC --as-of 2026-12-01
    """
    state.show(lambda crm: crm.plugin("idic").due(resolve_as_of(crm, as_of), group_name),
               ["customer", "name", "value_group", "needs_group", "plan", "frequency_days",
                "channel", "last_contact", "days_since"], fmt)


@group.command()
@click.argument("customer")
@click.option("--summary", default=None, help="What was said.")
@click.option("--channel", default=None, help="Default: the plan's or preferred channel.")
@click.option("--at", "at", default=None, metavar="DATE", help="When (default: now).")
@click.option("--inbound", is_flag=True, help="The customer started the dialogue.")
@pass_state
def dialogue(state, customer, summary, channel, at, inbound) -> None:
    """Record a dialogue with CUSTOMER.

    \b
    Example:
      crmkit idic dialogue C00042 --summary "asked about the new range" \\
        --channel phone --inbound
    """
    with state.open() as crm:
        dialogue_id = crm.plugin("idic").record_dialogue(
            customer, summary, channel, _when(at, "--at"), "inbound" if inbound else "outbound")
    click.echo(f"dialogue {dialogue_id} recorded")


@group.group()
def treatments() -> None:
    """Treatments per group, with holdouts.

    A treatment is an offer, a service level or a channel.
    """


@treatments.command("add")
@click.argument("name")
@click.option("--group", "group_name", required=True, help="Value group or needs group.")
@click.option("--type", "kind", required=True, type=click.Choice(["offer", "service_level",
                                                                  "channel"]),
              help="What kind of treatment.")
@click.option("--detail", required=True, help="What the treatment is.")
@click.option("--holdout", type=float, default=None, help="Holdout share (default: config).")
@click.option("--start", default=None, metavar="DATE", help="Start (default: now).")
@pass_state
def treatments_add(state, name, group_name, kind, detail, holdout, start) -> None:
    """Start treatment NAME for a group.

    \b
    Examples:
      crmkit idic treatments add vip-lounge --group MVC --type service_level \\
        --detail "priority phone line" --holdout 0.1 --start 2026-12-01
    """
    with state.open() as crm:
        t = crm.plugin("idic").add_treatment(name, group_name, kind, detail, holdout,
                                             _when(start, "--start"))
    click.echo(f"treatment {t.name}: {t.treated} treated, {t.held_out} held out")


@treatments.command("list")
@format_option
@pass_state
def treatments_list(state, fmt) -> None:
    """Every treatment with its arm sizes.

    \b
    Example:
      crmkit idic treatments list --format json
    """
    state.show(lambda crm: crm.plugin("idic").treatments(),
               ["name", "group", "type", "detail", "holdout_share", "start", "end", "treated",
                "held_out"], fmt)


@treatments.command("end")
@click.argument("name")
@click.option("--at", "at", default=None, metavar="DATE", help="When (default: now).")
@pass_state
def treatments_end(state, name, at) -> None:
    """Stop treatment NAME.

    \b
    Example:
      crmkit idic treatments end vip-lounge --at 2026-12-31
    """
    with state.open() as crm:
        t = crm.plugin("idic").end_treatment(name, _when(at, "--at"))
    click.echo(f"treatment {t.name} ended at {t.end.isoformat()}")


@group.command()
@click.argument("name")
@click.option("--metric", type=click.Choice(["revenue", "purchases", "purchase_rate"]),
              default="revenue", show_default=True, help="The metric compared.")
@as_of_option
@format_option
@pass_state
def uplift(state, name, metric, as_of, fmt) -> None:
    """Uplift of treatment NAME on a metric.

    The treated customers' mean minus the holdout's mean.

    \b
    Example:
      crmkit idic uplift vip-lounge --metric purchases --as-of 2026-12-01
    """
    with state.open() as crm:
        result = crm.plugin("idic").uplift(name, metric, resolve_as_of(crm, as_of))
    output_document(result, fmt)


@group.command()
@click.argument("customer", required=False)
@as_of_option
@format_option
@pass_state
def progress(state, customer, as_of, fmt) -> None:
    """Per-customer IDIC progress, 0 to 4.

    Of one CUSTOMER, or of everyone.

    \b
    Example:
      crmkit idic progress C00042 --format json
    """
    with state.open() as crm:
        api = crm.plugin("idic")
        when = resolve_as_of(crm, as_of)
        found = [api.progress(customer, when)] if customer else api.progress_list(when)
    import attrs

    rows = [dict(attrs.asdict(p, recurse=False), progress=p.score) for p in found]
    output(rows, ["customer", "name", "identified", "differentiated", "interacted",
                  "customised", "progress"], fmt)


@group.command()
@as_of_option
@format_option
@pass_state
def report(state, as_of, fmt) -> None:
    """The IDIC report: all four steps at a glance.

    Identification rate, groups, contacts due, treatments and progress.

    \b
    Example:
      crmkit idic report --as-of 2026-12-01 --format json
    """
    with state.open() as crm:
        document = crm.plugin("idic").report(resolve_as_of(crm, as_of))
    output_document(document, fmt)
