"""``crmkit analytical …`` commands: every metric with ``--as-of`` and ``--format``."""

from __future__ import annotations

import click

from crmkit.cli.common import (as_of_option, format_option, load_json_file, output,
                               output_document, pass_state, resolve_as_of)


def _api(crm):
    return crm.plugin("analytical")


def _since(text):
    from crmkit.clock import parse_timestamp

    return None if text is None else parse_timestamp(text, "--since")


def plot_option(func):
    """Add ``--plot FILE.png|svg`` (needs the ``plots`` extra)."""
    return click.option("--plot", "plot", default=None, metavar="FILE",
                        help="Also draw a chart into FILE (.png or .svg; needs crmkit[plots]).")(func)


def _check_plot(plot):
    if plot is not None:
        from . import charts

        charts.check(plot)


def _plotted(path) -> None:
    click.echo(f"chart written to {path}", err=True)


@click.group(name="analytical")
def group() -> None:
    """Analytical CRM: RFM, CLV, lifecycle, retention, cohorts, satisfaction, funnel, KPIs."""


# -- RFM ----------------------------------------------------------------------------------------

@group.command()
@as_of_option
@format_option
@click.option("--summary", is_flag=True, help="Customers per segment instead of one row each.")
@click.option("--grid", is_flag=True, help="Customers and mean spend per (R, F) cell.")
@plot_option
@pass_state
def rfm(state, as_of, fmt, summary, grid, plot) -> None:
    """RFM scores (1..bins, higher is better) and segment of every customer who bought."""
    _check_plot(plot)
    with state.open() as crm:
        api, moment = _api(crm), resolve_as_of(crm, as_of)
        if summary:
            rows = [{"segment": k, "customers": v} for k, v in api.rfm_segments(moment).items()]
            output(rows, ["segment", "customers"], fmt)
        elif grid:
            output(api.rfm_grid(moment), ["r", "f", "customers", "mean_net_spend"], fmt)
        else:
            rows = [{"customer": s.external_id, **{k: getattr(s, k) for k in (
                "recency_days", "frequency", "monetary", "r", "f", "m", "segment")}}
                for s in api.rfm(moment)]
            output(rows, ["customer", "recency_days", "frequency", "monetary", "r", "f", "m",
                          "segment"], fmt)
        if plot:
            from . import charts

            _plotted(charts.rfm_grid(api.rfm_grid(moment), api.config["rfm"]["bins"], plot))


# -- CLV ----------------------------------------------------------------------------------------

@group.group()
def clv() -> None:
    """Customer lifetime value: BG/NBD + Gamma-Gamma fits and predictions, and the formula."""


time_unit_option = click.option("--time-unit", type=click.Choice(["day", "week", "month"]),
                                default=None, help="Model time unit (default: config clv.time_unit).")


@clv.command()
@as_of_option
@time_unit_option
@format_option
@pass_state
def fit(state, as_of, time_unit, fmt) -> None:
    """Fit BG/NBD and Gamma-Gamma on the purchase history up to --as-of; print the parameters."""
    with state.open() as crm:
        result = _api(crm).clv_fit(resolve_as_of(crm, as_of), time_unit)
    output_document(result.document(), fmt)


PREDICT_COLUMNS = ["customer", "frequency", "recency", "T", "monetary", "p_alive",
                   "expected_purchases", "expected_spend", "clv"]


