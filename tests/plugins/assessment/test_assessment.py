"""assessment: known answers give hand-computed scores and band; gaps map to modules; history."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import types

import pytest
from sqlalchemy import select

import crmkit
from crmkit import hookimpl

from crmkit.errors import ConfigError, NotFound, ValidationError
from crmkit_assessment.tables import runs

UTC = dt.timezone.utc

ANSWERS = {
    "indicators": {"information_asset": 4, "clv_assessed": 3, "expectations_met": 2,
                   "strategy_matched_to_value": 5, "integration": 3, "experience_managed": 1},
    "capabilities": {"strategic_information_use": 2, "every_contact": 2,
                     "information_in_operations": 3, "channel_management": 4,
                     "technology_for_opportunities": 1, "enterprise_wide": 3},
    "questions": {"sales_see_history": True, "profit_per_customer": False,
                  "information_for_sales_marketing": True, "campaigns_in_forecasts": False,
                  "loyal_rewarded": False, "campaign_return_measured": False,
                  "information_shared": True, "preferred_channel_known": True,
                  "customer_centred_culture": False, "segmented_several_ways": True,
                  "management_backing": False},
}
# indicators: sum 18 -> mean 3.0, (18 - 6) / 24 = 50.0 %
# capabilities: sum 15 -> mean 2.5, (15 - 6) / 24 = 37.5 %
# questions: 5 yes of 11 -> 45.45 %
# overall: (50 + 37.5 + 45.4545) / 3 = 44.318 -> 44.3: average (40 <= 44.3 < 70)
GAPS = [("indicators", "expectations_met", 2, "process", "operational"),
        ("indicators", "experience_managed", 1, "process", "analytical"),
        ("capabilities", "strategic_information_use", 2, "strategy", "analytical"),
        ("capabilities", "every_contact", 2, "process", "collaborative"),
        ("capabilities", "technology_for_opportunities", 1, "technology", "operational"),
        ("questions", "profit_per_customer", False, "technology", "catalogue"),
        ("questions", "campaigns_in_forecasts", False, "process", "campaigns"),
        ("questions", "loyal_rewarded", False, "process", "loyalty"),
        ("questions", "campaign_return_measured", False, "technology", "campaigns"),
        ("questions", "customer_centred_culture", False, "mindset", None),
        ("questions", "management_backing", False, "strategy", None)]
# Gains of raising an item to the top answer, in overall points: a rating r of the six
# indicators or capabilities (5 - r) * 100 / 24 / 3 (1 -> 5.556, 2 -> 4.167), a "no"
# 100 / 11 / 3 = 3.030.  From 44.318 to the leading cut-off 70 (25.682 short): the two 1s
# (+11.111 -> 55.429), the three 2s (+12.5 -> 67.929), then the first "no" in questionnaire
# order, profit_per_customer (+3.030 -> 70.959).
RAISE_TO_LEADING = [("experience_managed", 5.56), ("technology_for_opportunities", 5.56),
                    ("expectations_met", 4.17), ("strategic_information_use", 4.17),
                    ("every_contact", 4.17), ("profit_per_customer", 3.03)]


@pytest.fixture
def acrm(crm):
    crm.plugins.enable("assessment")
    crm.customers.add_many([
        {"external_id": "A", "email": "a@x.example", "preferred_channel": "email"},
        {"external_id": "B", "preferred_channel": "sms"},
        {"external_id": "C", "preferred_channel": "phone"},
        {"external_id": "D", "phone": "+44 20 7946 0000"},
    ])
    return crm


def test_known_answers_give_the_hand_computed_scores_and_band(acrm):
    report = acrm.plugin("assessment").assess(copy.deepcopy(ANSWERS))
    assert report["scores"] == {
        "indicators": {"mean": 3.0, "percent": 50.0},
        "capabilities": {"mean": 2.5, "percent": 37.5},
        "questions": {"yes": 5, "of": 11, "percent": 45.5},
        "overall": 44.3, "band": "average",
    }
    assert [(g["part"], g["item"], g["answer"], g["gap_class"], g["module"])
            for g in report["gaps"]] == GAPS
    assert report["gaps_by_class"] == {"technology": 3, "mindset": 1, "process": 5,
                                       "strategy": 2}
    assert [g["module_enabled"] for g in report["gaps"] if g["module"] is None] == [False, False]
    evidence = report["band_evidence"]
    assert (evidence["band"], evidence["sales_return_percent"]) == ("average", 13)
    following = evidence["next"]
    assert (following["band"], following["sales_return_percent"],
            following["overall_at_least"], following["points_short"]) == ("leading", 33, 70, 25.7)
    assert [(r["item"], r["gain"]) for r in following["raise"]] == RAISE_TO_LEADING
    assert report["change"] is None


@pytest.mark.parametrize("rating, yes, band, sales_return, raised", [
    # all 1s and no: 0 points; each 1 raised to 5 adds 5.556, so 8 of them reach 40 (44.4):
    # the six indicators, then the first two capabilities
    (1, False, "lagging", -1, ["information_asset", "clv_assessed", "expectations_met",
                               "strategy_matched_to_value", "integration",
                               "experience_managed", "strategic_information_use",
                               "every_contact"]),
    (5, True, "leading", 33, None),  # 100 points: nothing higher to reach
])
def test_the_band_says_what_return_it_resembles_and_what_the_next_requires(
        acrm, rating, yes, band, sales_return, raised):
    answers = {part: {key: (yes if part == "questions" else rating) for key in values}
               for part, values in ANSWERS.items()}
    evidence = acrm.plugin("assessment").assess(answers, save=False)["band_evidence"]
    assert (evidence["band"], evidence["sales_return_percent"]) == (band, sales_return)
    if raised is None:
        assert evidence["next"] is None
    else:
        assert evidence["next"]["overall_at_least"] == 40
        assert [r["item"] for r in evidence["next"]["raise"]] == raised


def stand_in_loyalty(active: bool) -> types.ModuleType:
    """The loyalty API contract's ``is_enabled_program`` (the loyalty plugin has its own tests)."""
    module = types.ModuleType("stand_in_loyalty")
    module.PLUGIN = crmkit.PluginInfo(name="loyalty", description="stand-in loyalty API")
    module.crmkit_plugin_api = hookimpl(
        lambda crm: types.SimpleNamespace(is_enabled_program=lambda: active))
    return module


