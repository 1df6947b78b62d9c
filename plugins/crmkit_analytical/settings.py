"""Configuration rules a JSON Schema cannot express, reported by JSON pointer."""

from __future__ import annotations

from typing import Any

from crmkit.plugin import ConfigError, ValidationError, check_condition


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
        check_condition(segment["if"], rfm.FIELDS, f"/rfm/segments/{i}/if")
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
    from .surveys import SCALES, scales

    for key, scale in config["survey_items"].items():
        if key in SCALES:
            raise ConfigError(f"/survey_items/{key}: {key} is built in with the scale "
                              f"{SCALES[key][0]}-{SCALES[key][1]} (choose another key)")
        if scale["max"] <= scale["min"]:
            raise ConfigError(f"/survey_items/{key}/max: {scale['max']} must be above min "
                              f"{scale['min']}")
    known = scales(config)
    for section, sides in (("relationship_quality", ("trust", "satisfaction", "commitment")),
                           ("perceived_value", ("benefit", "cost"))):
        for side in sides:
            for i, item in enumerate(config[section][side]):
                if item not in known:
                    raise ConfigError(f"/{section}/{side}/{i}: {item!r} is not a survey item "
                                      f"(allowed: {', '.join(known)}; declare others in "
                                      "/survey_items)")


def _check_kpis(crm, kpis: list[dict[str, Any]]) -> None:
    from crmkit.plugin import parse_timestamp

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
