"""``crmkit operational …``: pipeline, leads, scores, opportunities, tasks, cases, rules, sweep."""

from __future__ import annotations

import click

from crmkit.plugin import (
    State, as_of_option, check_chart, draw_chart, format_option, limit_option, output,
    output_document, pass_state, plot_option, resolve_as_of,
)

PLUGIN = "operational"


def _api(crm):
    return crm.plugin(PLUGIN)


def _when(text: str | None, what: str):
    from crmkit.plugin import parse_timestamp

    return None if text is None else parse_timestamp(text, what)


def _plot(plot: str | None, draw, empty: str | None) -> None:
    """``--plot``: draw the chart with ``draw(charts)`` (this plugin's charts module), or say
    why there is nothing to draw (see ``draw_chart``)."""
    def drawn():
        from . import charts

        return draw(charts)

    draw_chart(plot, drawn, empty)


@click.group(name=PLUGIN)
def group() -> None:
    """Funnel, lead scoring, assignment, tasks, service cases and automation."""


# -- pipeline and scores -----------------------------------------------------------------


@group.command()
@click.option("--by", "by", multiple=True, type=click.Choice(["stage", "owner", "month"]),
              help="Group by stage, owner and/or expected close month (repeatable; default stage).")
@as_of_option
@format_option
@pass_state
def pipeline(state, by, as_of, fmt) -> None:
    """Weighted pipeline of the open opportunities.

    Σ amount × win probability of the open opportunities.

    \b
    Example:
      crmkit operational pipeline --by owner --by month --format csv
    """
    by = tuple(by) or ("stage",)
    with state.open() as crm:
        rows = _api(crm).weighted_pipeline(resolve_as_of(crm, as_of), by)
    columns = list(by) + (["probability"] if "stage" in by else []) + [
        "currency", "opportunities", "amount", "weighted"]
    output(rows, columns, fmt)


@group.command(name="cycle")
@click.option("--by", type=click.Choice(["owner", "source"]), default=None,
              help="One row per opportunity owner or lead source (default: overall).")
@click.option("--since", default=None, metavar="DATE", help="Only opportunities won after it.")
@click.option("--opportunities", "each", is_flag=True,
              help="One row per won opportunity instead of the summary.")
@as_of_option
@format_option
@plot_option
@pass_state
def sales_cycle(state, by, since, each, as_of, fmt, plot) -> None:
    """Sales-cycle length: lead created to opportunity won.

    Median, quartiles, mean, shortest, longest and a distribution in days; --plot draws
    the distribution (one series per owner or source with --by).

    \b
    Example:
      crmkit operational cycle --by owner --since 2026-01-01 --plot cycle.png
    """
    if plot is not None:
        check_chart(plot)
    with state.open() as crm:
        api, moment = _api(crm), resolve_as_of(crm, as_of)
        start = _when(since, "--since")
        if each:
            output(api.sales_cycles(moment, start),
                   ["opportunity", "customer", "owner", "source", "from", "started", "won_at",
                    "days"], fmt)
        rows = api.sales_cycle(moment, start, by) if plot or not each else None
    if not each:
        from .cycle import BUCKETS

        output(rows, ([by] if by else []) + [
            "won", "median_days", "p25_days", "p75_days", "mean_days", "min_days", "max_days",
            *[f"days_{label}" for _, label in BUCKETS]], fmt)
    _plot(plot, lambda charts: charts.sales_cycle(rows, by, plot),
          None if rows else "no opportunity won up to --as-of")


@group.command(name="sources")
@click.option("--since", default=None, metavar="DATE", help="Only leads created after it.")
@as_of_option
@format_option
@plot_option
@pass_state
def lead_sources(state, since, as_of, fmt, plot) -> None:
    """Lead-source attribution: leads, conversions, revenue.

    Per lead source: the leads created, how many of their customers won an opportunity, the
    conversion, the opportunities won and their amounts per currency.  --plot draws leads
    and conversions per source.

    \b
    Example:
      crmkit operational sources --since 2026-01-01 --plot sources.png
    """
    if plot is not None:
        check_chart(plot)
    with state.open() as crm:
        rows = _api(crm).lead_sources(resolve_as_of(crm, as_of), _when(since, "--since"))
    if fmt == "json":
        output_document(rows, fmt)
    else:
        output([dict(r, revenue="; ".join(f"{amount:.2f} {currency}"
                                          for currency, amount in r["revenue"].items()))
                for r in rows], ["source", "leads", "converted", "conversion", "won", "revenue"],
               fmt)
    _plot(plot, lambda charts: charts.lead_sources(rows, plot),
          None if rows else "no lead up to --as-of")