def test_the_loyalty_gap_says_whether_loyalty_is_enabled(crm_url, clock):
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"loyalty": stand_in_loyalty(True)}) as crm:
        crm.plugins.enable("assessment")
        api = crm.plugin("assessment")
        [gap] = [g for g in api.assess(copy.deepcopy(ANSWERS))["gaps"]
                 if g["item"] == "loyal_rewarded"]
        assert gap["wording"] == "Are loyal customers rewarded?"
        assert (gap["module"], gap["module_enabled"], gap["module_installed"]) == (
            "loyalty", False, True)
        crm.plugins.enable("loyalty")
        [gap] = [g for g in api.report()["gaps"] if g["item"] == "loyal_rewarded"]
        assert gap["module_enabled"] is True
        fresh = api.assess(copy.deepcopy(ANSWERS))
        [row] = [r for r in fresh["answers"]["questions"] if r["item"] == "loyal_rewarded"]
        assert row["evidence"] == "loyalty programme active"
        assert row["evidence_agrees"] is False             # answered no, but a programme runs


def test_with_the_real_loyalty_plugin(acrm):
    acrm.plugins.enable("loyalty")
    report = acrm.plugin("assessment").assess(copy.deepcopy(ANSWERS))
    [gap] = [g for g in report["gaps"] if g["item"] == "loyal_rewarded"]
    assert (gap["module"], gap["module_enabled"]) == ("loyalty", True)
    [row] = [r for r in report["answers"]["questions"] if r["item"] == "loyal_rewarded"]
    expected = acrm.plugin("loyalty").is_enabled_program()
    assert row["evidence_agrees"] is (not expected)


