"""Service cases: state machine, SLA targets in business hours, breaches once, case sources."""

from __future__ import annotations

import datetime as dt

import pytest

from crmkit.errors import ConfigError, ValidationError

UTC = dt.timezone.utc
FRIDAY_5PM = dt.datetime(2025, 1, 3, 17, 0, tzinfo=UTC)
WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "opens": "09:00", "closes": "18:00"}


def test_friday_5pm_plus_four_business_hours_is_monday_noon(crm, clock, operational):
    api = operational({"cases": {"calendar": WEEKDAYS, "team": None}})
    crm.customers.add("C1")
    clock.set(FRIDAY_5PM)
    case = api.case(api.open_case("C1", "Printer on fire", "high"))
    assert case["first_response_due"] == dt.datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
    # 24 business hours: Fri 1 + Mon 9 + Tue 9 + Wed 5 -> Wednesday 14:00
    assert case["resolution_due"] == dt.datetime(2025, 1, 8, 14, 0, tzinfo=UTC)


def test_business_hours_follow_the_calendars_time_zone_and_holidays(crm, clock, operational):
    api = operational({"cases": {"team": None, "calendar": dict(
        WEEKDAYS, timezone="Europe/London", holidays=["2025-03-31"])}})
    crm.customers.add("C1")
    clock.set(dt.datetime(2025, 3, 28, 17, 0, tzinfo=UTC))  # Friday 17:00 GMT
    case = api.case(api.open_case("C1", "Clocks change on Sunday", "high"))
    # Monday is a holiday; Tuesday 1 April 12:00 BST is 11:00 UTC
    assert case["first_response_due"] == dt.datetime(2025, 4, 1, 11, 0, tzinfo=UTC)


def test_without_a_calendar_targets_are_wall_clock_hours(crm, clock, operational):
    api = operational({"cases": {"team": None}})
    crm.customers.add("C1")
    clock.set(FRIDAY_5PM)
    case = api.case(api.open_case("C1", "Late order"))  # normal: 8 h / 72 h
    assert case["first_response_due"] == FRIDAY_5PM + dt.timedelta(hours=8)
    assert case["resolution_due"] == FRIDAY_5PM + dt.timedelta(hours=72)


def test_sla_targets_are_configurable(crm, clock, operational):
    api = operational({"cases": {"team": None, "targets": {
        "normal": {"first_response_hours": 2, "resolution_hours": 10}}}})
    crm.customers.add("C1")
    case = api.case(api.open_case("C1", "Late order"))
    assert case["first_response_due"] == clock.now() + dt.timedelta(hours=2)


def test_a_breach_is_emitted_once_per_target_however_often_the_sweep_runs(
        crm, clock, operational, events):
    api = operational({"cases": {"calendar": WEEKDAYS, "team": None}})
    c1 = crm.customers.add("C1")
    clock.set(FRIDAY_5PM)
    case_id = api.open_case("C1", "Printer on fire", "high")
    clock.set(dt.datetime(2025, 1, 6, 12, 0, tzinfo=UTC))
    assert crm.sweep()["operational"]["sla_breaches"] == 0  # due exactly now: not yet missed
    clock.advance(minutes=1)
    for _ in range(3):
        crm.sweep()
    assert events("case.sla_breached", c1.id) == [
        {"case_id": case_id, "target": "first_response", "due_at": "2025-01-06T12:00:00+00:00",
         "priority": "high"}]
    api.move_case(case_id, "in_progress")  # a late response does not breach again
    clock.set(dt.datetime(2025, 1, 8, 14, 1, tzinfo=UTC))
    crm.sweep()
    crm.sweep()
    assert [p["target"] for p in events("case.sla_breached")] == ["first_response", "resolution"]


def test_a_response_in_time_is_no_breach(crm, clock, operational, events):
    api = operational({"cases": {"team": None}})
    crm.customers.add("C1")
    case_id = api.open_case("C1", "Question", "urgent")
    clock.advance(minutes=30)
    assert api.respond(case_id) is True and api.respond(case_id) is False
    clock.advance(hours=2)
    crm.sweep()
    assert events("case.sla_breached") == []


def test_state_machine_and_reopen_window(crm, clock, operational, events):
    api = operational({"cases": {"team": None}})
    crm.customers.add("C1")
    case_id = api.open_case("C1", "Broken", "low")
    with pytest.raises(ValidationError, match=rf"case {case_id}: cannot move from 'open' to "
                                              r"'resolved' \(allowed: in_progress\)"):
        api.move_case(case_id, "resolved")
    with pytest.raises(ValidationError, match="'done' is not a case state"):
        api.move_case(case_id, "done")
    assert api.case(case_id)["status"] == "open"
    clock.advance(hours=1)
    api.move_case(case_id, "in_progress")
    assert api.case(case_id)["first_response_at"] == clock.now()
    api.move_case(case_id, "resolved")
    clock.advance(days=14)
    api.move_case(case_id, "in_progress")  # reopened within 14 days
    api.move_case(case_id, "resolved")
    clock.advance(days=14, minutes=1)
    with pytest.raises(ValidationError, match=r"more than 14 days ago \(cases.reopen_days\); "
                                              "open a new case"):
        api.move_case(case_id, "in_progress")
    assert [(p["from"], p["to"]) for p in events("case.status_changed")] == [
        ("open", "in_progress"), ("in_progress", "resolved"), ("resolved", "in_progress"),
        ("in_progress", "resolved")]
    assert crm.sweep()["operational"]["cases_closed"] == 1  # past the reopen window
    assert crm.sweep()["operational"]["cases_closed"] == 0
    with pytest.raises(ValidationError, match="allowed: nothing, it is closed"):
        api.move_case(case_id, "in_progress")


