"""The analytical configuration as typed settings, and the rules a JSON Schema cannot express
(reported by JSON pointer)."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

import attrs

from crmkit.plugin import (ConfigError, ValidationError, check_condition, parse_timestamp,
                           typed_settings)

from .clv import Settings as CLVSettings


@attrs.frozen
class NamedRule:
    """A named condition (an RFM segment or a ladder rung): the first or highest that holds."""

    name: str
    condition: dict[str, Any]
    """The condition as configured (crmkit.conditions)."""


@attrs.frozen
class RFM:
    """RFM scoring and segments."""

    bins: int
    frequency: str
    """``count`` (purchases) or ``days`` (distinct purchase days)."""
    monetary: str
    """``sum`` (net spend) or ``mean`` (net spend per F)."""
    segments: tuple[NamedRule, ...]
    store_on_sweep: bool
    """``crmkit sweep`` stores every customer's scores (read by the customer 360 card)."""


@attrs.frozen
class Lifecycle:
    """Lifecycle stage thresholds in days."""

    new_days: int
    active_days: int
    lapsed_days: int
    update_on_sweep: bool
    model: str
    """``recency`` or ``relationship``: what segments' lifecycle field means."""


@attrs.frozen
class Phases:
    """Relationship phase thresholds."""

    establish_days: int
    window_days: int
    growth_percent: float
    decline_percent: float


@attrs.frozen
class QualityItems:
    """The survey items of each component, the behaviour's weight and the window."""

    trust: tuple[str, ...]
    satisfaction: tuple[str, ...]
    commitment: tuple[str, ...]
    behaviour_weight: float
    window_days: int

    def items(self, component: str) -> tuple[str, ...]:
        """The survey items of ``component`` (trust, satisfaction or commitment)."""
        return getattr(self, component)


@attrs.frozen
class ValueItems:
    """The survey items of perceived benefit and cost, and the window."""

    benefit: tuple[str, ...]
    cost: tuple[str, ...]
    window_days: int

    def items(self, side: str) -> tuple[str, ...]:
        """The survey items of ``side`` (benefit or cost)."""
        return getattr(self, side)


@attrs.frozen
class Equity:
    """Customer equity settings."""

    conversion_probability: float | None
    """A prospect's chance of becoming a customer; None: the funnel's lead-to-won conversion."""
    conversion_days: int
    new_customer_days: int


@attrs.frozen
class Engagement:
    """Engagement: the window and the weight of each interaction kind."""

    days: int
    weights: dict[str, float]
    default_weight: float


@attrs.frozen
class Satisfaction:
    """NPS/CSAT/CES window and minimum sample."""

    min_sample: int
    window_days: int


@attrs.frozen
class Funnel:
    """Funnel stages read from stage.changed events."""

    stages: tuple[str, ...]
    won_stage: str
    lost_stages: tuple[str, ...]


@attrs.frozen
class ParetoShares:
    """Revenue concentration shares, exact."""

    top_share: Fraction
    revenue_share: Fraction


@attrs.frozen
class KPI:
    """One SMART KPI definition."""

    name: str
    metric: str
    measure: str
    target: float
    """As configured (a number; an amount of money for the money metrics)."""
    direction: str
    period: str
    owner: str | None
    deadline: dt.datetime


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed."""

    purchase_kinds: tuple[str, ...]
    refund_kinds: tuple[str, ...]
    """Refund kinds (never also purchase kinds)."""
    survey_kinds: tuple[str, ...]
    complaint_kinds: tuple[str, ...]
    current_value_months: int
    rfm: RFM
    clv: CLVSettings
    """The configured CLV defaults (measure revenue)."""
    lifecycle: Lifecycle
    phases: Phases
    survey_items: dict[str, tuple[int, int]]
    """Declared survey item → its (min, max) scale."""
    relationship_quality: QualityItems
    perceived_value: ValueItems
    equity: Equity
    engagement: Engagement
    satisfaction: Satisfaction
    voc_tags: dict[str, tuple[str, ...]]
    voc_user_words: tuple[str, ...]
    funnel: Funnel
    pareto: ParetoShares
    ladder: tuple[NamedRule, ...]
    """Rungs above prospect, lowest first."""
    kpis: tuple[KPI, ...]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, checked, defaults filled)
        configuration."""
        purchases = tuple(config["purchase_kinds"])
        rfm, life, phases = config["rfm"], config["lifecycle"], config["phases"]
        quality, value, equity = (config["relationship_quality"], config["perceived_value"],
                                  config["equity"])
        engagement, funnel, pareto = config["engagement"], config["funnel"], config["pareto"]
        return cls(
            purchase_kinds=purchases,
            refund_kinds=tuple(k for k in config["refund_kinds"] if k not in purchases),
            survey_kinds=tuple(config["survey_kinds"]),
            complaint_kinds=tuple(config["complaint_kinds"]),
            current_value_months=config["current_value_months"],
            rfm=RFM(rfm["bins"], rfm["frequency"], rfm["monetary"],
                    tuple(NamedRule(s["name"], s["if"]) for s in rfm["segments"]),
                    rfm["store_on_sweep"]),
            clv=CLVSettings(**config["clv"]),
            lifecycle=Lifecycle(life["new_days"], life["active_days"], life["lapsed_days"],
                                life["update_on_sweep"], life["model"]),
            phases=Phases(phases["establish_days"], phases["window_days"],
                          phases["growth_percent"], phases["decline_percent"]),
            survey_items={key: (scale["min"], scale["max"])
                          for key, scale in config["survey_items"].items()},
            relationship_quality=QualityItems(
                tuple(quality["trust"]), tuple(quality["satisfaction"]),
                tuple(quality["commitment"]), quality["behaviour_weight"],
                quality["window_days"]),
            perceived_value=ValueItems(tuple(value["benefit"]), tuple(value["cost"]),
                                       value["window_days"]),
            equity=Equity(equity["conversion_probability"], equity["conversion_days"],
                          equity["new_customer_days"]),
            engagement=Engagement(engagement["days"], dict(engagement["weights"]),
                                  engagement["default_weight"]),
            satisfaction=Satisfaction(config["satisfaction"]["min_sample"],
                                      config["satisfaction"]["window_days"]),
            voc_tags={tag: tuple(words) for tag, words in config["voc_tags"].items()},
            voc_user_words=tuple(config["voc_user_words"]),
            funnel=Funnel(tuple(funnel["stages"]), funnel["won_stage"],
                          tuple(funnel["lost_stages"])),
            pareto=ParetoShares(Fraction(str(pareto["top_share"])),
                                Fraction(str(pareto["revenue_share"]))),
            ladder=tuple(NamedRule(r["rung"], r["if"]) for r in config["ladder"]),
            kpis=tuple(KPI(k["name"], k["metric"], k.get("measure", "revenue"), k["target"],
                           k["direction"], k["period"], k.get("owner"),
                           parse_timestamp(k["deadline"], "deadline"))
                       for k in config["kpis"]),
        )


