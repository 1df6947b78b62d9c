"""The operational configuration as typed settings, and the checks the JSON Schema cannot
express (each error naming its JSON pointer)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterator

import attrs

from crmkit.plugin import (
    INTERACTION_RECORDED, ConfigError, check_condition, condition_money, tag_problem,
    typed_settings,
)

from .business_hours import BusinessCalendar, Calendar
from .catalogue import AUTOMATION_PREFIX, EVENT_TYPES, fields_for
from .sqlfields import FieldSQL
from .stages import DISQUALIFIED, LEAD_STAGES, LOST, WON, Stages

DEFAULT_STRATEGY = "round_robin"
MONEY_FIELDS = ("payload.amount",)
"""Condition fields holding money (an interaction's or an opportunity's amount)."""
ACTION_NAMES = ("create_task", "assign", "set_stage", "add_tag", "remove_tag", "queue_message",
                "emit")


@attrs.frozen
class Funnel:
    """Lead and opportunity stages."""

    stages: Stages
    """The stage order, win probabilities and move rules."""
    renewal_after_days: int | None
    new_customers_are_leads: bool


@attrs.frozen
class ScoringRule:
    """A behaviour rule: each of the ``cap`` most recent interactions matching ``match`` adds
    ``weight`` (decayed by age)."""

    match: dict[str, str]
    """Interaction column (kind, channel, direction) → the value it must have."""
    weight: float
    cap: int


@attrs.frozen
class FitRule:
    """``points`` when the customer attribute ``attribute`` compares ``op`` to ``value``."""

    attribute: str
    op: str
    value: Any
    points: float

    @property
    def condition(self) -> dict[str, Any]:
        """The rule as a condition on the customer."""
        return {"field": f"customer.attributes.{self.attribute}", "op": self.op,
                "value": self.value}


@attrs.frozen
class Scoring:
    """Lead scoring with time decay, caps and fit rules."""

    rules: tuple[ScoringRule, ...]
    fit: tuple[FitRule, ...]
    half_life_days: float
    max_score: float
    mql_threshold: Decimal


@attrs.frozen
class Team:
    """How work is shared in one team."""

    strategy: str
    weights: dict[str, int]
    """Staff handle → weight (the weighted strategy; 1 for staff not listed)."""
    capacity: int | None
    """Open items a member may hold (None: no limit)."""


@attrs.frozen
class Territory:
    """Leads for which ``condition`` holds go to ``team``."""

    name: str
    condition: dict[str, Any]
    team: str


@attrs.frozen
class Assignment:
    """Who gets leads, cases and tasks."""

    lead_team: str
    assign_leads_on: str
    capacity: int | None
    teams: dict[str, Team]
    territories: tuple[Territory, ...]

    def team(self, name: str) -> Team:
        """The settings of team ``name`` (the defaults for a team not configured)."""
        return self.teams.get(name) or Team(DEFAULT_STRATEGY, {}, self.capacity)


@attrs.frozen
class Tasks:
    """Follow-up tasks."""

    first_contact_hours: float
    dormant_days: float
    dormant_team: str | None


@attrs.frozen
class Target:
    """Service targets of one case priority, in (business) hours."""

    first_response_hours: float
    resolution_hours: float


@attrs.frozen
class Cases:
    """Case handling."""

    team: str | None
    reopen_days: float
    complaint_max_age_days: float
    targets: dict[str, Target]
    """Priority → its targets."""
    calendar: Calendar | None
    """Business hours due times are counted in (None: wall-clock hours)."""


@attrs.frozen
class Action:
    """One action of a rule: its name and its arguments (the value under the name)."""

    name: str
    args: Any

    @classmethod
    def of(cls, action: dict[str, Any]) -> "Action":
        """The action of a (checked) one-key action object."""
        (name, args), = action.items()
        return cls(name, args)


@attrs.frozen
class Rule:
    """An automation rule: on ``on`` (if ``condition`` holds) run ``actions``."""

    name: str
    on: str
    condition: dict[str, Any] | None
    """The condition as configured."""
    wait_hours: float
    unless: str | None
    cooldown_hours: float
    actions: tuple[Action, ...]
    exact_condition: dict[str, Any] | None = attrs.field(init=False)
    """The condition that runs: its amounts as exact Decimals (:func:`exact_amounts`)."""

    @exact_condition.default
    def _exact(self) -> dict[str, Any] | None:
        return exact_amounts(self.condition)


@attrs.frozen
class Automation:
    """The automation rules."""

    max_chain_depth: int
    rules: tuple[Rule, ...]

    def rule(self, name: str) -> Rule | None:
        """The rule called ``name`` (None when no longer configured)."""
        return next((r for r in self.rules if r.name == name), None)

    def listening_to(self, event_type: str) -> tuple[Rule, ...]:
        """The rules on ``event_type``, in configured order."""
        return tuple(r for r in self.rules if r.on == event_type)


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed."""

    funnel: Funnel
    scoring: Scoring
    assignment: Assignment
    tasks: Tasks
    cases: Cases
    open_case_on_complaint: bool
    open_case_on_negative_mention: bool
    automation: Automation

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        funnel, scoring = config["funnel"], config["scoring"]
        assignment, tasks, cases = config["assignment"], config["tasks"], config["cases"]
        return cls(
            funnel=Funnel(Stages(funnel["opportunity_stages"], funnel["allow_backward"]),
                          funnel["renewal_after_days"], funnel["new_customers_are_leads"]),
            scoring=Scoring(
                rules=tuple(ScoringRule(dict(r["match"]), float(r["weight"]), r["cap"])
                            for r in scoring["rules"]),
                fit=tuple(FitRule(r["attribute"], r["op"], r["value"], float(r["points"]))
                          for r in scoring["fit"]),
                half_life_days=float(scoring["half_life_days"]),
                max_score=float(scoring["max_score"]),
                mql_threshold=Decimal(str(scoring["mql_threshold"]))),
            assignment=Assignment(
                lead_team=assignment["lead_team"], assign_leads_on=assignment["assign_leads_on"],
                capacity=assignment["capacity"],
                teams={name: Team(team.get("strategy", DEFAULT_STRATEGY),
                                  dict(team.get("weights", {})),
                                  team["capacity"] if "capacity" in team
                                  else assignment["capacity"])
                       for name, team in assignment["teams"].items()},
                territories=tuple(Territory(t["name"], t["if"], t["team"])
                                  for t in assignment["territories"])),
            tasks=Tasks(tasks["first_contact_hours"], tasks["dormant_days"],
                        tasks["dormant_team"]),
            cases=Cases(cases["team"], cases["reopen_days"], cases["complaint_max_age_days"],
                        {priority: Target(t["first_response_hours"], t["resolution_hours"])
                         for priority, t in cases["targets"].items()},
                        None if cases["calendar"] is None else Calendar.from_config(cases["calendar"])),
            open_case_on_complaint=config["open_case_on_complaint"],
            open_case_on_negative_mention=config["open_case_on_negative_mention"],
            automation=Automation(config["automation"]["max_chain_depth"], tuple(
                Rule(r["name"], r["on"], r.get("if"), r["wait_hours"], r["unless"],
                     r["cooldown_hours"], tuple(Action.of(a) for a in r["do"]))
                for r in config["automation"]["rules"])),
        )


