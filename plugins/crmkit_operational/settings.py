"""Configuration checks the JSON Schema cannot express, each error naming its JSON pointer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from crmkit.plugin import ConfigError, check_condition

from . import actions
from .business_hours import BusinessCalendar
from .catalogue import AUTOMATION_PREFIX, EVENT_TYPES, fields_for
from .sqlfields import FieldSQL
from .stages import DISQUALIFIED, LEAD_STAGES, LOST, WON


def check_config(crm, config: dict[str, Any]) -> None:
    """Raise ConfigError for the first problem found."""
    _funnel(config)
    _fit(config)
    _territories(config)
    _calendar(crm, config)
    _automation(crm, config)


def _funnel(config) -> None:
    reserved = set(LEAD_STAGES) | {WON, LOST, DISQUALIFIED}
    seen = set()
    for i, stage in enumerate(config["funnel"]["opportunity_stages"]):
        name = stage["name"]
        where = f"/funnel/opportunity_stages/{i}/name"
        if name in reserved:
            raise ConfigError(f"{where}: {name!r} is reserved (lead stages, won, lost, disqualified)")
        if name in seen:
            raise ConfigError(f"{where}: {name!r} appears twice")
        seen.add(name)


def _sql_check(condition: dict[str, Any], pointer: str, with_payload: bool) -> None:
    """Compile a condition for SQL to catch operators a field cannot take."""
    try:
        fields = FieldSQL() if with_payload else FieldSQL(interaction_table=None)
        fields.compile(condition)
    except ConfigError as exc:
        raise ConfigError(f"{pointer}: {exc}") from None


def _fit(config) -> None:
    for i, rule in enumerate(config["scoring"]["fit"]):
        where = f"/scoring/fit/{i}"
        if rule["op"] == "in" and not isinstance(rule["value"], list):
            raise ConfigError(f"{where}/value: op 'in' needs a list")
        if rule["op"] == "contains" and not isinstance(rule["value"], str):
            raise ConfigError(f"{where}/value: op 'contains' needs text")
        if isinstance(rule["value"], (dict, list)) and rule["op"] != "in":
            raise ConfigError(f"{where}/value: must be text, a number or a boolean")
        _sql_check({"field": f"customer.attributes.{rule['attribute']}", "op": rule["op"],
                    "value": rule["value"]}, where, with_payload=False)


def _territories(config) -> None:
    names = set()
    for i, territory in enumerate(config["assignment"]["territories"]):
        where = f"/assignment/territories/{i}"
        if territory["name"] in names:
            raise ConfigError(f"{where}/name: {territory['name']!r} appears twice")
        names.add(territory["name"])
        check_condition(territory["if"], fields_for(None), f"{where}/if")
        _sql_check(territory["if"], f"{where}/if", with_payload=False)


def _calendar(crm, config) -> None:
    calendar = config["cases"]["calendar"]
    if calendar is None:
        return
    for i, day in enumerate(calendar["holidays"]):
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise ConfigError(f"/cases/calendar/holidays/{i}: {day!r} is not a date") from None
    BusinessCalendar(calendar, crm.core_config["timezone"])


def _automation(crm, config) -> None:
    emitted = actions.emitted_types(config)
    known = set(crm.events.types()) | set(EVENT_TYPES) | emitted
    names = set()
    for i, rule in enumerate(config["automation"]["rules"]):
        where = f"/automation/rules/{i}"
        if rule["name"] in names:
            raise ConfigError(f"{where}/name: {rule['name']!r} appears twice (names are unique)")
        names.add(rule["name"])
        for key in ("on", "unless"):
            event_type = rule.get(key)
            if event_type is None:
                continue
            if event_type not in known:
                hint = (" (no rule emits it)" if event_type.startswith(AUTOMATION_PREFIX)
                        else "; is the plugin that emits it enabled?")
                raise ConfigError(f"{where}/{key}: unknown event type {event_type!r}{hint} "
                                  f"(known: {', '.join(sorted(known))})")
        if "if" in rule:
            check_condition(rule["if"], fields_for(rule["on"]), f"{where}/if")
            if rule["on"] == "interaction.recorded":
                _sql_check(rule["if"], f"{where}/if", with_payload=True)
        for j, action in enumerate(rule["do"]):
            actions.check(action, f"{where}/do/{j}")