def test_reopen_days_is_configurable(crm, clock, operational):
    api = operational({"cases": {"team": None, "reopen_days": 2}})
    crm.customers.add("C1")
    case_id = api.open_case("C1", "Broken")
    api.move_case(case_id, "in_progress")
    api.move_case(case_id, "resolved")
    clock.advance(days=3)
    with pytest.raises(ValidationError, match="more than 2 days ago"):
        api.move_case(case_id, "in_progress")


def test_complaints_open_cases_with_their_priority(crm, clock, operational, staff, events):
    api = operational()
    staff("support", "dee", "eli")
    crm.customers.add_many([{"external_id": "C1"}, {"external_id": "C2"}])
    crm.interactions.record_many([
        {"customer": "C1", "occurred_at": clock.now(), "kind": "complaint",
         "payload": {"text": "Parcel arrived crushed", "priority": "urgent"}},
        {"customer": "C2", "occurred_at": clock.now() - dt.timedelta(hours=2), "kind": "complaint"},
        {"customer": "C2", "occurred_at": clock.now() - dt.timedelta(days=31), "kind": "complaint"},
        {"customer": "C2", "occurred_at": clock.now(), "kind": "visit"}])
    cases = sorted(api.cases(), key=lambda c: c["id"])
    assert [(c["customer"], c["subject"], c["priority"], c["source"], c["assignee"]) for c in cases] == [
        ("C1", "Complaint: Parcel arrived crushed", "urgent", "complaint", "dee"),
        ("C2", "Complaint", "normal", "complaint", "eli")]
    assert cases[1]["opened_at"] == clock.now() - dt.timedelta(hours=2)
    assert [p["case_id"] for p in events("case.opened")] == [c["id"] for c in cases]


def test_open_case_on_complaint_can_be_switched_off(crm, clock, operational):
    api = operational({"open_case_on_complaint": False})
    crm.customers.add("C1")
    crm.interactions.record("C1", clock.now(), kind="complaint")
    assert api.cases() == []


def test_negative_mentions_open_cases_unless_switched_off(crm, clock, operational):
    api = operational({"cases": {"team": None}})
    c1 = crm.customers.add("C1")
    with crm.transaction() as tx:
        tx.emit("social.negative_mention", c1.id, {"mention_id": 4, "platform": "x",
                                                   "handle": "ada", "score": -0.8}, source="social")
    [case] = api.cases()
    assert (case["subject"], case["priority"], case["source"]) == (
        "Negative mention on x by ada", "high", "social")
    crm.plugins.configure("operational", {"open_case_on_negative_mention": False})
    with crm.transaction() as tx:
        tx.emit("social.negative_mention", c1.id, {"mention_id": 5, "platform": "x",
                                                   "handle": "ada", "score": -0.9}, source="social")
    assert len(api.cases()) == 1


def test_bad_case_input_and_calendar_config(crm, operational):
    api = operational()
    crm.customers.add("C1")
    with pytest.raises(ValidationError, match="case priority: 'critical' is not one of low, normal, "
                                              "high, urgent"):
        api.open_case("C1", "x", "critical")
    assert api.cases() == []
    with pytest.raises(ConfigError, match=r"/cases/calendar/timezone: 'Mars/Olympus' is not an IANA "
                                          "time zone"):
        crm.plugins.configure("operational", {"cases": {"calendar": {"timezone": "Mars/Olympus"}}})
    with pytest.raises(ConfigError, match=r"/cases/calendar/closes: 08:00 is not after opens 09:00"):
        crm.plugins.configure("operational", {"cases": {"calendar": {"closes": "08:00"}}})
    assert crm.plugins.config("operational")["cases"]["calendar"] is None


def test_a_core_time_zone_change_checks_the_calendar_in_the_new_zone(crm, operational,
                                                                     monkeypatch):
    """A calendar without a time zone uses the core config's: when an admin changes that, the
    stored calendar is checked in the new zone, not the one the change replaces."""
    import crmkit_operational.settings as settings

    operational({"cases": {"team": None, "calendar": WEEKDAYS}})
    zones = []
    checked = settings.BusinessCalendar

    def recording(calendar, default_timezone):
        zones.append(default_timezone)
        return checked(calendar, default_timezone)

    monkeypatch.setattr(settings, "BusinessCalendar", recording)
    crm.plugins.configure_core({**crm.core_config, "timezone": "Europe/London"})
    assert zones == ["Europe/London"]
    assert crm.core_config["timezone"] == "Europe/London"
