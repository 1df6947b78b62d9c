"""``crmkit analytical …`` commands: every metric with ``--as-of`` and ``--format``."""

from __future__ import annotations

import attrs
import click

from crmkit.plugin import (
    as_of_option, draw_chart, format_option, load_json_file, money_from_units, output,
    output_document, output_rows, pass_state, plot_option, resolve_as_of, status,
)


def _api(crm):
    return crm.plugin("analytical")


def _since(text):
    from crmkit.plugin import parse_timestamp

    return None if text is None else parse_timestamp(text, "--since")


def _check_plot(plot):
    if plot is not None:
        from . import charts

        charts.check(plot)


def _plot(plot: str | None, draw, empty: str | None) -> None:
    """``--plot``: draw the chart with ``draw(charts)`` (this plugin's charts module), or say
    why there is nothing to draw (see ``draw_chart``)."""
    def drawn():
        from . import charts

        return draw(charts)

    draw_chart(plot, drawn, empty)


@click.group(name="analytical")
def group() -> None:
    """Analytical CRM: RFM, CLV, lifecycle, retention, cohorts, satisfaction, funnel, KPIs."""


# -- RFM ----------------------------------------------------------------------------------------

@group.command()
@as_of_option
@format_option
@click.option("--summary", is_flag=True, help="Customers per segment instead of one row each.")
@click.option("--grid", is_flag=True, help="Customers and mean spend per (R, F) cell.")
@click.option("--measure", type=click.Choice(["revenue", "margin", "profit"]), default="revenue",
              show_default=True, help="The monetary value: net spend, or gross margin or profit "
              "(these need the catalogue plugin).")
@plot_option
@pass_state
def rfm(state, as_of, fmt, summary, grid, measure, plot) -> None:
    """RFM scores and segment of every customer who bought.

    Scores run from 1 to the configured bins; higher is better.

    \b
    Examples:
      crmkit analytical rfm --as-of 2026-12-01 --summary
      crmkit analytical rfm --grid --plot rfm.png
      crmkit analytical rfm --measure profit
    """
    _check_plot(plot)
    with state.open() as crm:
        api, moment = _api(crm), resolve_as_of(crm, as_of)
        if summary:
            rows = [{"segment": k, "customers": v}
                    for k, v in api.rfm_segments(moment, measure).items()]
            output(rows, ["segment", "customers"], fmt)
        elif grid:
            output(api.rfm_grid(moment, measure), ["r", "f", "customers", "mean_net_spend"], fmt)
        else:
            output_rows(api.rfm_rows(moment, measure), ["customer", "recency_days", "frequency",
                                                         "monetary", "r", "f", "m", "segment"],
                        fmt, text=["customer", "segment"])
        if plot:
            cells, bins = api.rfm_grid(moment, measure), api.settings.rfm.bins
            _plot(plot, lambda charts: charts.rfm_grid(cells, bins, plot),
                  None if cells else "no customer has a purchase up to --as-of")


# -- CLV ----------------------------------------------------------------------------------------

@group.group()
def clv() -> None:
    """Customer lifetime value: fits, predictions, formula.

    BG/NBD and Gamma-Gamma fits and per-customer predictions, and the
    closed-form CLV formula.
    """


time_unit_option = click.option("--time-unit", type=click.Choice(["day", "week", "month"]),
                                default=None, help="Model time unit (default: config clv.time_unit).")
clv_measure_option = click.option(
    "--measure", type=click.Choice(["revenue", "margin"]), default="revenue", show_default=True,
    help="The value per purchase the spend model is fitted on: net spend, or gross margin "
         "(needs the catalogue plugin; config clv.margin is then not applied).")