def test_cutoffs_and_gap_rating_are_configurable(acrm):
    api = acrm.plugin("assessment")
    acrm.plugins.configure("assessment", {"cutoffs": {"average": 45, "leading": 70}})
    assert api.assess(copy.deepcopy(ANSWERS), save=False)["scores"]["band"] == "lagging"
    acrm.plugins.configure("assessment", {"cutoffs": {"average": 20, "leading": 44}})
    assert api.assess(copy.deepcopy(ANSWERS), save=False)["scores"]["band"] == "leading"
    acrm.plugins.configure("assessment", {"gap_max_rating": 1})
    gaps = api.assess(copy.deepcopy(ANSWERS), save=False)["gaps"]
    assert [g["item"] for g in gaps if g["part"] != "questions"] == [
        "experience_managed", "technology_for_opportunities"]
    acrm.plugins.configure("assessment", {"gap_modules": {"loyal_rewarded": "vendorloyalty"}})
    [gap] = [g for g in api.assess(copy.deepcopy(ANSWERS), save=False)["gaps"]
             if g["item"] == "loyal_rewarded"]
    assert (gap["module"], gap["module_enabled"], gap["module_installed"]) == (
        "vendorloyalty", False, False)
    assert api.history() == []                             # save=False stores nothing


def test_evidence_beside_the_answers(acrm):
    api = acrm.plugin("assessment")
    report = api.assess(copy.deepcopy(ANSWERS))
    rows = {r["item"]: r for part in report["answers"].values() for r in part}
    assert rows["preferred_channel_known"]["evidence"] == \
        "preferred channel recorded for 75% of 4 customers"
    assert rows["preferred_channel_known"]["evidence_agrees"] is False   # yes, but 75% < 80%
    assert rows["clv_assessed"]["evidence"] == "analytical plugin not enabled: no CLV computed"
    assert rows["information_asset"]["evidence"] == "50% of customers have an email or phone"
    assert rows["integration"]["evidence"] is None
    acrm.plugins.configure("assessment", {"preferred_channel_min_share": 0.7})
    again = api.assess(copy.deepcopy(ANSWERS), save=False)
    [row] = [r for r in again["answers"]["questions"] if r["item"] == "preferred_channel_known"]
    assert row["evidence_agrees"] is True


def test_history_and_change_since_the_last(acrm, clock):
    api = acrm.plugin("assessment")
    first = api.assess(copy.deepcopy(ANSWERS))
    clock.advance(days=90)
    better = copy.deepcopy(ANSWERS)
    better["questions"]["loyal_rewarded"] = True            # 6 yes: 54.5 %
    better["indicators"]["experience_managed"] = 5          # sum 22: (22 - 6) / 24 = 66.7 %
    second = api.assess(better, note="after the loyalty launch")
    # overall (66.667 + 37.5 + 54.545) / 3 = 52.9
    assert second["scores"]["overall"] == 52.9
    assert second["change"] == {"since": first["taken_at"], "previous_id": first["id"],
                                "indicators": 16.7, "capabilities": 0.0, "questions": 9.0,
                                "overall": 8.6, "band": "average"}
    history = api.history()
    assert [(h["id"], h["overall"], h["change"]) for h in history] == [
        (first["id"], 44.3, None), (second["id"], 52.9, 8.6)]
    assert api.report(first["id"])["scores"]["overall"] == 44.3
    assert api.report()["note"] == "after the loyalty launch"
    with pytest.raises(NotFound, match="no assessment 99"):
        api.report(99)


@pytest.mark.parametrize("change, message", [
    (lambda a: a["indicators"].update(clv_assessed=7),
     r"/indicators/clv_assessed: 7 is greater than the maximum of 5"),
    (lambda a: a["questions"].pop("loyal_rewarded"),
     r"/questions: 'loyal_rewarded' is a required property"),
    (lambda a: a["questions"].update(loyalty=True), r"/questions/loyalty: unknown key"),
    (lambda a: a["capabilities"].update(every_contact="high"),
     r"/capabilities/every_contact: 'high' is not of type 'integer'"),
])
def test_bad_answers_are_refused_by_pointer_and_nothing_is_stored(acrm, change, message):
    answers = copy.deepcopy(ANSWERS)
    change(answers)
    with pytest.raises(ValidationError, match=message):
        acrm.plugin("assessment").assess(answers)
    assert acrm.plugin("assessment").history() == []