@group.command(name="forecast-accuracy")
@click.option("--months", type=click.IntRange(1, 120), default=12, show_default=True,
              help="How many whole months before --as-of.")
@as_of_option
@format_option
@plot_option
@pass_state
def forecast_accuracy(state, months, as_of, fmt, plot) -> None:
    """Forecast accuracy: weighted pipeline vs what was won.

    Each month's weighted pipeline at its start (opportunities expected to close in it)
    against the amounts won in it; then MAPE and bias per currency.  --plot draws
    forecast and actual per month.

    \b
    Example:
      crmkit operational forecast-accuracy --months 6 --plot forecast.svg
    """
    if plot is not None:
        check_chart(plot)
    with state.open() as crm:
        result = _api(crm).forecast_accuracy(resolve_as_of(crm, as_of), months)
    if fmt == "json":
        output_document(result, fmt)
    else:
        output(result["months"], ["month", "currency", "forecast", "actual", "error",
                                  "abs_percent_error"], fmt)
        if fmt == "table":
            click.echo("")
        output(result["summary"], ["currency", "months", "mape", "bias"], fmt)
    _plot(plot, lambda charts: charts.forecast_accuracy(result["months"], plot),
          None if result["months"] else "no forecast or won amount in the months")


@group.command()
@click.option("--stage", default=None, help="Only leads at this stage.")
@click.option("--min", "min_score", type=float, default=None, help="Only scores at least this.")
@limit_option("leads")
@format_option
@pass_state
def scores(state, stage, min_score, limit, fmt) -> None:
    """Stored lead scores, highest first.

    \b
    Example:
      crmkit operational scores --stage mql --min 50 --format json
    """
    with state.open() as crm:
        rows = _api(crm).scores(stage, min_score, limit)
    output(rows, ["customer", "name", "stage", "score", "owner", "scored_at"], fmt, limit=limit,
           more="raise --limit or narrow with --stage or --min")


@group.command()
@as_of_option
@pass_state
def rescore(state, as_of) -> None:
    """Recompute every lead's score.

    Leads that reached the threshold are promoted.

    \b
    Example:
      crmkit operational rescore --as-of 2026-12-01
    """
    with state.open() as crm:
        scored, promoted = _api(crm).rescore(resolve_as_of(crm, as_of))
    click.echo(f"scored {scored} leads, {len(promoted)} promoted to mql")


# -- leads -------------------------------------------------------------------------------


@group.group()
def leads() -> None:
    """Leads: show, move stage, assign."""


@leads.command("show")
@click.argument("customer")
@format_option
@pass_state
def lead_show(state, customer, fmt) -> None:
    """Show CUSTOMER's lead: stage, score, owner, stage history.

    \b
    Example:
      crmkit operational leads show C00042 --format json
    """
    from crmkit.plugin import NotFound

    with state.open() as crm:
        api = _api(crm)
        lead = api.lead(customer)
        if lead is None:
            raise NotFound(f"customer {customer!r} is not in the lead funnel")
        lead["history"] = api.stage_history("lead", lead.pop("customer_id"))
    output_document({"customer": customer, **lead}, fmt)


@leads.command("stage")
@click.argument("customer")
@click.argument("stage")
@pass_state
def lead_stage(state, customer, stage) -> None:
    """Move CUSTOMER's lead to STAGE (lead, mql, sal, sql, disqualified).

    \b
    Example:
      crmkit operational leads stage C00042 mql
    """
    with state.open() as crm:
        _api(crm).set_lead_stage(customer, stage)
    click.echo(f"{customer}: lead stage {stage}")


@leads.command("assign")
@click.argument("customer")
@click.option("--team", default=None, help="Team to assign within (default: territories).")
@pass_state
def lead_assign(state, customer, team) -> None:
    """Assign or reassign CUSTOMER's lead; print the owner.

    The owner is picked by territory, or within --team.

    \b
    Example:
      crmkit operational leads assign C00042 --team sales
    """
    with state.open() as crm:
        who = _api(crm).assign_lead(customer, team)
    click.echo(who or "unassigned: nobody in the team can take it")


# -- opportunities --------------------------------------------------------------------------


@group.group(invoke_without_command=True)
@click.option("--stage", default=None, help="Only opportunities at this stage.")
@click.option("--owner", default=None, help="Only opportunities of this owner (staff handle).")
@click.option("--customer", default=None, help="Only this customer's (external id).")
@format_option
@click.pass_context
def opportunities(ctx, stage, owner, customer, fmt) -> None:
    """List opportunities, or add / move them.

    \b
    Example:
      crmkit operational opportunities --stage proposal --owner ana
    """
    if ctx.invoked_subcommand is not None:
        return
    ctx.find_object(State).show(
        lambda crm: _api(crm).opportunities(stage, owner, customer),
        ["id", "customer", "name", "stage", "amount", "currency", "owner", "expected_close",
         "renewal_of"], fmt)