@clv.command()
@as_of_option
@time_unit_option
@clv_measure_option
@format_option
@pass_state
def fit(state, as_of, time_unit, measure, fmt) -> None:
    """Fit BG/NBD and Gamma-Gamma; print and keep the parameters.

    The models are fitted on the purchase history up to --as-of.  The
    parameters are kept: the web app's customer card computes each
    customer's P(alive), expected purchases and CLV from the latest fit.

    \b
    Examples:
      crmkit analytical clv fit --as-of 2026-12-01 --time-unit week --format json
      crmkit analytical clv fit --measure margin
    """
    with state.open() as crm:
        result = _api(crm).clv_fit(resolve_as_of(crm, as_of), time_unit, keep=True,
                                   measure=measure)
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
@clv_measure_option
@format_option
@pass_state
def predict(state, as_of, horizon, time_unit, discount_rate, months, store, measure, fmt) -> None:
    """Per customer: P(alive), expected purchases and spend, and CLV.

    \b
    Examples:
      crmkit analytical clv predict --as-of 2026-12-01 --months 12 \\
        --format csv > clv.csv
      crmkit analytical clv predict --measure margin --format csv > clv.csv
    """
    with state.open() as crm, status("clv predict") as say:
        say("fitting BG/NBD and Gamma-Gamma, predicting per customer")
        predictions = _api(crm).clv_predict(resolve_as_of(crm, as_of), horizon, time_unit,
                                            discount_rate, months, store=store,
                                            measure=measure)[1]
    output_rows(_prediction_rows(predictions, fmt == "csv"), PREDICT_COLUMNS, fmt,
                text=["customer"])


def _prediction_rows(p, as_text: bool = False):
    """Tuples in PREDICT_COLUMNS order: floats to 4 places, money as exact decimals (with
    ``as_text``, as the text ``str`` gives those decimals: for CSV, without a Decimal each)."""
    from decimal import Decimal

    import numpy as np

    def decimals(values, places):
        if as_text:
            scale = 10 ** places
            return [f"{'-' if v < 0 else ''}{abs(v) // scale}.{abs(v) % scale:0{places}d}"
                    for v in values.tolist()]
        return [Decimal(v).scaleb(-places) for v in values.tolist()]

    return zip(p.external_id, p.x.astype(np.int64).tolist(), *(
        np.round(v, 4).tolist() for v in (p.t_x, p.T)),
        decimals(p.monetary_units, 4) if as_text else
        [money_from_units(v) for v in p.monetary_units.tolist()],
        *(np.round(v, 4).tolist() for v in (p.p_alive, p.expected_purchases)),
        decimals(p.spend_cents, 2), decimals(p.clv_cents, 2))


@clv.command()
@click.option("--margin", required=True, help="Margin per period (m).")
@click.option("--retention", "retention_rate", required=True, help="Retention rate r (0..1).")
@click.option("--discount", required=True, help="Discount rate per period d.")
@click.option("--periods", default=None, help="Number of periods T (default: infinite).")
@format_option
def formula(margin, retention_rate, discount, periods, fmt) -> None:
    """CLV = Σ m·r^t/(1+d)^t for t = 1..T (T infinite: m·r/(1+d−r)).

    \b
    Example:
      crmkit analytical clv formula --margin 100 --retention 0.8 --discount 0.1 \\
        --periods 5
    """
    from crmkit.plugin import ValidationError

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
    """The stored CLV runs, newest first.

    \b
    Example:
      crmkit analytical clv runs --format json
    """
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
    """Current and potential value per customer.

    Current value is the recent net spend, potential value the predicted CLV.

    \b
    Example:
      crmkit analytical value --as-of 2026-12-01 --format csv
    """
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
    """Lifecycle stages from purchase history.

    The stages are prospect, new, active, won_back, at_risk and lapsed.

    \b
    Example:
      crmkit analytical lifecycle --as-of 2026-12-01 --customers --update
    """
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


@group.command()
@as_of_option
@click.option("--customers", "each", is_flag=True,
              help="One row per customer, with the trends behind the phase.")
@format_option
@plot_option
@pass_state
def phases(state, as_of, each, fmt, plot) -> None:
    """Relationship phases (establish, develop, mature...).

    Lifecycle as relationship phase, decided from tenure, the spend trend and the engagement trend (recent window against
    the one before); customers without a purchase are prospects.

    \b
    Example:
      crmkit analytical phases --as-of 2026-12-01 --customers --format csv
    """
    _check_plot(plot)
    with state.open() as crm:
        api, moment = _api(crm), resolve_as_of(crm, as_of)
        if each:
            output([attrs.asdict(r) for r in api.phases(moment)],
                   ["external_id", "phase", "recent_spend", "prior_spend", "recent_engagement",
                    "prior_engagement"], fmt)
            return
        counts = api.phase_counts(moment)
    output([{"phase": k, "customers": v} for k, v in counts.items()], ["phase", "customers"], fmt)
    _plot(plot, lambda charts: charts.phases(counts, plot),
          None if any(counts.values()) else "no customer up to --as-of")


