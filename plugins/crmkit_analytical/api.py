"""The analytical plugin's public API: ``crm.plugin("analytical")``.

Every computation takes ``as_of`` (an aware datetime; default: the CRM
clock's now) and reads up to and including it, so results are reproducible.
Reads join the caller's open transaction; writes (stored lifecycle stages,
CLV runs, segments) join it or open their own.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterator

from crmkit.plugin import PluginAPI, ValidationError, ensure_utc

from . import (clv, clv_formula, engagement, equity, funnel, growth, kpis, ladder, lifecycle,
               pareto, perceived_value, phases, relationship, retention, rfm, sales,
               satisfaction, segments, values)
from .cohorts import matrix as cohort_matrix
from .errors import ModelFitError
from .results import (CLVFit, CLVOutcome, CLVPrediction, CLVPredictions, CLVSummary, CohortCell,
                      CustomerEquity, CustomerValue, EngagementKind, EngagementScore,
                      FunnelOutcome, FunnelStep, GrowthRow, KPIStatus, LadderPosition,
                      LifecycleUpdate, Pareto, PerceivedValue, PhaseRow, RelationshipQuality,
                      RetentionPeriod, RFMScore, Score, Segment, SurveyAnswer, VOCCount)
from .settings import Settings
from .sql import current_customers, last_event_id, still_current

NAME = "analytical"


class AnalyticalAPI(PluginAPI):
    """Analytics over the CRM's interactions and events; see each method."""

    plugin = "analytical"
    settings_class = Settings

    def __init__(self, crm):
        super().__init__(crm)
        self._recent_fit: clv.RecentFit | None = None
        """The last fit :meth:`clv_predict` computed, with its summary: the API's pages of
        one CLV report (the same ``as_of`` and data) fit once, not once a page."""

    # -- helpers ------------------------------------------------------------------

    def _as_of(self, as_of: dt.datetime | None) -> dt.datetime:
        return self.crm.clock.now() if as_of is None else ensure_utc(as_of, "as_of")

    def _read(self, fn, *args, **kwargs):
        with self.crm.read() as conn:
            return fn(conn, self.settings, *args, **kwargs)

    # -- RFM ----------------------------------------------------------------------

    def rfm(self, as_of: dt.datetime | None = None, measure: str = "revenue"
            ) -> list[RFMScore]:
        """RFM scores and segment of every customer with a purchase, by customer id.

        ``measure`` ``margin`` or ``profit`` (from a plugin's ``crmkit_customer_measure``)
        replaces net spend in the monetary value."""
        as_of = self._as_of(as_of)
        return self._read(rfm.scores, as_of, self._values(measure, as_of, None))

    def rfm_score(self, external_id: str, as_of: dt.datetime | None = None,
                  measure: str = "revenue") -> RFMScore | None:
        """One customer's :meth:`rfm` score (scored among every customer), None when they have
        no purchase: for a single customer, without a Python object per customer."""
        as_of = self._as_of(as_of)
        customer_id = self.crm.customers.get(external_id).id
        return self._read(rfm.customer_score, as_of, customer_id, external_id,
                          self._values(measure, as_of, None))

    def stored_rfm_score(self, external_id: str) -> tuple[dt.datetime, RFMScore] | None:
        """The customer's :meth:`rfm` score as the last ``crmkit sweep`` stored it
        (``rfm.store_on_sweep``), with that sweep's ``as_of``: one row read, however many
        customers there are.  None when the sweep did not store one (no purchase by then,
        merged since) or stored none under the current RFM settings."""
        customer_id = self.crm.customers.get(external_id).id
        with self.crm.read() as conn:
            return rfm.stored_score(conn, self.settings, customer_id, external_id)

    def rfm_rows(self, as_of: dt.datetime | None = None, measure: str = "revenue"
                 ) -> Iterator[tuple]:
        """:meth:`rfm` as tuples (external_id, recency_days, frequency, monetary, r, f, m,
        segment), streamed from the database while iterated (for large exports)."""
        as_of = self._as_of(as_of)
        values = self._values(measure, as_of, None)
        with self.crm.read() as conn:
            yield from rfm.table_rows(conn, self.settings, as_of, values)

    def rfm_segments(self, as_of: dt.datetime | None = None, measure: str = "revenue"
                     ) -> dict[str, int]:
        """Customers per RFM segment, in rule order (``measure`` as in :meth:`rfm`)."""
        as_of = self._as_of(as_of)
        return self._read(rfm.segment_counts, as_of, self._values(measure, as_of, None))

    def rfm_grid(self, as_of: dt.datetime | None = None, measure: str = "revenue"
                 ) -> list[dict[str, Any]]:
        """Customers and mean monetary value per (R, F) score cell (``measure`` as in
        :meth:`rfm`)."""
        as_of = self._as_of(as_of)
        return self._read(rfm.grid, as_of, self._values(measure, as_of, None))

    # -- CLV ----------------------------------------------------------------------

    def clv_summary(self, as_of: dt.datetime | None = None, time_unit: str | None = None,
                    measure: str = "revenue") -> list[CLVSummary]:
        """The calibration summary (x, t_x, T, monetary) of every customer with a purchase;
        ``measure`` ``margin`` (from a plugin's ``crmkit_purchase_measure``: the catalogue's)
        makes monetary the mean margin of the repeat purchases instead of their net spend."""
        as_of = self._as_of(as_of)
        settings = self.settings.clv.overridden(time_unit=time_unit)
        return self._read(clv.summaries, as_of, settings.time_unit,
                          self._purchase_values(measure, as_of))

    def _purchase_values(self, measure: str, as_of: dt.datetime):
        """The SELECT of ``(interaction_id, units)`` of ``measure`` from the plugin providing it
        (None for revenue, which is built in)."""
        if measure == "revenue":
            return None
        for name in self.crm.enabled_plugins():
            found = self.crm.hooks.call_one(name, "crmkit_purchase_measure", None,
                                            config=self.crm.plugin_config(name), measure=measure,
                                            as_of=as_of)
            if found is not None:
                return found
        raise ValidationError(f"measure: no enabled plugin provides {measure!r} per purchase "
                              "(revenue is built in; margin comes with the catalogue plugin)")

    def clv_fit(self, as_of: dt.datetime | None = None, time_unit: str | None = None,
                keep: bool = False, measure: str = "revenue") -> CLVFit:
        """Fit BG/NBD and Gamma-Gamma at ``as_of``; ModelFitError when they cannot be fitted.

        ``keep`` stores the parameters (``crmkit analytical clv fit`` does): the customer
        card's P(alive) and CLV use the latest kept fit (:meth:`latest_clv_fit`).
        ``measure`` ``margin`` fits the Gamma-Gamma model on each purchase's margin (see
        :meth:`clv_summary`)."""
        as_of = self._as_of(as_of)
        settings = self.settings.clv.overridden(time_unit=time_unit, measure=measure)
        data = self._read(clv.summary, as_of, settings.time_unit,
                          per_purchase=self._purchase_values(measure, as_of))
        fitted = clv.fit(data, settings, as_of)[0]
        if keep:
            with self.crm.transaction() as tx:
                clv.keep_fit(tx, fitted, settings, data)
        return fitted

    def latest_clv_fit(self) -> CLVFit | None:
        """The latest kept fit (``clv fit``) or stored run's fit (``clv predict --store``),
        whichever was kept last; None when there is neither."""
        with self.crm.read() as conn:
            found = clv.latest_fit(conn)
        return None if found is None else found[0]

    def customer_clv(self, external_id: str, as_of: dt.datetime | None = None
                     ) -> tuple[CLVFit, CLVPrediction | None] | None:
        """One customer's P(alive), expected purchases and CLV at ``as_of`` from the latest
        kept fit's parameters (:meth:`latest_clv_fit`; config ``clv`` settings in its time
        unit): ``(fit, prediction)``, the prediction None when the customer has no purchase
        up to ``as_of``; None when no fit was kept.  Reads only this customer's purchases."""
        as_of = self._as_of(as_of)
        fitted = self.latest_clv_fit()
        if fitted is None:
            return None
        customer_id = self.crm.customers.get(external_id).id
        settings = self.settings.clv.overridden(time_unit=fitted.time_unit,
                                                measure=fitted.measure)
        data = self._read(clv.summary, as_of, settings.time_unit, customer_id,
                          self._purchase_values(fitted.measure, as_of))
        if not len(data):
            return fitted, None
        return fitted, clv.predict(data, settings, *clv.model_params(fitted)).rows()[0]

    def clv_predictions(self, as_of: dt.datetime | None = None, horizon: float | None = None,
                        time_unit: str | None = None, discount_rate: float | None = None,
                        months: int | None = None, store: bool = False,
                        measure: str = "revenue") -> list[CLVPrediction]:
        """Fit at ``as_of`` and predict per customer (defaults from config ``clv``: 52 weeks,
        1 % a month over 12 months).  ``store`` keeps the run (``last_clv_run``, segments' ``clv``).
        ``measure`` ``margin``: expected spend and CLV on margin (see :meth:`clv_summary`;
        config ``clv.margin`` is then not applied).
        """
        return self.clv_run(as_of, horizon, time_unit, discount_rate, months, store, measure)[1]

    def clv_run(self, as_of: dt.datetime | None = None, horizon: float | None = None,
                time_unit: str | None = None, discount_rate: float | None = None,
                months: int | None = None, store: bool = False, measure: str = "revenue"
                ) -> tuple[CLVFit, list[CLVPrediction]]:
        """One fit and its predictions together (the arguments of :meth:`clv_predictions`)."""
        fitted, predictions = self.clv_predict(as_of, horizon, time_unit, discount_rate, months,
                                               store, measure)
        return fitted, predictions.rows()

    def clv_predict(self, as_of: dt.datetime | None = None, horizon: float | None = None,
                    time_unit: str | None = None, discount_rate: float | None = None,
                    months: int | None = None, store: bool = False, measure: str = "revenue"
                    ) -> tuple[CLVFit, CLVPredictions]:
        """:meth:`clv_run` with the predictions as numpy arrays (:class:`CLVPredictions`):
        for large customer bases, no Python object per customer.  A fit kept by
        :meth:`clv_fit` at the same ``as_of`` and time unit on the same data is reused
        with the summary it was fitted on (the same summary and parameters, without
        computing them again), and so is the last fit this API computed, on the same
        terms."""
        as_of = self._as_of(as_of)
        settings = self.settings.clv.overridden(horizon=horizon, time_unit=time_unit,
                                                discount_rate=discount_rate, months=months,
                                                measure=measure)
        per_purchase = self._purchase_values(measure, as_of)
        with self.crm.read() as conn:
            conditions = clv.fit_conditions(conn, settings)
            recent = self._recent_fit
            fitted, data = clv.kept_fit(conn, as_of, settings, conditions) or (
                (recent.fitted, recent.data)
                if recent is not None and recent.fits(as_of, settings.time_unit, conditions)
                else (None, None))
            if data is None:
                data = clv.summary(conn, self.settings, as_of, settings.time_unit,
                                   per_purchase=per_purchase)
        if fitted is None:
            fitted, bg, gg = clv.fit(data, settings, as_of)
            params = bg.params, gg.params
        else:
            params = clv.model_params(fitted)
        self._recent_fit = clv.RecentFit(as_of, settings.time_unit, conditions, fitted, data)
        predictions = clv.predict(data, settings, *params)
        if store:
            with self.crm.transaction() as tx:
                clv.store(tx, fitted, settings, predictions)
        return fitted, predictions

    def clv_by_customer(self, as_of: dt.datetime | None = None) -> dict[int, Decimal]:
        """Potential value: predicted CLV per customer id with a purchase (config settings).

        The one definition of potential value (``value``, idic, the same as
        ``clv predict``, segments' ``clv`` and the ``average_clv`` KPI): the
        models' prediction for every customer, one-time buyers included.  Reuses the stored run for the same ``as_of``, settings and data; otherwise
        fits, predicts and stores a run.
        """
        as_of = self._as_of(as_of)
        settings = self.settings.clv
        with self.crm.read() as conn:
            run_id = clv.stored_run(conn, as_of, settings)
            predictions = clv.stored_predictions(conn, run_id) if run_id is not None else None
        if predictions is None:
            fresh = self.clv_predict(as_of, store=True)[1]
            return {cid: Decimal(cents).scaleb(-2) for cid, cents in
                    zip(fresh.customer_id.tolist(), fresh.clv_cents.tolist())}
        return {p.customer_id: p.clv for p in predictions}

    def clv_outcome(self, as_of: dt.datetime | None = None) -> CLVOutcome:
        """:meth:`clv_by_customer`, or why there is no CLV: the models' ModelFitError message.

        For work that goes on without CLV and says why (idic's value groups,
        valuechain's SSC suggestions); never raises ModelFitError.
        """
        try:
            return CLVOutcome(self.clv_by_customer(as_of))
        except ModelFitError as exc:
            return CLVOutcome({}, str(exc))

    def clv_missing(self, as_of: dt.datetime | None = None) -> str | None:
        """Why the CLV models cannot be fitted at ``as_of`` (None when they can); stores nothing."""
        try:
            self.clv_fit(as_of)
        except ModelFitError as exc:
            return str(exc)
        return None

    def last_clv_run(self, as_of: dt.datetime | None = None) -> dt.datetime | None:
        """When a CLV run was last stored, at or before ``as_of`` if given (None if never)."""
        with self.crm.read() as conn:
            return clv.last_run_at(conn, as_of)

    @staticmethod
    def formula_clv(margin, retention_rate, discount_rate, periods: int | None = None) -> Decimal:
        """CLV = Σ m·r^t/(1+d)^t over ``periods`` (None = ∞: m·r/(1+d−r))."""
        return clv_formula.formula_clv(margin, retention_rate, discount_rate, periods)

    # -- value --------------------------------------------------------------------

    def current_value(self, as_of: dt.datetime | None = None) -> dict[int, Decimal]:
        """Net spend of the last ``current_value_months`` months per customer id (with sales)."""
        return self._read(values.current_value, self._as_of(as_of))

    def customer_values(self, as_of: dt.datetime | None = None) -> list[CustomerValue]:
        """Current value and potential value (predicted CLV), in cents, of every customer with a purchase."""
        as_of = self._as_of(as_of)
        current = self.current_value(as_of)
        potential = self.clv_by_customer(as_of)
        names = {s.customer_id: s.external_id for s in self.clv_summary(as_of)}
        cent = Decimal("0.01")
        return [CustomerValue(cid, names[cid], current.get(cid, Decimal(0)).quantize(cent),
                              potential[cid]) for cid in sorted(potential)]

    def customer_equity(self, as_of: dt.datetime | None = None) -> CustomerEquity:
        """Σ CLV of current customers + prospects × conversion probability × expected value
        of a new customer, with each part (raises ModelFitError when CLV cannot be fitted)."""
        as_of = self._as_of(as_of)
        return self._read(equity.compute, as_of, self.clv_by_customer(as_of))

    # -- lifecycle ----------------------------------------------------------------

    def lifecycle_stages(self, as_of: dt.datetime | None = None) -> dict[int, str]:
        """``{customer id: stage}`` computed from purchase history at ``as_of``."""
        return self._read(lifecycle.stages, self._as_of(as_of))

    def lifecycle_stage(self, external_id: str, as_of: dt.datetime | None = None) -> str | None:
        """One customer's stage computed from their purchase history at ``as_of``."""
        customer_id = self.crm.customers.get(external_id).id
        return self._read(lifecycle.stage_of, self._as_of(as_of), customer_id)

    def lifecycle_counts(self, as_of: dt.datetime | None = None) -> dict[str, int]:
        """Customers per lifecycle stage."""
        return self._read(lifecycle.counts, self._as_of(as_of))

    def update_lifecycle(self, as_of: dt.datetime | None = None) -> LifecycleUpdate:
        """Store stages at ``as_of`` and emit ``lifecycle.changed`` for every change."""
        as_of = self._as_of(as_of)
        with self.crm.read() as conn:  # computed before the write lock, as the sweep does
            last_event = last_event_id(conn)
            current = lifecycle.current_stages(conn, self.settings, as_of)
        with self.crm.transaction() as tx:
            return lifecycle.update(tx.context(NAME), self.settings, as_of,
                                    still_current(current, current_customers(tx.conn, last_event)))

    def phases(self, as_of: dt.datetime | None = None) -> list[PhaseRow]:
        """Every customer's relationship phase (establish, develop, mature, decline; prospect
        without a purchase) with the spend and engagement trends it was decided on."""
        return self._read(phases.rows, self._as_of(as_of))

    def phase_counts(self, as_of: dt.datetime | None = None) -> dict[str, int]:
        """Customers per relationship phase."""
        return self._read(phases.counts, self._as_of(as_of))

    # -- relationship quality, perceived value ------------------------------------

    def relationship_quality(self, as_of: dt.datetime | None = None
                             ) -> list[RelationshipQuality]:
        """Trust, satisfaction, commitment (0–100) and their mean, the index, of every
        customer with an interaction in the window."""
        return self._read(relationship.scores, self._as_of(as_of))

    def perceived_value(self, as_of: dt.datetime | None = None) -> list[PerceivedValue]:
        """Perceived benefit, cost and net value of every respondent, then per saved segment."""
        return self._read(perceived_value.by_segment, self._as_of(as_of))

    # -- engagement, growth -------------------------------------------------------

    def engagement(self, as_of: dt.datetime | None = None) -> list[EngagementScore]:
        """Every engaged customer's weighted interaction count in the window, highest first."""
        return self._read(engagement.scores, self._as_of(as_of))

    def engagement_by_kind(self, as_of: dt.datetime | None = None) -> list[EngagementKind]:
        """Interactions and engagement points per kind in the window."""
        return self._read(engagement.by_kind, self._as_of(as_of))

    def average_engagement(self, as_of: dt.datetime | None = None) -> float | None:
        """Mean engagement over every customer (the unengaged count 0)."""
        return self._read(engagement.average, self._as_of(as_of))

    def sales_growth(self, as_of: dt.datetime | None = None, period: str = "month",
                     periods: int = 12, measure: str = "revenue") -> list[GrowthRow]:
        """Sales of the last ``periods`` whole periods and their growth over the period
        before, on revenue or a plugin's measure (``margin`` with the catalogue plugin)."""
        as_of = self._as_of(as_of)
        query = None
        if measure != "revenue":
            self._values(measure, as_of, None)  # refuse a measure no plugin provides
            def query(end, since):
                return self._values(measure, end, since)
        return self._read(growth.rows, as_of, period, periods, query)

    # -- retention, cohorts, Pareto, ladder ----------------------------------------

    def retention(self, as_of: dt.datetime | None = None, period: str = "month",
                  periods: int = 12) -> list[RetentionPeriod]:
        """CRR and churn for the last ``periods`` whole months/quarters/years."""
        return self._read(retention.report, self._as_of(as_of), period, periods)

    def cohorts(self, as_of: dt.datetime | None = None, cohorts: int = 12,
                months: int = 12) -> list[CohortCell]:
        """The cohort matrix (first-purchase month × months since)."""
        return self._read(cohort_matrix, self._as_of(as_of), cohorts, months)

    def pareto(self, as_of: dt.datetime | None = None, since: dt.datetime | None = None,
               curve_points: int = 0, measure: str = "revenue") -> Pareto:
        """Revenue concentration (top share of customers, smallest set for the revenue target).

        ``measure`` ranks by another money measure a plugin provides per customer
        (``crmkit_customer_measure``: ``margin`` and ``profit`` with the catalogue plugin)."""
        since = None if since is None else ensure_utc(since, "since")
        as_of = self._as_of(as_of)
        values = self._values(measure, as_of, since)
        return self._read(pareto.analyse, as_of, since, curve_points, values, measure)

    def _values(self, measure: str, as_of: dt.datetime, since: dt.datetime | None):
        """The SELECT of ``(customer_id, units)`` of ``measure`` from the plugin providing it
        (None for revenue, which is built in)."""
        return sales.measure_query(self.crm, measure, as_of, since)

    def ladder(self, as_of: dt.datetime | None = None) -> list[LadderPosition]:
        """Every customer's rung on the loyalty ladder."""
        return self._read(ladder.positions, self._as_of(as_of))

    def ladder_counts(self, as_of: dt.datetime | None = None) -> dict[str, int]:
        """Customers per ladder rung, prospect first."""
        return self._read(ladder.counts, self._as_of(as_of))

    # -- satisfaction and VOC -----------------------------------------------------

    def satisfaction(self, as_of: dt.datetime | None = None, days: int | None = None
                     ) -> dict[str, Score]:
        """NPS, CSAT and CES over ``days`` (default config ``satisfaction.window_days``)."""
        return self._read(satisfaction.scores, self._as_of(as_of), days)

    def nps(self, as_of: dt.datetime | None = None, days: int | None = None) -> Score:
        """Net Promoter Score: % promoters (9–10) − % detractors (0–6)."""
        return self.satisfaction(as_of, days)["nps"]

    def csat(self, as_of: dt.datetime | None = None, days: int | None = None) -> Score:
        """CSAT: % of 4–5 answers on the 1–5 scale."""
        return self.satisfaction(as_of, days)["csat"]

    def ces(self, as_of: dt.datetime | None = None, days: int | None = None) -> Score:
        """CES: mean effort score (1–7)."""
        return self.satisfaction(as_of, days)["ces"]

    def satisfaction_by_month(self, as_of: dt.datetime | None = None, days: int | None = None
                              ) -> list[dict[str, Any]]:
        """NPS, CSAT and CES per month of the window."""
        return self._read(satisfaction.by_month, self._as_of(as_of), days)

    def survey_answers(self, external_id: str, as_of: dt.datetime | None = None,
                       limit: int = 5) -> list[SurveyAnswer]:
        """One customer's latest survey answers with a score (NPS, CSAT or CES) up to
        ``as_of``, newest first (at most ``limit``)."""
        customer_id = self.crm.customers.get(external_id).id
        return self._read(satisfaction.answers, customer_id, self._as_of(as_of), limit)

    def voc(self, as_of: dt.datetime | None = None, since: dt.datetime | None = None
            ) -> list[VOCCount]:
        """Comments and complaints per month and configured tag."""
        since = None if since is None else ensure_utc(since, "since")
        return self._read(satisfaction.voc, self._as_of(as_of), since)

    # -- funnel -------------------------------------------------------------------

    def funnel(self, as_of: dt.datetime | None = None, by: str = "all",
               since: dt.datetime | None = None) -> tuple[list[FunnelStep], list[FunnelOutcome]]:
        """Stage conversion, median days in stage and win rate from ``stage.changed`` events."""
        since = None if since is None else ensure_utc(since, "since")
        return self._read(funnel.report, self._as_of(as_of), by, since)

    # -- segments -----------------------------------------------------------------

    def segment_names(self, as_of: dt.datetime | None = None) -> list[str]:
        """Names of the saved segments, only those saved by ``as_of`` if given."""
        with self.crm.read() as conn:
            return segments.names(conn, as_of)

    def segments(self) -> list[Segment]:
        """The saved segment definitions."""
        with self.crm.read() as conn:
            return segments.all_segments(conn)

    def segment(self, name: str) -> Segment:
        """One saved segment (NotFound otherwise)."""
        with self.crm.read() as conn:
            return segments.get(conn, name)

    def save_segment(self, name: str, condition: dict[str, Any], description: str | None = None,
                     replace: bool = False) -> Segment:
        """Save a segment definition (ConflictError if it exists, unless ``replace``)."""
        with self.crm.transaction() as tx:
            return segments.save(tx, name, condition, description, replace)

    def remove_segment(self, name: str) -> None:
        """Delete a saved segment."""
        with self.crm.transaction() as tx:
            segments.remove(tx, name)

    def segment_members(self, name: str, as_of: dt.datetime | None = None) -> list[int]:
        """Customer ids in a saved segment at ``as_of`` (NotFound for an unknown name)."""
        as_of = self._as_of(as_of)
        with self.crm.read() as conn:
            condition = segments.get(conn, name).condition
            return segments.members(conn, self.settings, condition, as_of)

    def segment_query(self, name: str, as_of: dt.datetime | None = None):
        """The SQL SELECT of the ids of the customers (not erased) in a saved segment at
        ``as_of``, to use inside a query on the same database (a campaign's audience):
        set-based, never materialised in Python.  NotFound for an unknown name."""
        as_of = self._as_of(as_of)
        with self.crm.read() as conn:
            condition = segments.get(conn, name).condition
        return segments.members_query(self.settings, condition, as_of)

    def evaluate_segment(self, condition: dict[str, Any], as_of: dt.datetime | None = None
                         ) -> list[int]:
        """Customer ids matching an unsaved condition (to try a definition out)."""
        segments.check("(preview)", condition)
        as_of = self._as_of(as_of)
        with self.crm.read() as conn:
            return segments.members(conn, self.settings, condition, as_of)

    # -- KPIs ---------------------------------------------------------------------

    def kpis(self, as_of: dt.datetime | None = None) -> list[KPIStatus]:
        """Every configured KPI measured at ``as_of``."""
        as_of = self._as_of(as_of)
        with self.crm.read() as conn:
            return kpis.report(conn, self.crm, self.settings, as_of)