@opportunities.command("add")
@click.argument("customer")
@click.argument("name")
@click.option("--amount", required=True, help="Expected amount, a decimal number.")
@click.option("--currency", default=None,
              help="ISO 4217 currency code (default: the core default_currency).")
@click.option("--owner", default=None, help="Owner (staff handle).")
@click.option("--close", "close", default=None, metavar="DATE", help="Expected close date.")
@click.option("--stage", default=None, help="Initial stage (default: the first opportunity stage).")
@pass_state
def opportunity_add(state, customer, name, amount, currency, owner, close, stage) -> None:
    """Create opportunity NAME for CUSTOMER; print its id.

    \b
    Examples:
      crmkit operational opportunities add C00042 "Annual plan" --amount 12000 \\
        --owner ana --close 2027-03-31 --stage proposal
    """
    when = _when(close, "--close")
    with state.open() as crm:
        opp = _api(crm).create_opportunity(customer, name, amount, currency, owner,
                                           when.date() if when else None, stage)
    click.echo(opp)


@opportunities.command("move")
@click.argument("opportunity", type=int)
@click.argument("stage")
@pass_state
def opportunity_move(state, opportunity, stage) -> None:
    """Move OPPORTUNITY to STAGE (won and lost are final).

    \b
    Example:
      crmkit operational opportunities move 12 negotiation
    """
    with state.open() as crm:
        renewal = _api(crm).move_opportunity(opportunity, stage)
    click.echo(f"opportunity {opportunity}: {stage}"
               + (f"; renewal opportunity {renewal} created" if renewal else ""))


@opportunities.command("history")
@click.argument("opportunity", type=int)
@format_option
@pass_state
def opportunity_history(state, opportunity, fmt) -> None:
    """Stage history of OPPORTUNITY.

    \b
    Example:
      crmkit operational opportunities history 12 --format json
    """
    with state.open() as crm:
        rows = _api(crm).stage_history("opportunity", opportunity)
    output(rows, ["from_stage", "to_stage", "at", "actor"], fmt)


# -- tasks --------------------------------------------------------------------------------


@group.group(invoke_without_command=True)
@click.option("--overdue", is_flag=True, help="Only open tasks past their due time.")
@click.option("--assignee", default=None, help="Only tasks of this staff member (handle).")
@click.option("--status", type=click.Choice(["open", "done", "cancelled", "all"]), default="open",
              show_default=True, help="Only tasks in this status.")
@click.option("--customer", default=None, help="Only this customer's (external id).")
@as_of_option
@format_option
@click.pass_context
def tasks(ctx, overdue, assignee, status, customer, as_of, fmt) -> None:
    """List tasks (by due time), or add / close them.

    \b
    Example:
      crmkit operational tasks --overdue --as-of 2026-12-01 --assignee ana
    """
    if ctx.invoked_subcommand is not None:
        return
    ctx.find_object(State).show(
        lambda crm: _api(crm).tasks(overdue, assignee, None if status == "all" else status,
                                    customer, resolve_as_of(crm, as_of)),
        ["id", "customer", "subject", "kind", "assignee", "due_at", "status"], fmt)


@tasks.command("add")
@click.argument("customer")
@click.argument("subject")
@click.option("--assignee", default=None, help="Who does it (staff handle).")
@click.option("--due", required=True, metavar="DATE", help="Due date or date-time (ISO 8601).")
@pass_state
def task_add(state, customer, subject, assignee, due) -> None:
    """Create a task about SUBJECT for CUSTOMER; print its id.

    \b
    Example:
      crmkit operational tasks add C00042 "Send the contract" --assignee ana \\
        --due 2026-12-15T10:00:00Z
    """
    when = _when(due, "--due")
    with state.open() as crm:
        click.echo(_api(crm).create_task(customer, subject, assignee, when))


@tasks.command("done")
@click.argument("task", type=int)
@pass_state
def task_done(state, task) -> None:
    """Mark TASK done.

    \b
    Example:
      crmkit operational tasks done 7
    """
    with state.open() as crm:
        _api(crm).complete_task(task)
    click.echo(f"task {task}: done")


@tasks.command("cancel")
@click.argument("task", type=int)
@pass_state
def task_cancel(state, task) -> None:
    """Cancel TASK.

    \b
    Example:
      crmkit operational tasks cancel 7
    """
    with state.open() as crm:
        _api(crm).cancel_task(task)
    click.echo(f"task {task}: cancelled")


# -- cases ---------------------------------------------------------------------------------