@group.command()
@as_of_option
@click.option("--customers", "each", is_flag=True, help="One row per engaged customer.")
@format_option
@plot_option
@pass_state
def engagement(state, as_of, each, fmt, plot) -> None:
    """Engagement across channels, weighted per kind.

    Every kind of interaction counts.  Without --customers: interactions and points per kind in the window, and the mean
    over every customer on stderr.  --plot draws the distribution of the customers' scores.

    \b
    Example:
      crmkit analytical engagement --customers --format csv --plot engagement.png
    """
    _check_plot(plot)
    with state.open() as crm:
        api, moment = _api(crm), resolve_as_of(crm, as_of)
        scores = api.engagement(moment) if each or plot else None
        if not each:
            kinds, mean = api.engagement_by_kind(moment), api.average_engagement(moment)
    if each:
        output([attrs.asdict(r) for r in scores], ["external_id", "interactions", "score"], fmt)
    else:
        output([attrs.asdict(k) for k in kinds], ["kind", "interactions", "points"], fmt)
        click.echo(f"average engagement per customer: {'none' if mean is None else mean}",
                   err=True)
    _plot(plot, lambda charts: charts.engagement(scores, plot),
          None if scores else "no engaged customer in the window up to --as-of")


@group.command()
@as_of_option
@click.option("--period", type=click.Choice(["month", "quarter", "year"]), default="month",
              show_default=True, help="Calendar period.")
@click.option("--periods", "count", type=click.IntRange(1, 240), default=12, show_default=True,
              help="How many whole periods before --as-of.")
@click.option("--measure", type=click.Choice(["revenue", "margin"]), default="revenue",
              show_default=True, help="Revenue, or margin (with the catalogue plugin).")
@format_option
@plot_option
@pass_state
def growth(state, as_of, period, count, measure, fmt, plot) -> None:
    """Sales growth period over period.

    Each whole period's sales, the period before's, the change and the growth in per cent.

    \b
    Example:
      crmkit analytical growth --period quarter --periods 4 --measure margin
    """
    _check_plot(plot)
    with state.open() as crm:
        rows = _api(crm).sales_growth(resolve_as_of(crm, as_of), period, count, measure)
    output([attrs.asdict(r) for r in rows],
           ["period", "start", "end", "value", "previous", "change", "growth_percent"], fmt)
    _plot(plot, lambda charts: charts.growth(rows, measure, plot), None)


@group.command()
@as_of_option
@format_option
@plot_option
@pass_state
def equity(state, as_of, fmt, plot) -> None:
    """Customer equity, with its parts.

    Σ CLV of current customers + prospects × conversion probability × the expected value
    of a new customer.  --plot draws the parts as bars.

    \b
    Example:
      crmkit analytical equity --as-of 2026-12-01 --format json --plot equity.svg
    """
    _check_plot(plot)
    with state.open() as crm:
        result = _api(crm).customer_equity(resolve_as_of(crm, as_of))
    output_document(attrs.asdict(result), fmt)
    _plot(plot, lambda charts: charts.equity(result, plot),
          None if result.customers or result.prospects
          else "no customer or prospect up to --as-of")


@group.command(name="relationship")
@as_of_option
@click.option("--customers", "each", is_flag=True, help="One row per customer.")
@format_option
@plot_option
@pass_state
def relationship_quality(state, as_of, each, fmt, plot) -> None:
    """Relationship quality: trust, satisfaction, commitment.

    Each 0-100 from survey items and behaviour; the index is their mean.  Without
    --customers: the customers scored and the mean of each.  --plot draws the means.

    \b
    Example:
      crmkit analytical relationship --customers --plot relationship.png
    """
    from .relationship import summary

    _check_plot(plot)
    with state.open() as crm:
        rows = _api(crm).relationship_quality(resolve_as_of(crm, as_of))
    if each:
        output([dict(attrs.asdict(r), surveyed=" ".join(r.surveyed)) for r in rows],
               ["external_id", "trust", "satisfaction", "commitment", "index", "surveyed"], fmt)
    else:
        output_document(summary(rows), fmt)
    _plot(plot, lambda charts: charts.relationship(summary(rows), plot),
          None if rows else "no customer scored up to --as-of")


