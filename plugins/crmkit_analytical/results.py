"""Typed results of the analytical plugin's computations (attrs classes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs

from crmkit.plugin import MONEY_SCALE, money_from_units


@attrs.frozen
class RFMScore:
    """One customer's RFM: raw values, scores 1..bins (higher is better) and segment."""

    customer_id: int
    external_id: str
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    segment: str | None


@attrs.frozen
class CLVSummary:
    """One customer's calibration summary in model time units (x, t_x, T, mean repeat spend)."""

    customer_id: int
    external_id: str
    frequency: int
    recency: float
    T: float
    monetary: Decimal


@attrs.frozen
class CLVSummaries:
    """The calibration summary as arrays, one entry per customer (by customer id).

    ``monetary_units`` is the mean repeat spend in money units (ten-thousandths),
    rounded half to even as ``Decimal.quantize`` rounds.
    """

    customer_id: Any
    external_id: list[str]
    x: Any
    t_x: Any
    T: Any
    monetary_units: Any

    def __len__(self) -> int:
        return len(self.x)

    @property
    def monetary(self):
        """Mean repeat spend as floats (0 when x = 0)."""
        return self.monetary_units / MONEY_SCALE

    def rows(self) -> list[CLVSummary]:
        """One :class:`CLVSummary` per customer."""
        return [CLVSummary(cid, ext, x, t_x, T, money_from_units(units))
                for cid, ext, x, t_x, T, units in zip(
                    self.customer_id.tolist(), self.external_id, self.x.astype(int).tolist(),
                    self.t_x.tolist(), self.T.tolist(), self.monetary_units.tolist())]


@attrs.frozen
class CLVFit:
    """Fitted BG/NBD and Gamma-Gamma parameters at a calibration end; ``measure``: the value
    per purchase the Gamma-Gamma model was fitted on (``revenue`` or a plugin's, e.g. ``margin``)."""

    as_of: dt.datetime
    time_unit: str
    bgnbd: dict[str, Any]
    gamma_gamma: dict[str, Any]
    measure: str = "revenue"

    def document(self) -> dict[str, Any]:
        """The ``clv fit --format json`` document: exactly the keys MODULES.md specifies."""
        return {"bgnbd": {k: self.bgnbd[k] for k in BGNBD_KEYS},
                "gamma_gamma": {k: self.gamma_gamma[k] for k in GAMMA_GAMMA_KEYS}}


BGNBD_KEYS = ("r", "alpha", "a", "b", "log_likelihood", "customers")
GAMMA_GAMMA_KEYS = ("p", "q", "v", "log_likelihood", "customers")


@attrs.frozen
class CLVPrediction(CLVSummary):
    """Per-customer CLV prediction: summary, P(alive), expected purchases and spend, CLV."""

    p_alive: float
    expected_purchases: float
    expected_spend: Decimal
    clv: Decimal


@attrs.frozen
class CLVPredictions(CLVSummaries):
    """Every customer's CLV prediction as numpy arrays (one entry per customer, by customer id):
    the summary (``x``, ``t_x``, ``T``, ``monetary_units`` in ten-thousandths), ``p_alive``,
    ``expected_purchases``, and ``spend_cents`` / ``clv_cents`` in whole cents."""

    p_alive: Any
    expected_purchases: Any
    spend_cents: Any
    clv_cents: Any

    def __len__(self) -> int:
        return len(self.customer_id)

    def __getitem__(self, part: slice) -> list[CLVPrediction]:
        """The predictions of the customers at the positions ``part`` names, as
        :meth:`rows`: a report page (:class:`crmkit.plugin.ReportPage`) takes a window of
        them without a Python object for every other customer."""
        if not isinstance(part, slice):
            raise TypeError("CLV predictions are read by slice: predictions[start:stop]")
        return self.rows(*part.indices(len(self))[:2])

    def rows(self, start: int = 0, stop: int | None = None) -> list[CLVPrediction]:
        """One :class:`CLVPrediction` per customer (those from position ``start`` up to
        ``stop``; default: every customer)."""
        at = slice(start, stop)
        return [CLVPrediction(cid, ext, x, t_x, T, money_from_units(m), alive, purchases,
                              Decimal(spend).scaleb(-2), Decimal(clv).scaleb(-2))
                for cid, ext, x, t_x, T, m, alive, purchases, spend, clv in zip(
                    self.customer_id[at].tolist(), self.external_id[at],
                    self.x[at].astype(int).tolist(), self.t_x[at].tolist(), self.T[at].tolist(),
                    self.monetary_units[at].tolist(), self.p_alive[at].tolist(),
                    self.expected_purchases[at].tolist(), self.spend_cents[at].tolist(),
                    self.clv_cents[at].tolist())]


@attrs.frozen
class Score:
    """A satisfaction score (NPS, CSAT or CES) with its sample and the insufficient flag."""

    metric: str
    value: float | None
    responses: int
    insufficient: bool
    min_sample: int
    details: dict[str, int] = attrs.field(factory=dict)


@attrs.frozen
class SurveyAnswer:
    """One survey interaction's scores (None: not answered)."""

    at: dt.datetime
    nps: int | None
    csat: int | None
    ces: int | None