def test_config_checks(acrm):
    with pytest.raises(ConfigError, match=r"/cutoffs/leading: must be above cutoffs/average \(80\)"):
        acrm.plugins.configure("assessment", {"cutoffs": {"average": 80, "leading": 70}})
    with pytest.raises(ConfigError, match=r"/gap_modules/happiness: not a questionnaire item"):
        acrm.plugins.configure("assessment", {"gap_modules": {"happiness": "loyalty"}})


def test_cli_answers_file_interactive_report_history(acrm, run_cli, tmp_path):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(ANSWERS))
    code, out, _ = run_cli("assessment", "run", "--answers", str(path), "--as-of", "2025-01-01",
                           "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert (report["scores"]["overall"], report["scores"]["band"]) == (44.3, "average")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**ANSWERS, "indicators": {**ANSWERS["indicators"], "integration": 0}}))
    code, _, err = run_cli("assessment", "run", "--answers", str(bad))
    assert code == 1
    assert err.strip() == (f"error: answers {bad}: /indicators/integration: 0 is less than the "
                           "minimum of 1 (allowed: minimum 1)")
    replies = ["4", "3", "2", "5", "3", "1", "2", "2", "3", "4", "1", "3",
               "y", "n", "y", "n", "y", "n", "y", "y", "n", "y", "n"]   # loyal customers: yes
    code, out, _ = run_cli("assessment", "run", "--as-of", "2025-04-01", "--format", "json",
                           input="\n".join(replies) + "\n")
    assert code == 0
    interactive = json.loads(out[out.index("{"):])
    assert interactive["scores"]["questions"]["yes"] == 6
    assert interactive["change"]["overall"] == 3.0          # questions +9.09 / 3
    code, out, _ = run_cli("assessment", "history", "--format", "csv")
    assert out.splitlines() == [
        "id,taken_at,indicators,capabilities,questions,overall,band,change",
        "1,2025-01-01T00:00:00+00:00,50.0,37.5,45.5,44.3,average,",
        "2,2025-04-01T00:00:00+00:00,50.0,37.5,54.5,47.3,average,3.0"]
    code, out, _ = run_cli("assessment", "report", "1")
    assert code == 0
    assert re.search(r"^questions\s+loyal_rewarded\s+no\s+process\s+loyalty\s+no$", out, re.M)
    assert re.search(r"^questions\s+customer_centred_culture\s+no\s+mindset\s+no$", out, re.M)
    assert "gaps: 3 technology, 1 mindset, 5 process, 2 strategy" in out
    assert ("average firms report a sales return of about 13% from CRM\n  next band leading "
            "(about 33%) needs an overall of 70: 25.7 points short; raise experience_managed, "
            "technology_for_opportunities, expectations_met, strategic_information_use, "
            "every_contact, profit_per_customer\n") in out
    # the customers were added at noon, after the as-of (midnight): none is counted
    assert re.search(r"^questions\s+preferred_channel_known\s+yes\s+no customers recorded\s+no$",
                     out, re.M)


def test_evidence_from_the_real_analytical_and_idic_plugins(acrm):
    acrm.plugins.enable("analytical")
    acrm.plugins.enable("idic")
    analytical = acrm.plugin("analytical")
    analytical.save_segment("emailable", {"field": "preferred_channel", "op": "eq", "value": "email"})
    report = acrm.plugin("assessment").assess(copy.deepcopy(ANSWERS))
    rows = {r["item"]: r for part in report["answers"].values() for r in part}
    assert rows["clv_assessed"]["evidence"] == (
        "CLV never computed; it cannot be computed now: CLV fit needs customers with purchases "
        "up to 2025-01-01T12:00:00+00:00; there are none")
    assert rows["segmented_several_ways"]["evidence"] == "1 saved segments: emailable"
    assert rows["segmented_several_ways"]["evidence_agrees"] is False     # yes, but only one
    assert rows["strategy_matched_to_value"]["evidence"] == \
        "customers never differentiated by value"
    assert rows["campaign_return_measured"]["evidence"] == "0 treatments with a holdout group"
    assert rows["campaign_return_measured"]["evidence_agrees"] is True    # answered no
    analytical.save_segment("texters", {"field": "preferred_channel", "op": "eq", "value": "sms"})
    again = acrm.plugin("assessment").assess(copy.deepcopy(ANSWERS), save=False)
    [row] = [r for r in again["answers"]["questions"] if r["item"] == "segmented_several_ways"]
    assert row["evidence_agrees"] is True


def test_evidence_says_why_clv_is_missing_and_the_assessment_goes_on(acrm):
    """One purchase each (no repeat buyers): no CLV fit, so no CLV run; idic differentiates
    without predicted CLV; the evidence names the reason and every item is still assessed."""
    acrm.plugins.enable("analytical")
    acrm.plugins.enable("idic")
    acrm.interactions.record_many([{"customer": c, "amount": "30",
                                    "occurred_at": acrm.clock.now() - dt.timedelta(days=d)}
                                   for c, d in (("A", 3), ("B", 4), ("C", 5))])
    reason = "BG/NBD fit needs repeat purchases; none of the 3 customers has bought on more than one day"
    acrm.plugin("idic").differentiate()
    report = acrm.plugin("assessment").assess(copy.deepcopy(ANSWERS))
    rows = {r["item"]: r for part in report["answers"].values() for r in part}
    assert rows["clv_assessed"]["evidence"] == f"CLV never computed; it cannot be computed now: {reason}"
    assert rows["profit_per_customer"]["evidence"] == (
        "customers last differentiated by value on 2025-01-01 (current value and cost to serve "
        f"per customer; no predicted CLV: {reason})")
    assert rows["strategy_matched_to_value"]["evidence"] == \
        "customers last differentiated by value on 2025-01-01"
    assert report["scores"]["overall"] is not None


def stand_in_analytical(clock) -> types.ModuleType:
    """The analytical API contract's ``last_clv_run`` (a run 100 days before the clock's now,
    whatever the as-of asked for) and ``segment_names``."""
    module = types.ModuleType("stand_in_analytical_for_assessment")
    module.PLUGIN = crmkit.PluginInfo(name="analytical", description="stand-in analytical API")
    module.crmkit_plugin_api = hookimpl(lambda crm: types.SimpleNamespace(
        last_clv_run=lambda as_of=None: clock.now() - dt.timedelta(days=100),
        segment_names=lambda as_of=None: ["champions", "at risk"]))
    return module


def test_clv_age_and_segment_count_thresholds_are_configurable(crm_url, clock):
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"analytical": stand_in_analytical(clock)}) as crm:
        crm.plugins.enable("analytical")
        crm.plugins.enable("assessment")
        api = crm.plugin("assessment")

        def evidence():
            report = api.assess(copy.deepcopy(ANSWERS), save=False)
            return {r["item"]: r for part in report["answers"].values() for r in part}

        rows = evidence()
        assert rows["clv_assessed"]["evidence"] == "CLV last computed 2024-09-23 (100 days ago)"
        assert rows["clv_assessed"]["evidence_agrees"] is None          # rated 3: neutral
        assert rows["segmented_several_ways"]["evidence_agrees"] is True  # 2 >= min_segments 2
        crm.plugins.configure("assessment", {"clv_max_age_days": 120, "min_segments": 3})
        stored = api.assess(copy.deepcopy(ANSWERS))
        found = {r["item"]: r for part in stored["answers"].values() for r in part}
        assert found["segmented_several_ways"]["evidence_agrees"] is False
        crm.plugins.configure("assessment", {"clv_max_age_days": 90})
        api.assess(copy.deepcopy(ANSWERS))
        # the stored evidence keeps whether the data supports a positive answer
        with crm.read() as conn:
            kept = [r[0]["clv_assessed"]["supports"] for r in conn.execute(
                select(runs.c.evidence).order_by(runs.c.id))]
        assert kept == [True, False]                       # 100 days <= 120, then > 90


