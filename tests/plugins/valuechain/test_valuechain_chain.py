"""valuechain: SSC suggestions, the five stages strictly in order, supporting conditions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from decimal import Decimal as D

import pytest
from sqlalchemy import insert, select

import crmkit_valuechain
from crmkit import migrate
from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import ConfigError, NotFound, PluginError, ValidationError
from crmkit_valuechain.errors import StageError
from crmkit_valuechain.tables import actions, network, propositions, ratings, ssc, stages

UTC = dt.timezone.utc


def test_valuechain_requires_analytical(crm):
    with pytest.raises(PluginError, match="requires analytical"):
        crm.plugins.enable("valuechain")


@pytest.fixture
def portfolio(vcrm):
    # CLV > 0 for 8 customers: C1..C8 = 800, 700, ..., 100; C9 has 0, C10 none
    vcrm.customers.add_many(
        [{"external_id": f"C{i}", "name": f"Customer {i}", "attributes": {"test_clv": 900 - 100 * i}}
         for i in range(1, 10)] + [{"external_id": "C10"}])
    return vcrm


def test_suggestions_are_the_top_share_by_clv(portfolio):
    api = portfolio.plugin("valuechain")
    # default 0.05 x 8 = 0.4 -> ceil 1
    assert [(s.rank, s.customer, s.clv) for s in api.suggest_ssc()] == [(1, "C1", D("800.00"))]
    portfolio.plugins.configure("valuechain", {"ssc_top_share": 0.3})     # ceil(2.4) = 3
    api.mark_ssc("C2", ["high_value"])
    assert [(s.customer, s.marked) for s in api.suggest_ssc()] == [
        ("C1", False), ("C2", True), ("C3", False)]


def complete_profile(crm, ext):
    crm.customers.update(ext, email=f"{ext.lower()}@x.example", phone="+44 20 7946 0000",
                         preferred_channel="email")


def test_stages_are_completed_strictly_in_order(portfolio):
    api = portfolio.plugin("valuechain")
    with pytest.raises(StageError, match=r"cannot complete stage 1 \(customer portfolio analysis\): "
                                         r"no SSC marked; at least 1 needed"):
        api.complete(1)
    api.mark_ssc("C1", ["high_value"])
    api.mark_ssc("C2", ["benchmark", "inspiration"], group="reference sites")
    with pytest.raises(StageError, match=r"cannot complete stage 3 \(network development\): "
                                         r"stage 2 \(customer intimacy\) is not complete"):
        api.complete(3)
    with pytest.raises(StageError, match=r"stage 2 \(customer intimacy\): stage 1 "):
        api.complete("intimacy")
    api.complete(1)
    with pytest.raises(StageError, match=r"cannot complete stage 3 \(network development\): "
                                         r"stage 2 \(customer intimacy\) is not complete"):
        api.complete("network")
    with pytest.raises(StageError, match=r"cannot complete stage 4 \(value proposition\): stage 3 "
                                         r".*\(the chain is open from stage 2 \(customer intimacy\)\)"):
        api.complete(4)
    # name only: 1 of 4 profile fields each -> 0.25 < 0.7
    with pytest.raises(StageError, match=r"SSC profile completeness 0.25 is below min_intimacy 0.7"):
        api.complete(2)
    complete_profile(portfolio, "C1")                      # 4/4; C2 1/4 -> mean 0.625
    assert api.check(2).evidence["completeness"] == 0.625
    with pytest.raises(StageError, match=r"completeness 0.625 is below min_intimacy 0.7 "):
        api.complete(2)
    complete_profile(portfolio, "C2")
    api.complete(2)
    for kind in ("supplier", "partner", "employee"):
        api.add_network_member(kind, f"a {kind}", "serves the SSCs")
    with pytest.raises(StageError, match="no network member of kind owner"):
        api.complete(3)
    api.add_network_member("owner", "The Board", "sponsors the key-account programme")
    api.complete(3)
    api.set_proposition("key accounts", "Priority service")
    with pytest.raises(StageError, match="no value proposition for SSC group reference sites"):
        api.complete(4)
    api.set_proposition("reference sites", "Co-developed products")
    api.complete(4)
    for group in ("key accounts", "reference sites"):
        for kind in ("acquisition", "retention"):
            api.add_action(group, kind, f"{kind} plan")
    with pytest.raises(StageError, match=r"missing lifecycle actions: key accounts: development; "
                                         r"reference sites: development"):
        api.complete(5)
    for group in ("key accounts", "reference sites"):
        api.add_action(group, "development", "cross-sell plan")
    api.complete(5)
    report = api.report()
    assert report["completed"] == "5 of 5"
    assert report["blocking_stage"] == "none: every stage is complete"
    assert [e.payload["stage"] for e in portfolio.events.list(type="valuechain.stage_completed",
                                                               limit=None)] == [1, 2, 3, 4, 5]
    with pytest.raises(StageError, match=r"stage 3 \(network development\) was already completed"):
        api.complete(3)
    assert api.reopen(4) == [4, 5]
    assert api.report()["blocking_stage"]["stage"] == 4


def test_configured_checks_change_the_chain(portfolio):
    api = portfolio.plugin("valuechain")
    api.mark_ssc("C1", ["high_value"])
    api.complete(1)
    portfolio.plugins.configure("valuechain", {"min_intimacy": 0.25})
    api.complete(2)                                        # name only: 0.25 >= 0.25
    portfolio.plugins.configure("valuechain", {"network_kinds_required": ["employee"]})
    api.add_network_member("employee", "Ana Costa", "account manager", customer="C1")
    api.complete(3)
    portfolio.plugins.configure("valuechain", {"lifecycle_action_kinds": ["retention"]})
    api.set_proposition("key accounts", "Priority service")
    api.complete(4)
    api.add_action("key accounts", "retention", "quarterly reviews")
    api.complete(5)
    portfolio.plugins.configure("valuechain", {"profile_fields": ["name", "attributes.test_clv"],
                                               "min_ssc": 2})
    assert api.check(2).evidence["completeness"] == 1.0
    assert not api.check(1).met and "at least 2 needed" in api.check(1).detail


def test_stage_2_compares_the_exact_mean_completeness(vcrm):
    vcrm.customers.add_many([
        {"external_id": "C1", "name": "Full", "email": "f@x.example", "phone": "+44 20 7946 0018",
         "preferred_channel": "email"},
        {"external_id": "C2", "name": "Nameonly"},
        {"external_id": "C3", "name": "Three", "email": "t@x.example", "phone": "+44 20 7946 0019"}])
    api = vcrm.plugin("valuechain")
    for ext in ("C1", "C2", "C3"):
        api.mark_ssc(ext, ["benchmark"])
    api.complete(1)
    # 4, 1 and 3 of 4 fields: (1 + 0.25 + 0.75) / 3 = 2/3 = 0.666666..., which 4 places round to 0.6667
    vcrm.plugins.configure("valuechain", {"min_intimacy": 0.66669})
    with pytest.raises(StageError, match=r"completeness 0\.666667 is below min_intimacy 0\.66669 over 3"):
        api.complete(2)
    # six digits would read 0.666667, as much as the threshold: the figure gets a seventh
    vcrm.plugins.configure("valuechain", {"min_intimacy": 0.666667})
    with pytest.raises(StageError, match=r"completeness 0\.6666667 is below min_intimacy 0\.666667 "):
        api.complete(2)
    check = api.check(2)
    assert check.evidence["completeness"] == 2 / 3
    assert check.evidence["least_complete"] == [("C2", 0.25), ("C3", 0.75), ("C1", 1.0)]
    vcrm.plugins.configure("valuechain", {"min_intimacy": 0.66666})
    assert api.complete(2).detail.startswith("SSC profile completeness 0.666667 >= min_intimacy 0.66666")
    with vcrm.read() as conn:  # the customers it names are in their own audit entries, not here
        stored = conn.execute(select(stages.c.evidence).where(stages.c.stage == 2)).scalar_one()
    assert stored == {"completeness": 2 / 3, "sscs": 3}
    # the threshold is the decimal configured: 1 of 5 fields meets 0.2 (a float a little above 1/5)
    api.reopen(2)
    api.unmark_ssc("C1")
    api.unmark_ssc("C3")
    vcrm.plugins.configure("valuechain", {"min_intimacy": 0.2, "profile_fields": [
        "name", "email", "phone", "preferred_channel", "tags"]})
    assert api.complete(2).detail.startswith("SSC profile completeness 0.2 >= min_intimacy 0.2 ")



def test_valuechain_0002_takes_the_customers_out_of_a_stored_stage(vcrm):
    migrations = Path(crmkit_valuechain.__file__).parent / "migrations"
    named = {"completeness": 0.5, "sscs": 2, "least_complete": [["C2", 0.25], ["C1", 0.75]]}
    with vcrm.connect(write=True) as conn:
        migrate.downgrade(conn, "valuechain@valuechain_0001", [migrations])
        conn.execute(insert(stages).values(  # as valuechain_0001 stored stage 2
            stage=2, completed_at=dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc),
            completed_by="ana", evidence=named))
        migrate.upgrade(conn, "valuechain@head", [migrations])
        conn.commit()
    with vcrm.read() as conn:
        assert conn.execute(select(stages.c.evidence)).scalar_one() == {"completeness": 0.5,
                                                                       "sscs": 2}
        assert migrate.current_revisions(conn, "valuechain") == {"valuechain_0002"}

def test_supporting_conditions_and_the_weakest(vcrm, clock):
    api = vcrm.plugin("valuechain")
    assert api.report()["weakest_condition"] == "none rated yet"
    api.rate("leadership_culture", 4)
    api.rate("data_it", 2)
    api.rate("people", 2)
    conditions = api.conditions()
    assert conditions.weakest == "data_it"                 # ties: data_it listed before people
    assert conditions.unrated == ["processes"]
    clock.advance(days=1)
    api.rate("data_it", 5, note="new CDP live")
    report = api.report()
    assert report["weakest_condition"] == {"condition": "people", "rating": 2}
    assert report["supporting_conditions"] == {"leadership and culture": 4, "data and IT": 5,
                                               "people": 2, "processes": None}
    assert report["unrated_conditions"] == ["processes"]
    earlier = api.report(as_of=clock.now() - dt.timedelta(hours=1))
    assert earlier["weakest_condition"] == {"condition": "data and IT", "rating": 2}
    with pytest.raises(ValidationError, match="rating: 6 is not a whole number from 1 to 5"):
        api.rate("people", 6)
    with pytest.raises(ValidationError, match="condition: 'morale' is not one of"):
        api.rate("morale", 3)


def test_report_names_the_blocking_stage(portfolio):
    api = portfolio.plugin("valuechain")
    report = api.report()
    assert report["blocking_stage"] == {"stage": 1, "name": "customer portfolio analysis",
                                        "reason": "no SSC marked; at least 1 needed"}
    api.mark_ssc("C3", ["door_opener"])
    assert api.report()["blocking_stage"]["reason"].startswith("ready to complete: 1 SSC(s) marked")


def test_bad_input_is_refused_and_changes_nothing(portfolio):
    api = portfolio.plugin("valuechain")
    with pytest.raises(ValidationError, match="reasons: 'rich' — give one or more of high_value"):
        api.mark_ssc("C1", ["rich"])
    with pytest.raises(NotFound, match="no customer 'NOPE'"):
        api.mark_ssc("NOPE", ["benchmark"])
    with pytest.raises(ValidationError, match="kind: 'investor' is not one of supplier"):
        api.add_network_member("investor", "X", "money")
    with pytest.raises(ValidationError, match="stage: 6 is not a stage"):
        api.complete(6)
    with pytest.raises(ConfigError, match=r"/min_intimacy: 1.5 is greater than the maximum"):
        portfolio.plugins.configure("valuechain", {"min_intimacy": 1.5})
    assert api.sscs() == [] and api.network() == []


def test_data_services(portfolio):
    api = portfolio.plugin("valuechain")
    api.mark_ssc("C1", ["high_value"], note="met the CEO")
    api.mark_ssc("C2", ["door_opener"], group="reference sites", note="opens the NHS market")
    api.add_network_member("employee", "Ana Costa", "account manager", customer="C2")
    exported = portfolio.customers.export_data("C2")["plugins"]["valuechain"]
    assert exported["ssc"]["note"] == "opens the NHS market"
    assert [n["name"] for n in exported["network"]] == ["Ana Costa"]
    kinds = {e.kind for e in portfolio.customers.timeline("C2") if e.source == "valuechain"}
    assert kinds == {"ssc", "network"}
    portfolio.customers.merge("C1", "C2")
    [merged] = api.sscs()
    assert (merged.customer, merged.group, merged.reasons) == ("C1", "key accounts",
                                                               ("high_value", "door_opener"))
    assert merged.note == "met the CEO / opens the NHS market"
    assert [m["customer"] for m in api.network()] == ["C1"]
    portfolio.customers.erase("C1")
    [erased] = api.sscs()
    assert erased.note is None and erased.reasons == ("high_value", "door_opener")
    assert [(m["name"], m["role"]) for m in api.network()] == [("Ana Costa", "(erased)")]


@pytest.mark.parametrize("field, write", [
    ("note", lambda api, text: api.rate("people", 3, note=text)),
    ("group", lambda api, text: api.mark_ssc("C1", ["benchmark"], group=text)),
    ("note", lambda api, text: api.mark_ssc("C1", ["benchmark"], note=text)),
    ("name", lambda api, text: api.add_network_member("partner", text, "supplies")),
    ("role", lambda api, text: api.add_network_member("partner", "Acme", text)),
    ("group", lambda api, text: api.add_network_member("partner", "Acme", "r", group=text)),
    ("proposition", lambda api, text: api.set_proposition("core", text)),
    ("description", lambda api, text: api.add_action("core", "retention", text)),
])
def test_texts_keep_the_core_max_field_length(vcrm, field, write):
    vcrm.customers.add("C1")
    api = vcrm.plugin("valuechain")

    def written():
        with vcrm.read() as conn:
            return [conn.execute(select(table)).all() for table in (ratings, ssc, network,
                                                                     propositions, actions)]

    assert_keeps_max_field_length(vcrm, field, lambda text: write(api, text), written)