@group.command(name="perceived-value")
@as_of_option
@format_option
@plot_option
@pass_state
def perceived_value(state, as_of, fmt, plot) -> None:
    """Perceived benefit against cost, per segment.

    From survey items (config perceived_value): every respondent, then each saved segment.
    --plot draws benefit and cost per group.

    \b
    Example:
      crmkit analytical perceived-value --format csv --plot value.png
    """
    _check_plot(plot)
    with state.open() as crm:
        rows = _api(crm).perceived_value(resolve_as_of(crm, as_of))
    output([attrs.asdict(r) for r in rows], ["group", "respondents", "benefit", "cost", "net"],
           fmt)
    _plot(plot, lambda charts: charts.perceived_value(rows, plot),
          None if any(r.respondents for r in rows) else "no survey answer up to --as-of")


def _external_ids(crm, ids) -> dict[int, str]:
    from sqlalchemy import select

    from crmkit.plugin import customers

    with crm.read() as conn:
        return dict(conn.execute(select(customers.c.id, customers.c.external_id)).all())


# -- retention, cohorts, satisfaction, VOC --------------------------------------------------------

@group.command()
@as_of_option
@click.option("--period", type=click.Choice(["month", "quarter", "year"]), default="month",
              show_default=True, help="Length of each period.")
@click.option("--periods", "count", type=click.IntRange(1, 240), default=12, show_default=True,
              help="How many whole periods before --as-of.")
@format_option
@pass_state
def retention(state, as_of, period, count, fmt) -> None:
    """Customer retention rate and churn per period.

    CRR = (E − N) / S × 100: customers at the end (E) minus the new ones (N),
    as a share of those at the start (S).

    \b
    Example:
      crmkit analytical retention --as-of 2026-12-01 --period quarter --periods 4
    """
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
    """Cohort matrix of first-purchase-month cohorts.

    The share of each cohort buying k months later, or revenue per member.

    \b
    Example:
      crmkit analytical cohorts --as-of 2026-12-01 --cohorts 6 --months 6 \\
        --format csv
    """
    _check_plot(plot)
    with state.open() as crm:
        cells = _api(crm).cohorts(resolve_as_of(crm, as_of), count, months)
    output([{"cohort": c.cohort, "size": c.size, "month": c.month, "buyers": c.buyers,
             "share": c.share, "revenue_per_member": c.revenue_per_member} for c in cells],
           ["cohort", "size", "month", "buyers", "share", "revenue_per_member"], fmt)
    _plot(plot, lambda charts: charts.cohorts(cells, plot, metric),
          None if cells else "no cohort (no first purchase in the chosen months)")


@group.command()
@as_of_option
@click.option("--days", type=click.IntRange(1, 36_500), default=None,
              help="Window of answers (default: config satisfaction.window_days).")
@click.option("--by-month", is_flag=True, help="One row per month of the window.")
@format_option
@pass_state
def satisfaction(state, as_of, days, by_month, fmt) -> None:
    """NPS, CSAT and CES from survey answers.

    A score from fewer than min_sample answers is flagged.

    \b
    Example:
      crmkit analytical satisfaction --as-of 2026-12-01 --days 365 --by-month
    """
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
    """Voice of the customer: comments and complaints by tag.

    Survey comments and complaints per configured tag and month.

    \b
    Example:
      crmkit analytical voc --as-of 2026-12-01 --since 2026-06-01
    """
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
    """Funnel conversion, median days per stage, win rate.

    Computed from stage.changed events.

    \b
    Examples:
      crmkit analytical funnel --as-of 2026-12-01 --by quarter
      crmkit analytical funnel --outcomes --since 2026-01-01
    """
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
    _plot(plot, lambda charts: charts.funnel(steps, plot),
          None if steps else "no funnel records (stage.changed events) to show")


@group.command()
@as_of_option
@click.option("--since", default=None, metavar="DATE", help="Only revenue after this date.")
@click.option("--measure", type=click.Choice(["revenue", "margin", "profit"]), default="revenue",
              show_default=True, help="Rank customers by revenue, or by gross margin or profit "
              "(these need the catalogue plugin).")
@format_option
@plot_option
@pass_state
def pareto(state, as_of, since, measure, fmt, plot) -> None:
    """Revenue concentration (Pareto).

    The top 20 % of customers' share of revenue, and the customers making 80 %.
    With --measure margin or profit, the same on what customers earn.

    \b
    Example:
      crmkit analytical pareto --as-of 2026-12-01 --since 2026-01-01
      crmkit analytical pareto --measure profit
    """
    _check_plot(plot)
    with state.open() as crm:
        result = _api(crm).pareto(resolve_as_of(crm, as_of), _since(since),
                                  curve_points=200 if plot else 0, measure=measure)
    output_document({k: getattr(result, k) for k in (
        "measure", "customers", "revenue", "top_share", "top_customers", "top_revenue_share",
        "revenue_target", "customers_for_target", "customer_share_for_target")}, fmt)
    _plot(plot, lambda charts: charts.pareto(result, plot),
          None if result.customers else "no customer has revenue up to --as-of")