@clv.command()
@as_of_option
@click.option("--horizon", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Expected purchases over this many time units (default: config clv.horizon).")
@time_unit_option
@click.option("--discount-rate", type=click.FloatRange(0, 1), default=None,
              help="Monthly discount rate of the CLV (default: config clv.discount_rate).")
@click.option("--months", type=click.IntRange(1, 600), default=None,
              help="CLV horizon in months (default: config clv.months).")
@click.option("--store/--no-store", default=True, show_default=True,
              help="Keep the run (segments' clv field, last_clv_run, the timeline).")
@format_option
@pass_state
def predict(state, as_of, horizon, time_unit, discount_rate, months, store, fmt) -> None:
    """Per customer: P(alive), expected purchases and spend, and CLV."""
    with state.open() as crm:
        predictions = _api(crm).clv_predictions(resolve_as_of(crm, as_of), horizon, time_unit,
                                                discount_rate, months, store=store)
    rows = [{"customer": p.external_id, "frequency": p.frequency, "recency": round(p.recency, 4),
             "T": round(p.T, 4), "monetary": p.monetary, "p_alive": round(p.p_alive, 4),
             "expected_purchases": round(p.expected_purchases, 4),
             "expected_spend": p.expected_spend, "clv": p.clv} for p in predictions]
    output(rows, PREDICT_COLUMNS, fmt)


@clv.command()
@click.option("--margin", required=True, help="Margin per period (m).")
@click.option("--retention", "retention_rate", required=True, help="Retention rate r (0..1).")
@click.option("--discount", required=True, help="Discount rate per period d.")
@click.option("--periods", default=None, help="Number of periods T (default: infinite).")
@format_option
def formula(margin, retention_rate, discount, periods, fmt) -> None:
    """CLV = Σ m·r^t/(1+d)^t for t = 1..T (T infinite: m·r/(1+d−r))."""
    from crmkit.errors import ValidationError

    from .clv_formula import formula_clv

    count = None
    if periods is not None and periods.lower() not in ("inf", "infinite"):
        if not periods.isdigit():
            raise ValidationError(f"--periods: {periods!r} is not a whole number (or 'inf')")
        count = int(periods)
    value = formula_clv(margin, retention_rate, discount, count)
    output_document({"margin": margin, "retention": retention_rate, "discount": discount,
                     "periods": count if count is not None else "infinite", "clv": value}, fmt)


@clv.command()
@format_option
@pass_state
def runs(state, fmt) -> None:
    """The stored CLV runs, newest first."""
    from sqlalchemy import select

    from .tables import clv_runs

    with state.open() as crm, crm.read() as conn:
        rows = conn.execute(select(clv_runs).order_by(clv_runs.c.id.desc())).mappings().all()
    output([{"run": r["id"], "as_of": r["as_of"], "created_at": r["created_at"],
             "customers": r["customers"], "total_clv": r["total_clv"],
             "time_unit": r["settings"].get("time_unit"), "months": r["settings"].get("months")}
            for r in rows], ["run", "as_of", "created_at", "customers", "total_clv", "time_unit",
                             "months"], fmt)


# -- value and lifecycle ------------------------------------------------------------------------

@group.command()
@as_of_option
@format_option
@pass_state
def value(state, as_of, fmt) -> None:
    """Current value (recent net spend) and potential value (predicted CLV) per customer."""
    with state.open() as crm:
        rows = _api(crm).customer_values(resolve_as_of(crm, as_of))
    output([{"customer": r.external_id, "current_value": r.current_value,
             "potential_value": r.potential_value} for r in rows],
           ["customer", "current_value", "potential_value"], fmt)


@group.command()
@as_of_option
@format_option
@click.option("--customers", "each", is_flag=True, help="One row per customer.")
@click.option("--update", is_flag=True,
              help="Store the stages and emit lifecycle.changed for every change.")
@pass_state
def lifecycle(state, as_of, fmt, each, update) -> None:
    """Lifecycle stages (prospect, new, active, won_back, at_risk, lapsed) from purchase history."""
    with state.open() as crm:
        api, moment = _api(crm), resolve_as_of(crm, as_of)
        if update:
            result = api.update_lifecycle(moment)
            click.echo(f"stored stages at {moment.isoformat()}: {result.changed} changed", err=True)
        if each:
            stages = api.lifecycle_stages(moment)
            names = _external_ids(crm, stages)
            output([{"customer": names[c], "stage": s} for c, s in sorted(stages.items())],
                   ["customer", "stage"], fmt)
        else:
            output([{"stage": k, "customers": v} for k, v in api.lifecycle_counts(moment).items()],
                   ["stage", "customers"], fmt)


def _external_ids(crm, ids) -> dict[int, str]:
    from sqlalchemy import select

    from crmkit.tables import customers

    with crm.read() as conn:
        return dict(conn.execute(select(customers.c.id, customers.c.external_id)).all())


# -- retention, cohorts, satisfaction, VOC --------------------------------------------------------

@group.command()
@as_of_option
@click.option("--period", type=click.Choice(["month", "quarter", "year"]), default="month",
              show_default=True)
@click.option("--periods", "count", type=click.IntRange(1, 240), default=12, show_default=True,
              help="How many whole periods before --as-of.")
@format_option
@pass_state
def retention(state, as_of, period, count, fmt) -> None:
    """Customer retention rate CRR = (E − N) / S × 100 and churn per period."""
    with state.open() as crm:
        rows = _api(crm).retention(resolve_as_of(crm, as_of), period, count)
    output([{"period": r.period, "start_customers": r.start_customers,
             "end_customers": r.end_customers, "new_customers": r.new_customers,
             "acquired": r.acquired, "crr": r.crr, "churn": r.churn} for r in rows],
           ["period", "start_customers", "end_customers", "new_customers", "acquired", "crr",
            "churn"], fmt)


@group.command()
@as_of_option
@click.option("--cohorts", "count", type=click.IntRange(1, 240), default=12, show_default=True,
              help="How many first-purchase months, up to --as-of.")
@click.option("--months", type=click.IntRange(0, 240), default=12, show_default=True,
              help="Months after the first purchase to show.")
@click.option("--metric", type=click.Choice(["share", "revenue"]), default="share",
              show_default=True, help="What --plot draws.")
@format_option
@plot_option
@pass_state
def cohorts(state, as_of, count, months, metric, fmt, plot) -> None:
    """Cohort matrix: share of each first-purchase-month cohort buying k months later, revenue per member."""
    _check_plot(plot)
    with state.open() as crm:
        cells = _api(crm).cohorts(resolve_as_of(crm, as_of), count, months)
    output([{"cohort": c.cohort, "size": c.size, "month": c.month, "buyers": c.buyers,
             "share": c.share, "revenue_per_member": c.revenue_per_member} for c in cells],
           ["cohort", "size", "month", "buyers", "share", "revenue_per_member"], fmt)
    if plot:
        from . import charts

        _plotted(charts.cohorts(cells, plot, metric))


@group.command()
@as_of_option
@click.option("--days", type=click.IntRange(1), default=None,
              help="Window of answers (default: config satisfaction.window_days).")
@click.option("--by-month", is_flag=True, help="One row per month of the window.")
@format_option
@pass_state
def satisfaction(state, as_of, days, by_month, fmt) -> None:
    """NPS, CSAT and CES from survey answers; below min_sample answers a score is flagged."""
    with state.open() as crm:
        api, moment = _api(crm), resolve_as_of(crm, as_of)
        if by_month:
            rows = api.satisfaction_by_month(moment, days)
            output(rows, ["month", "nps", "nps_responses", "csat", "csat_responses", "ces",
                          "ces_responses"], fmt)
            return
        scores = api.satisfaction(moment, days)
    output([{"metric": s.metric, "value": s.value, "responses": s.responses,
             "insufficient": s.insufficient, **s.details} for s in scores.values()],
           ["metric", "value", "responses", "insufficient", "promoters", "passives", "detractors",
            "satisfied"], fmt)


@group.command()
@as_of_option
@click.option("--since", default=None, metavar="DATE", help="Only after this date.")
@format_option
@pass_state
def voc(state, as_of, since, fmt) -> None:
    """Voice of the customer: survey comments and complaints per configured tag and month."""
    with state.open() as crm:
        rows = _api(crm).voc(resolve_as_of(crm, as_of), _since(since))
    output([{"month": r.month, "tag": r.tag, "count": r.count} for r in rows],
           ["month", "tag", "count"], fmt)


# -- funnel, Pareto, ladder -------------------------------------------------------------------------

@group.command()
@as_of_option
@click.option("--by", type=click.Choice(["all", "owner", "month", "quarter", "year"]),
              default="all", show_default=True, help="Group records by owner or entry period.")
@click.option("--since", default=None, metavar="DATE",
              help="Only records that entered the funnel after this date.")
@click.option("--outcomes", is_flag=True, help="Won, lost and win rate instead of the stages.")
@format_option
@plot_option
@pass_state
def funnel(state, as_of, by, since, outcomes, fmt, plot) -> None:
    """Funnel conversion and median days per stage from stage.changed events; win rate."""
    _check_plot(plot)
    with state.open() as crm:
        steps, closed = _api(crm).funnel(resolve_as_of(crm, as_of), by, _since(since))
    if outcomes:
        output([{"group": o.group, "records": o.records, "won": o.won, "lost": o.lost,
                 "win_rate": o.win_rate} for o in closed],
               ["group", "records", "won", "lost", "win_rate"], fmt)
    else:
        output([{"group": s.group, "stage": s.stage, "reached": s.reached,
                 "next_stage": s.next_stage, "conversion": s.conversion,
                 "median_days": s.median_days} for s in steps],
               ["group", "stage", "reached", "next_stage", "conversion", "median_days"], fmt)
    if plot:
        from . import charts

        _plotted(charts.funnel(steps, plot))


@group.command()
@as_of_option
@click.option("--since", default=None, metavar="DATE", help="Only revenue after this date.")
@format_option
@plot_option
@pass_state
def pareto(state, as_of, since, fmt, plot) -> None:
    """Revenue concentration: the top 20 % of customers' share; the customers making 80 %."""
    _check_plot(plot)
    with state.open() as crm:
        result = _api(crm).pareto(resolve_as_of(crm, as_of), _since(since),
                                  curve_points=200 if plot else 0)
    output_document({k: getattr(result, k) for k in (
        "customers", "revenue", "top_share", "top_customers", "top_revenue_share",
        "revenue_target", "customers_for_target", "customer_share_for_target")}, fmt)
    if plot:
        from . import charts

        _plotted(charts.pareto(result, plot))


@group.command()
@as_of_option
@click.option("--customers", "each", is_flag=True, help="One row per customer.")
@format_option
@pass_state
def ladder(state, as_of, each, fmt) -> None:
    """The loyalty ladder: prospect → customer → client → supporter → advocate → partner."""
    with state.open() as crm:
        api, moment = _api(crm), resolve_as_of(crm, as_of)
        if each:
            output([{"customer": p.external_id, "rung": p.rung, "purchases": p.purchases,
                     "best_nps": p.best_nps, "referrals": p.referrals} for p in api.ladder(moment)],
                   ["customer", "rung", "purchases", "best_nps", "referrals"], fmt)
        else:
            output([{"rung": k, "customers": v} for k, v in api.ladder_counts(moment).items()],
                   ["rung", "customers"], fmt)


# -- segments -------------------------------------------------------------------------------------

@group.group()
def segments() -> None:
    """Saved segments: conditions over customer fields, RFM, lifecycle, CLV, evaluated in SQL."""


def _condition(text, path):
    import json

    from crmkit.errors import ValidationError

    if (text is None) == (path is None):
        raise ValidationError("give the condition with exactly one of --if JSON or --file PATH")
    if path is not None:
        return load_json_file(path, "--file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--if: not valid JSON: {exc}") from None


@segments.command(name="list")
@format_option
@pass_state
def list_segments(state, fmt) -> None:
    """The saved segments."""
    import json

    with state.open() as crm:
        rows = _api(crm).segments()
    output([{"name": s.name, "description": s.description,
             "condition": json.dumps(s.condition, ensure_ascii=False) if fmt != "json" else s.condition,
             "updated_at": s.updated_at} for s in rows],
           ["name", "description", "condition", "updated_at"], fmt)


@segments.command(name="add")
@click.argument("name")
@click.option("--if", "text", default=None, metavar="JSON", help="The condition as JSON.")
@click.option("--file", "path", default=None, type=click.Path(dir_okay=False),
              help="Read the condition from a JSON file.")
@click.option("--description", default=None)
@click.option("--replace", is_flag=True, help="Overwrite an existing segment of that name.")
@pass_state
def add_segment(state, name, text, path, description, replace) -> None:
    """Save segment NAME."""
    condition = _condition(text, path)
    with state.open() as crm:
        _api(crm).save_segment(name, condition, description, replace)
    click.echo(f"segment {name!r} saved")


@segments.command(name="show")
@click.argument("name")
@as_of_option
@format_option
@pass_state
def show_segment(state, name, as_of, fmt) -> None:
    """List the members of segment NAME."""
    with state.open() as crm:
        api = _api(crm)
        ids = api.segment_members(name, resolve_as_of(crm, as_of))
        names = _external_ids(crm, ids)
    output([{"customer": names[i]} for i in ids], ["customer"], fmt)


@segments.command(name="preview")
@click.option("--if", "text", default=None, metavar="JSON", help="The condition as JSON.")
@click.option("--file", "path", default=None, type=click.Path(dir_okay=False))
@as_of_option
@format_option
@pass_state
def preview_segment(state, text, path, as_of, fmt) -> None:
    """List the customers an unsaved condition selects."""
    condition = _condition(text, path)
    with state.open() as crm:
        ids = _api(crm).evaluate_segment(condition, resolve_as_of(crm, as_of))
        names = _external_ids(crm, ids)
    output([{"customer": names[i]} for i in ids], ["customer"], fmt)


@segments.command(name="remove")
@click.argument("name")
@pass_state
def remove_segment(state, name) -> None:
    """Delete segment NAME."""
    with state.open() as crm:
        _api(crm).remove_segment(name)
    click.echo(f"segment {name!r} removed")


# -- KPIs -----------------------------------------------------------------------------------------

@group.command()
@as_of_option
@format_option
@pass_state
def kpis(state, as_of, fmt) -> None:
    """Configured KPIs: value for the period to date, attainment and status."""
    with state.open() as crm:
        rows = _api(crm).kpis(resolve_as_of(crm, as_of))
    output([{"name": k.name, "metric": k.metric, "period": k.period,
             "period_start": k.period_start.date().isoformat(), "value": k.value,
             "target": k.target, "direction": k.direction, "attainment": k.attainment,
             "status": k.status, "owner": k.owner, "deadline": k.deadline.date().isoformat(),
             "note": k.note}
            for k in rows],
           ["name", "metric", "period", "period_start", "value", "target", "direction",
            "attainment", "status", "owner", "deadline", "note"], fmt)