@group.group(invoke_without_command=True)
@click.option("--status", default=None, help="Only cases in this status (open, in_progress ...).")
@click.option("--assignee", default=None, help="Only cases of this staff member (handle).")
@click.option("--customer", default=None, help="Only this customer's (external id).")
@format_option
@click.pass_context
def cases(ctx, status, assignee, customer, fmt) -> None:
    """List service cases, or open / move / respond to them.

    \b
    Example:
      crmkit operational cases --status in_progress --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    ctx.find_object(State).show(
        lambda crm: _api(crm).cases(status, assignee, customer),
        ["id", "customer", "subject", "priority", "status", "assignee", "opened_at",
         "first_response_due", "resolution_due"], fmt)


@cases.command("open")
@click.argument("customer")
@click.argument("subject")
@click.option("--priority", type=click.Choice(["low", "normal", "high", "urgent"]),
              default="normal", show_default=True, help="Case priority (sets its SLA).")
@click.option("--source", default=None, help="Where the case came from (email, phone, social ...).")
@pass_state
def case_open(state, customer, subject, priority, source) -> None:
    """Open a case about SUBJECT for CUSTOMER; print its id.

    \b
    Example:
      crmkit operational cases open C00042 "Cannot log in" --priority high \\
        --source email
    """
    with state.open() as crm:
        click.echo(_api(crm).open_case(customer, subject, priority, source))


@cases.command("move")
@click.argument("case", type=int)
@click.argument("status")
@pass_state
def case_move(state, case, status) -> None:
    """Move CASE to STATUS (in_progress, resolved, closed).

    \b
    Example:
      crmkit operational cases move 5 in_progress
    """
    with state.open() as crm:
        _api(crm).move_case(case, status)
    click.echo(f"case {case}: {status}")


@cases.command("respond")
@click.argument("case", type=int)
@pass_state
def case_respond(state, case) -> None:
    """Record the first response to CASE now.

    \b
    Example:
      crmkit operational cases respond 5
    """
    with state.open() as crm:
        first = _api(crm).respond(case)
    click.echo(f"case {case}: " + ("first response recorded" if first else "already responded"))


# -- automation, assignment, sweep -----------------------------------------------------------------


@group.group(invoke_without_command=True)
@format_option
@click.pass_context
def rules(ctx, fmt) -> None:
    """List the configured automation rules.

    crmkit operational rules firings lists what they did.

    \b
    Example:
      crmkit operational rules --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    with ctx.find_object(State).open() as crm:
        automation = _api(crm).settings.automation
    rows = [{"name": r.name, "on": r.on, "if": r.condition, "wait_hours": r.wait_hours,
             "unless": r.unless, "cooldown_hours": r.cooldown_hours,
             "do": [a.name for a in r.actions]} for r in automation.rules]
    output(rows, ["name", "on", "if", "wait_hours", "unless", "cooldown_hours", "do"], fmt)


@rules.command("firings")
@click.option("--rule", default=None, help="Only firings of this rule (its name).")
@click.option("--status", type=click.Choice(["waiting", "fired", "cancelled", "cooldown",
                                             "stopped"]), default=None,
              help="Only firings in this status.")
@click.option("--customer", default=None, help="Only this customer's (external id).")
@format_option
@pass_state
def rule_firings(state, rule, status, customer, fmt) -> None:
    """Recorded rule firings, newest first.

    \b
    Example:
      crmkit operational rules firings --status waiting --customer C00042
    """
    with state.open() as crm:
        rows = _api(crm).firings(rule, status, customer)
    output(rows, ["id", "rule", "trigger_type", "customer", "status", "triggered_at", "due_at",
                  "fired_at", "outcome"], fmt)


@group.command()
@click.argument("team")
@click.argument("customer")
@click.argument("subject")
@pass_state
def assign(state, team, customer, subject) -> None:
    """Pick a member of TEAM for an item; print the handle.

    The item is about CUSTOMER and SUBJECT; the team's assignment strategy
    picks the member.

    \b
    Example:
      crmkit operational assign support C00042 "Callback request"
    """
    with state.open() as crm:
        who = _api(crm).assign_to_team(team, customer, subject)
    click.echo(who or "unassigned: nobody in the team can take it")


@group.command()
@as_of_option
@format_option
@pass_state
def sweep(state, as_of, fmt) -> None:
    """Run operational's time-based rules; idempotent.

    Dormancy, SLA breaches and waits.  crmkit sweep runs every plugin's.

    \b
    Example:
      crmkit operational sweep --as-of 2026-12-01
    """
    from crmkit.plugin import FixedClock

    if as_of:
        state.clock = FixedClock(_when(as_of, "--as-of"))
    with state.open() as crm:
        counts = _api(crm).sweep()
    output([{"what": k, "count": v} for k, v in counts.items()], ["what", "count"], fmt)