@group.command()
@as_of_option
@click.option("--customers", "each", is_flag=True, help="One row per customer.")
@format_option
@pass_state
def ladder(state, as_of, each, fmt) -> None:
    """The loyalty ladder: customers per rung.

    The rungs: prospect → customer → client → supporter → advocate → partner.

    \b
    Example:
      crmkit analytical ladder --as-of 2026-12-01 --customers --format csv
    """
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
    """Saved segments: named conditions over customers.

    Conditions over customer fields, RFM, lifecycle and CLV, evaluated in SQL.
    """


def _condition(text, path):
    from crmkit.plugin import ValidationError
    from crmkit.plugin import parse_json

    if (text is None) == (path is None):
        raise ValidationError("give the condition with exactly one of --if JSON or --file PATH")
    if path is not None:
        return load_json_file(path, "--file")
    try:
        return parse_json(text)
    except ValueError as exc:
        raise ValidationError(f"--if: not valid JSON: {exc}") from None


@segments.command(name="list")
@format_option
@pass_state
def list_segments(state, fmt) -> None:
    """The saved segments.

    \b
    Example:
      crmkit analytical segments list --format json
    """
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
@click.option("--description", default=None, help="What the segment is for.")
@click.option("--replace", is_flag=True, help="Overwrite an existing segment of that name.")
@pass_state
def add_segment(state, name, text, path, description, replace) -> None:
    """Save segment NAME.

    \b
    Examples:
      crmkit analytical segments add best --description "Top RFM" \\
        --if '{"field": "rfm.segment", "op": "eq", "value": "champions"}'
    """
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
    """List the members of segment NAME.

    \b
    Example:
      crmkit analytical segments show best --as-of 2026-12-01 --format csv
    """
    with state.open() as crm:
        api = _api(crm)
        ids = api.segment_members(name, resolve_as_of(crm, as_of))
        names = _external_ids(crm, ids)
    output([{"customer": names[i]} for i in ids], ["customer"], fmt)


@segments.command(name="preview")
@click.option("--if", "text", default=None, metavar="JSON", help="The condition as JSON.")
@click.option("--file", "path", default=None, type=click.Path(dir_okay=False),
              help="The condition in a JSON file.")
@as_of_option
@format_option
@pass_state
def preview_segment(state, text, path, as_of, fmt) -> None:
    """List the customers an unsaved condition selects.

    \b
    Example:
      crmkit analytical segments preview \\
        --if '{"field": "clv", "op": "ge", "value": 200}'
    """
    condition = _condition(text, path)
    with state.open() as crm:
        ids = _api(crm).evaluate_segment(condition, resolve_as_of(crm, as_of))
        names = _external_ids(crm, ids)
    output([{"customer": names[i]} for i in ids], ["customer"], fmt)


@segments.command(name="remove")
@click.argument("name")
@pass_state
def remove_segment(state, name) -> None:
    """Delete segment NAME.

    \b
    Example:
      crmkit analytical segments remove best
    """
    with state.open() as crm:
        _api(crm).remove_segment(name)
    click.echo(f"segment {name!r} removed")


# -- KPIs -----------------------------------------------------------------------------------------

@group.command()
@as_of_option
@format_option
@pass_state
def kpis(state, as_of, fmt) -> None:
    """Configured KPIs: value to date, attainment, status.

    Each KPI's value for its period to date, its attainment of the target and
    its status.

    \b
    Example:
      crmkit analytical kpis --as-of 2026-06-30 --format json
    """
    with state.open() as crm:
        rows = _api(crm).kpis(resolve_as_of(crm, as_of))
    output([{"name": k.name, "metric": k.metric, "measure": k.measure, "period": k.period,
             "period_start": k.period_start.date().isoformat(), "value": k.value,
             "target": k.target, "direction": k.direction, "attainment": k.attainment,
             "status": k.status, "owner": k.owner, "deadline": k.deadline.date().isoformat(),
             "note": k.note}
            for k in rows],
           ["name", "metric", "measure", "period", "period_start", "value", "target", "direction",
            "attainment", "status", "owner", "deadline", "note"], fmt)