def exact_amounts(condition: dict[str, Any] | None) -> dict[str, Any] | None:
    """``condition`` with the values compared with :data:`MONEY_FIELDS` as exact Decimals
    (:func:`condition_money`), so a rule compares amounts as money in Python and SQL alike."""
    if condition is None:
        return None
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        return {key: [exact_amounts(part) for part in condition[key]]}
    if "not" in condition:
        return {"not": exact_amounts(condition["not"])}
    value = condition.get("value")
    if condition["field"] not in MONEY_FIELDS or value is None or condition["op"] == "exists":
        return condition
    return dict(condition, value=[condition_money(v) for v in value] if isinstance(value, list)
                else condition_money(value))


def settings_of(ctx) -> Settings:
    """The plugin's settings in a hook context (built once per configuration)."""
    return typed_settings(Settings, ctx.config)


def check_config(crm, config: dict[str, Any], core_config: dict[str, Any]) -> None:
    """Raise ConfigError for the first problem found (the business calendar with the time zone
    of ``core_config``, the core configuration being checked against)."""
    _funnel(config)
    _fit(config)
    _territories(config)
    _calendar(config, core_config)
    _automation(crm, config)


def _named(items: list[dict[str, Any]], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each item of a configured list with its JSON pointer (``path/i``); a ``name`` that
    appeared before in the list is a ConfigError."""
    seen = set()
    for i, item in enumerate(items):
        where = f"{path}/{i}"
        if item["name"] in seen:
            raise ConfigError(f"{where}/name: {item['name']!r} appears twice (names are unique)")
        seen.add(item["name"])
        yield where, item


def _funnel(config) -> None:
    reserved = set(LEAD_STAGES) | {WON, LOST, DISQUALIFIED}
    for where, stage in _named(config["funnel"]["opportunity_stages"],
                               "/funnel/opportunity_stages"):
        if stage["name"] in reserved:
            raise ConfigError(f"{where}/name: {stage['name']!r} is reserved (lead stages, won, "
                              "lost, disqualified)")


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
    for where, territory in _named(config["assignment"]["territories"],
                                   "/assignment/territories"):
        check_condition(territory["if"], fields_for(None), f"{where}/if")
        _sql_check(territory["if"], f"{where}/if", with_payload=False)


def _calendar(config, core_config) -> None:
    calendar = config["cases"]["calendar"]
    if calendar is None:
        return
    for i, day in enumerate(calendar["holidays"]):
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            raise ConfigError(f"/cases/calendar/holidays/{i}: {day!r} is not a date") from None
    BusinessCalendar(Calendar.from_config(calendar), core_config["timezone"])


def _automation(crm, config) -> None:
    emitted = emitted_types(config)
    known = set(crm.events.types()) | set(EVENT_TYPES) | emitted
    for where, rule in _named(config["automation"]["rules"], "/automation/rules"):
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
            check_condition(rule["if"], fields_for(rule["on"]), f"{where}/if",
                            money_fields=MONEY_FIELDS)
            if rule["on"] == INTERACTION_RECORDED:
                _sql_check(rule["if"], f"{where}/if", with_payload=True)
        for j, action in enumerate(rule["do"]):
            check_action(action, f"{where}/do/{j}")


def check_action(action: Any, pointer: str) -> None:
    """Raise ConfigError (with ``pointer``) unless ``action`` is a well-formed action."""
    if not isinstance(action, dict) or len(action) != 1:
        raise ConfigError(f"{pointer}: an action is an object with exactly one key "
                          f"(one of {', '.join(ACTION_NAMES)})")
    (name, args), = action.items()
    where = f"{pointer}/{name}"
    if name not in ACTION_NAMES:
        raise ConfigError(f"{pointer}: unknown action {name!r} (allowed: {', '.join(ACTION_NAMES)})")
    if name in ("add_tag", "remove_tag"):
        _text(args, where, "a tag")
        problem = tag_problem(args.strip())
        if problem is not None:
            raise ConfigError(f"{where}: {problem}")
    elif name == "set_stage":
        allowed = LEAD_STAGES + (DISQUALIFIED,)
        if args not in allowed:
            raise ConfigError(f"{where}: {args!r} is not a lead stage (allowed: {', '.join(allowed)})")
    elif name == "create_task":
        _object(args, where, {"subject", "due_hours", "assignee", "team"}, {"subject"})
        _text(args["subject"], f"{where}/subject", "the task subject")
        if "due_hours" in args and (not isinstance(args["due_hours"], (int, float))
                                    or isinstance(args["due_hours"], bool) or args["due_hours"] < 0):
            raise ConfigError(f"{where}/due_hours: must be a number >= 0")
        for key in ("assignee", "team"):
            if args.get(key) is not None:
                _text(args[key], f"{where}/{key}", "a staff handle" if key == "assignee" else "a team")
    elif name == "assign":
        _object(args, where, {"team"}, set())
        if args.get("team") is not None:
            _text(args["team"], f"{where}/team", "a team")
    elif name == "queue_message":
        _object(args, where, {"subject", "body", "channel"}, {"body"})
        _text(args["body"], f"{where}/body", "the message text")
        for key, what in (("subject", "the subject (one line)"), ("channel", "a channel")):
            if args.get(key) is not None:
                _text(args[key], f"{where}/{key}", what)
                if "\n" in args[key] or "\r" in args[key]:
                    raise ConfigError(f"{where}/{key}: must be {what} (no line break)")
    elif name == "emit":
        _object(args, where, {"type", "payload"}, {"type"})
        if not isinstance(args["type"], str) or not args["type"].startswith(AUTOMATION_PREFIX) \
                or len(args["type"]) <= len(AUTOMATION_PREFIX):
            raise ConfigError(f"{where}/type: {args['type']!r} must be named "
                              f"'{AUTOMATION_PREFIX}<name>'")
        if not isinstance(args.get("payload", {}), dict):
            raise ConfigError(f"{where}/payload: must be an object")


def _text(value: Any, where: str, what: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: must be {what} (non-empty text)")


def _object(value: Any, where: str, keys: set[str], required: set[str]) -> None:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be an object with keys {', '.join(sorted(keys))}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise ConfigError(f"{where}/{unknown[0]}: unknown key (allowed: {', '.join(sorted(keys))})")
    missing = sorted(required - set(value))
    if missing:
        raise ConfigError(f"{where}/{missing[0]}: required")


def emitted_types(config: dict[str, Any]) -> set[str]:
    """The custom ``automation.*`` event types the configured rules emit."""
    found = set()
    for rule in config["automation"]["rules"]:
        for action in rule.get("do", []):
            if isinstance(action, dict) and isinstance(action.get("emit"), dict):
                found.add(action["emit"].get("type"))
    return {t for t in found if isinstance(t, str)}