def settings_of(ctx) -> Settings:
    """The plugin's settings in a hook context (built once per configuration)."""
    return typed_settings(Settings, ctx.config)


def check_config(crm, config: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the JSON pointer of the first problem."""
    from . import ladder, rfm

    both = set(config["purchase_kinds"]) & set(config["refund_kinds"])
    if both:
        raise ConfigError(f"/refund_kinds: {', '.join(sorted(both))} also in /purchase_kinds "
                          "(a kind is either a purchase or a refund)")
    life = config["lifecycle"]
    if life["active_days"] > life["lapsed_days"]:
        raise ConfigError(f"/lifecycle/active_days: {life['active_days']} is above lapsed_days "
                          f"{life['lapsed_days']} (allowed: active_days <= lapsed_days)")
    names = [s["name"] for s in config["rfm"]["segments"]]
    for i, segment in enumerate(config["rfm"]["segments"]):
        if names.index(segment["name"]) != i:
            raise ConfigError(f"/rfm/segments/{i}/name: {segment['name']!r} is used twice")
        check_condition(segment["if"], rfm.FIELDS, f"/rfm/segments/{i}/if",
                        money_fields=rfm.MONEY_FIELDS)
    rungs = [r["rung"] for r in config["ladder"]]
    for i, rung in enumerate(config["ladder"]):
        if rung["rung"] == "prospect" or rungs.index(rung["rung"]) != i:
            raise ConfigError(f"/ladder/{i}/rung: {rung['rung']!r} is used twice or is 'prospect' "
                              "(the rung of customers no rule holds for)")
        check_condition(rung["if"], ladder.FIELDS, f"/ladder/{i}/if")
    funnel = config["funnel"]
    if funnel["won_stage"] not in funnel["stages"]:
        raise ConfigError(f"/funnel/won_stage: {funnel['won_stage']!r} is not in /funnel/stages")
    for stage in funnel["lost_stages"]:
        if stage in funnel["stages"]:
            raise ConfigError(f"/funnel/lost_stages: {stage!r} is also an ordered stage")
    _check_kpis(crm, config["kpis"])
    _check_survey_items(config)


def _check_survey_items(config: dict[str, Any]) -> None:
    from .surveys import SCALES

    for key, scale in config["survey_items"].items():
        if key in SCALES:
            raise ConfigError(f"/survey_items/{key}: {key} is built in with the scale "
                              f"{SCALES[key][0]}-{SCALES[key][1]} (choose another key)")
        if scale["max"] <= scale["min"]:
            raise ConfigError(f"/survey_items/{key}/max: {scale['max']} must be above min "
                              f"{scale['min']}")
    known = [*SCALES, *config["survey_items"]]
    for section, sides in (("relationship_quality", ("trust", "satisfaction", "commitment")),
                           ("perceived_value", ("benefit", "cost"))):
        for side in sides:
            for i, item in enumerate(config[section][side]):
                if item not in known:
                    raise ConfigError(f"/{section}/{side}/{i}: {item!r} is not a survey item "
                                      f"(allowed: {', '.join(known)}; declare others in "
                                      "/survey_items)")


def _check_kpis(crm, kpis: list[dict[str, Any]]) -> None:
    from .kpis import MONEY_METRICS
    from .sales import measure_query, missing_measure

    seen = set()
    for i, kpi in enumerate(kpis):
        if kpi["name"] in seen:
            raise ConfigError(f"/kpis/{i}/name: {kpi['name']!r} is used twice")
        seen.add(kpi["name"])
        try:
            parse_timestamp(kpi["deadline"], "deadline")
        except ValidationError:
            raise ConfigError(f"/kpis/{i}/deadline: {kpi['deadline']!r} is not an ISO 8601 date "
                              "or date-time (e.g. 2025-12-31)") from None
        measure = kpi.get("measure", "revenue")
        if measure == "revenue":
            continue
        if kpi["metric"] not in MONEY_METRICS:
            raise ConfigError(f"/kpis/{i}/measure: {measure!r} applies to the money metrics "
                              f"only ({', '.join(MONEY_METRICS)}), not to {kpi['metric']!r}")
        try:
            measure_query(crm, measure, crm.clock.now(), None)
        except ValidationError:
            raise ConfigError(missing_measure(measure, f"/kpis/{i}/measure")) from None