@attrs.frozen
class RetentionPeriod:
    """Customer retention over one period: S, E, N and CRR = (E − N) / S × 100."""

    period: str
    start: dt.datetime
    end: dt.datetime
    start_customers: int
    end_customers: int
    new_customers: int
    acquired: int
    crr: float | None
    churn: float | None


@attrs.frozen
class CohortCell:
    """Cohort (first-purchase month) × months since: buyers' share and revenue per member."""

    cohort: str
    size: int
    month: int
    buyers: int
    share: float
    revenue: Decimal
    revenue_per_member: Decimal


@attrs.frozen
class FunnelStep:
    """A funnel stage in a group: flows through it, conversion to the next, median days in it."""

    group: str
    stage: str
    reached: int
    next_stage: str | None
    conversion: float | None
    median_days: float | None


@attrs.frozen
class FunnelOutcome:
    """Closed flows (customers) of a group: won, lost and the win rate won / (won + lost) × 100."""

    group: str
    records: int
    won: int
    lost: int
    win_rate: float | None


@attrs.frozen
class Pareto:
    """Revenue concentration: the top share's part of revenue, the set making the target share."""

    customers: int
    revenue: Decimal
    top_share: float
    top_customers: int
    top_revenue_share: float | None
    revenue_target: float
    customers_for_target: int
    customer_share_for_target: float | None
    curve: list[tuple[float, float]] = attrs.field(factory=list)
    measure: str = "revenue"
    """What ``revenue`` and the shares measure: revenue, or a plugin's measure (margin, profit)."""


@attrs.frozen
class GrowthRow:
    """One period's sales and its growth over the period before."""

    period: str
    start: dt.datetime
    end: dt.datetime
    value: Decimal
    previous: Decimal
    change: Decimal
    growth_percent: float | None
    """``(value − previous) / previous × 100``; None when the previous period had nothing."""


@attrs.frozen
class EngagementScore:
    """One customer's engagement: interactions in the window and their weighted sum."""

    external_id: str
    interactions: int
    score: float


@attrs.frozen
class EngagementKind:
    """One interaction kind's part of engagement in the window."""

    kind: str
    interactions: int
    points: float


@attrs.frozen
class PhaseRow:
    """One customer's relationship phase and the spend and engagement trends behind it."""

    external_id: str
    phase: str
    recent_spend: Decimal
    prior_spend: Decimal
    recent_engagement: float
    prior_engagement: float


@attrs.frozen
class CustomerEquity:
    """Customer equity with its parts: Σ CLV of current customers + prospects × conversion
    probability × expected value of a new customer (amounts to the cent)."""

    as_of: dt.datetime
    customers: int
    current_value: Decimal
    prospects: int
    conversion_probability: float | None
    conversion_source: str
    """``config`` (equity.conversion_probability) or ``funnel`` (lead-to-won)."""
    new_customer_value: Decimal | None
    new_customers_counted: int
    """How many recent first-time buyers the new-customer value is the mean of (0: of all)."""
    prospect_value: Decimal
    equity: Decimal
    note: str | None = None


@attrs.frozen
class RelationshipQuality:
    """One customer's relationship quality: trust, satisfaction and commitment (0–100) and
    their mean, the index."""

    external_id: str
    trust: float
    satisfaction: float
    commitment: float
    index: float
    surveyed: tuple[str, ...]
    """The components the customer answered survey items for (the others: behaviour only)."""


@attrs.frozen
class PerceivedValue:
    """Perceived benefit and perceived cost (0–100, means of survey items) of a group of
    respondents, and the net value benefit − cost."""

    group: str
    respondents: int
    benefit: float | None
    cost: float | None
    net: float | None


@attrs.frozen
class LadderPosition:
    """A customer's rung on the loyalty ladder and the facts it was decided on."""

    customer_id: int
    external_id: str
    rung: str
    purchases: int
    best_nps: float | None
    referrals: int


@attrs.frozen
class VOCCount:
    """How many comments/complaints of a month carry a tag."""

    month: str
    tag: str
    count: int


@attrs.frozen
class KPIStatus:
    """A KPI measured for its period: value, attainment and status."""

    name: str
    metric: str
    period: str
    period_start: dt.datetime
    measured_at: dt.datetime
    value: float | None
    target: float
    direction: str
    attainment: float | None
    status: str
    owner: str | None
    deadline: dt.datetime
    note: str | None = None
    """Why there is no value when the metric could not be measured (e.g. CLV not fitted)."""
    measure: str | None = "revenue"
    """What a money metric sums: revenue, or a plugin's measure (margin, profit); None for
    the other metrics, which sum no money."""


@attrs.frozen
class CLVOutcome:
    """Predicted CLV per customer id, or why there is none (``missing``: the fit's refusal)."""

    values: dict[int, Decimal]
    missing: str | None = None


@attrs.frozen
class CustomerValue:
    """Current value (recent net spend) and potential value (predicted CLV) of a customer."""

    customer_id: int
    external_id: str
    current_value: Decimal
    potential_value: Decimal


@attrs.frozen
class LifecycleUpdate:
    """What ``lifecycle --update`` / the sweep stored: counts per stage and changes emitted."""

    as_of: dt.datetime
    counts: dict[str, int]
    changed: int


@attrs.frozen
class Segment:
    """A saved segment definition."""

    name: str
    condition: dict[str, Any]
    description: str | None
    updated_at: dt.datetime