def positive_evidence(api, as_of: dt.datetime) -> dict[str, tuple[str | None, bool | None]]:
    """Item key -> (evidence, evidence_agrees) for answers positive everywhere (every rating
    4, every question yes), so that evidence_agrees is whether the evidence supports them."""
    answers = {part: {key: (True if part == "questions" else 4) for key in values}
               for part, values in ANSWERS.items()}
    report = api.assess(answers, as_of, save=False)
    return {r["item"]: (r["evidence"], r["evidence_agrees"])
            for part in report["answers"].values() for r in part}


def test_a_clv_run_after_the_as_of_never_supports(crm_url, clock):
    """An analytical API that answers a run later than the as-of (a negative age) is not
    taken as CLV assessed then."""
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"analytical": stand_in_analytical(clock)}) as crm:
        crm.plugins.enable("analytical")
        crm.plugins.enable("assessment")
        found = positive_evidence(crm.plugin("assessment"), clock.now() - dt.timedelta(days=200))
        assert found["clv_assessed"] == ("CLV last computed 2024-09-23 (after the as-of)", False)


def test_evidence_counts_only_what_existed_at_the_as_of(acrm, clock):
    """Customers, their fields, CLV runs, segments, differentiation runs and treatments made
    after the as-of are not evidence then; what changed since is a range, and what is kept
    only as it is now (the loyalty plugin's state) supports nothing for an earlier date."""
    start = clock.now()
    acrm.plugins.enable("analytical")
    acrm.plugins.enable("idic")
    acrm.plugins.configure("analytical", {"clv": {"penalizer_coef": 0.01}})
    acrm.interactions.record_many([
        {"customer": c, "amount": str(20 + 5 * i + d % 7),
         "occurred_at": start - dt.timedelta(days=d + i)}
        for i, c in enumerate("ABCD") for d in (5, 40, 90)])
    analytical, idic = acrm.plugin("analytical"), acrm.plugin("idic")
    analytical.save_segment("emailable", {"field": "preferred_channel", "op": "eq",
                                          "value": "email"})
    clock.advance(days=30)                                 # 2025-01-31
    idic.differentiate()                                   # stores a CLV run too
    idic.add_treatment("T", "maintain", "offer", "x", holdout_share=0.5)
    analytical.save_segment("texters", {"field": "preferred_channel", "op": "eq", "value": "sms"})
    acrm.customers.update("D", preferred_channel="email")
    acrm.customers.erase("C")
    acrm.customers.add("E", preferred_channel="sms")
    clock.advance(days=30)                                 # 2025-03-02
    api = acrm.plugin("assessment")
    then = positive_evidence(api, start + dt.timedelta(days=1))
    # A and B have a channel; C (erased since) and D (changed since) may or may not have had
    # one: 50 % to 100 %, on both sides of the 80 % threshold
    assert then["preferred_channel_known"] == (
        "preferred channel recorded for 50% to 100% of 4 customers (2 changed since: their "
        "values then are not kept)", None)
    assert then["information_asset"][0].startswith(
        "25% to 75% of customers have an email or phone (2 changed since: their values then "
        "are not kept); ")
    assert then["clv_assessed"] == ("CLV never computed", False)
    assert then["segmented_several_ways"] == ("1 saved segments: emailable", False)
    assert then["strategy_matched_to_value"] == ("customers never differentiated by value",
                                                 False)
    assert then["campaign_return_measured"] == ("0 treatments with a holdout group", False)
    assert then["loyal_rewarded"] == (
        "loyalty plugin not enabled (as it is now; not kept for earlier dates)", None)
    now = positive_evidence(api, clock.now())
    assert now["preferred_channel_known"] == (
        "preferred channel recorded for 100% of 4 customers", True)
    assert now["clv_assessed"] == ("CLV last computed 2025-01-31 (30 days ago)", True)
    assert now["segmented_several_ways"] == ("2 saved segments: emailable, texters", True)
    assert now["strategy_matched_to_value"] == (
        "customers last differentiated by value on 2025-01-31", True)
    assert now["campaign_return_measured"] == ("1 treatments with a holdout group", True)
    assert now["loyal_rewarded"] == ("loyalty plugin not enabled", False)
