"""idic — identify: candidate duplicates with scores and reasons, dismissals, identification rate."""

from __future__ import annotations

import datetime as dt
import types

import pytest
from sqlalchemy import update

import crmkit
from crmkit import hookimpl
from crmkit.errors import ConfigError, NotFound, PluginError

from idic_support import add_people, stand_in_module

UTC = dt.timezone.utc
T = dt.datetime(2024, 12, 1, tzinfo=UTC)


def pairs(crm, **kw):
    return {(p.first, p.second): p for p in crm.plugin("idic").find_duplicates(**kw).pairs}


def test_duplicates_found_with_reasons_and_surname_sharers_not_paired(icrm):
    add_people(icrm, [
        ("A", "Jo Smith", "JO@x.com", None, None),
        ("B", "Joanne Smith", "jo@x.com", None, None),
        ("C", "Priya Sharma", None, "+44 20 7946 0018", None),
        ("D", "Priya Sharma", None, "020 7946 0018 (GB)", None),
        ("E", "John Smith", "john@a.example", "+44 20 7946 0100", None),
        ("F", "Jane Smith", "jane@b.example", "+44 20 7946 0200", None),
        ("G", "Alan Smith", "alan@c.example", None, None),
    ])
    found = pairs(icrm)
    assert set(found) == {("A", "B"), ("C", "D")}
    ab = found[("A", "B")]
    assert ab.reasons == ("same email jo@x.com",
                          "similar names 'Jo Smith' ~ 'Joanne Smith' (first name prefix)")
    assert ab.score == pytest.approx(1 - 0.1 * 0.4)        # email 0.9 and name 0.6
    cd = found[("C", "D")]
    assert cd.reasons[0] == "same phone +442079460018"
    assert cd.score == pytest.approx(1 - 0.15 * 0.4)       # phone 0.85 and name 0.6


def test_name_only_matches_need_compatible_first_names_and_no_conflicts(icrm):
    add_people(icrm, [
        ("N1", "Bob Jones", None, None, None),
        ("N2", "Robert Jones", None, None, None),          # nickname, nothing conflicting
        ("N3", "Mary Jones", "mary@x.example", None, None),
        ("N4", "Mark Jones", "mark@y.example", None, None),  # same initial, different person
        ("N5", "Ada Lovelace", "ada1@x.example", None, None),
        ("N6", "Ada Lovelace", "ada2@y.example", None, None),  # namesakes with different emails
    ])
    found = pairs(icrm)
    assert set(found) == {("N1", "N2")}
    assert found[("N1", "N2")].score == pytest.approx(0.6)
    assert "nickname" in found[("N1", "N2")].reasons[0]
    # the namesakes score 0.6 x 0.5 (one conflict): listed only with a lower threshold
    low = pairs(icrm, min_score=0.3)
    assert low[("N5", "N6")].reasons == ("different emails",
                                         "similar names 'Ada Lovelace' ~ 'Ada Lovelace' (same first name)")
    assert ("N3", "N4") not in low


def test_shared_family_email_is_penalised_by_the_name_conflict(icrm):
    add_people(icrm, [("S1", "John Smith", "smiths@home.example", None, None),
                      ("S2", "Jane Smith", "smiths@home.example", None, None)])
    assert pairs(icrm) == {}                              # 0.9 x 0.5 = 0.45 < 0.5
    icrm.plugins.configure("idic", {"conflict_penalty": 0.0})
    [pair] = pairs(icrm).values()
    assert pair.score == pytest.approx(0.9)
    assert pair.reasons == ("same email smiths@home.example",
                            "different first names (john / jane)")


def test_min_score_default_changes_the_listing(icrm):
    add_people(icrm, [("N1", "Bob Jones", None, None, None),
                      ("N2", "Robert Jones", None, None, None)])
    assert len(pairs(icrm)) == 1
    icrm.plugins.configure("idic", {"min_score": 0.7})
    assert pairs(icrm) == {}


def test_min_score_is_compared_with_the_exact_score_and_only_the_shown_score_is_rounded(icrm):
    """Email 0.4999 and name 0.6 score 1 - 0.5001 x 0.4 = 0.79996: below min_score 0.8 (it was
    rounded to 0.8 first and listed), shown as 0.8.  Email 0.1 and name 0.6 score exactly
    1 - 0.9 x 0.4 = 0.64, which meets min_score 0.64 (in binary floats it is 0.63999…)."""
    add_people(icrm, [("A", "Jo Smith", "jo@x.com", None, None),
                      ("B", "Joanne Smith", "jo@x.com", None, None)])
    icrm.plugins.configure("idic", {"weights": {"email": 0.4999, "name": 0.6}, "min_score": 0.8})
    assert pairs(icrm) == {}
    [pair] = pairs(icrm, min_score=0.79996).values()
    assert pair.score == 0.8
    icrm.plugins.configure("idic", {"weights": {"email": 0.1, "name": 0.6}, "min_score": 0.64})
    [pair] = pairs(icrm).values()
    assert pair.score == 0.64


def test_default_region_reads_national_numbers(icrm):
    add_people(icrm, [("P1", "Wei Zhang", None, "+44 20 7946 0018", None),
                      ("P2", "Wei Zhang", None, None, None)])
    with icrm.transaction() as tx:  # a national number stored before the core kept E.164
        tx.conn.execute(update(crmkit.tables.customers).where(
            crmkit.tables.customers.c.external_id == "P2").values(phone="020 7946 0018"))
    [pair] = pairs(icrm).values()
    assert pair.reasons[0] == "same phone +442079460018"
    assert pair.score == pytest.approx(1 - 0.15 * 0.4)
    icrm.plugins.configure("idic", {"default_region": "US"})
    [pair] = pairs(icrm).values()                         # 020… is no US number: name only
    assert pair.score == pytest.approx(0.6)
    assert not any("phone" in reason for reason in pair.reasons)


def test_oversized_blocks_are_skipped_and_reported(icrm):
    add_people(icrm, [(f"X{i}", None, "shared@x.example", None, None) for i in range(3)])
    assert len(pairs(icrm)) == 3
    icrm.plugins.configure("idic", {"max_block_size": 2})
    result = icrm.plugin("idic").find_duplicates()
    assert result.pairs == [] and result.skipped_blocks == [("email:shared@x.example", 3)]


def test_dismissed_pairs_are_no_longer_listed(icrm):
    add_people(icrm, [("A", "Jo Smith", "jo@x.com", None, None),
                      ("B", "Joanne Smith", "jo@x.com", None, None)])
    api = icrm.plugin("idic")
    api.dismiss("B", "A")
    assert pairs(icrm) == {}
    api.dismiss("A", "B")                                  # idempotent
    with pytest.raises(NotFound, match="no customer 'Z'"):
        api.dismiss("A", "Z")


def test_social_handles_are_a_signal_when_social_is_enabled(open_crm):
    handles = [(1, "twitter", "jsmith"), (2, "instagram", "jsmith")]
    social = types.ModuleType("stand_in_social")
    social.PLUGIN = crmkit.PluginInfo(name="social", description="stand-in social API")
    social.crmkit_plugin_api = hookimpl(
        lambda crm: types.SimpleNamespace(handles=lambda customer_id=None: handles))
    crm = crmkit.CRM.open(open_crm().url, clock=crmkit.FixedClock(T), create=True,
                          extra_plugins={"analytical": stand_in_module(), "social": social})
    try:
        crm.plugins.enable("analytical")
        crm.plugins.enable("idic")
        add_people(crm, [("H1", "Kim Park", None, None, None), ("H2", "Kim Lee", None, None, None)])
        assert pairs(crm) == {}
        crm.plugins.enable("social")
        [pair] = pairs(crm).values()
        assert (pair.first, pair.second) == ("H1", "H2")
        assert pair.reasons == ("same social handle @jsmith",)    # surnames differ: no name signal
        assert pair.score == pytest.approx(0.7)
    finally:
        crm.close()


def test_idic_requires_analytical(crm):
    with pytest.raises(PluginError, match="requires analytical"):
        crm.plugins.enable("idic")


def test_identification_rate(icrm, clock):
    add_people(icrm, [("K1", "Known One", "k1@x.example", None, None),
                      ("K2", "Known Two", None, "+44 20 7946 0001", None),
                      ("U1", "Walk In", None, None, None)])
    icrm.interactions.record_many(
        [{"customer": "K1", "occurred_at": T, "amount": "10"}] * 1
        + [{"customer": "K2", "occurred_at": T + dt.timedelta(hours=h), "kind": "visit"}
           for h in range(2)]
        + [{"customer": "U1", "occurred_at": T + dt.timedelta(hours=h), "kind": "visit"}
           for h in range(5)])
    rate = icrm.plugin("idic").identification_rate()
    assert (rate.interactions, rate.identified, rate.rate) == (8, 3, 0.375)
    since = icrm.plugin("idic").identification_rate(since=T + dt.timedelta(minutes=30))
    assert (since.interactions, since.identified) == (5, 1)   # K2 at +1h, U1 at +1h..+4h
    icrm.plugins.configure("idic", {"identity_fields": ["name"]})
    assert icrm.plugin("idic").identification_rate().rate == 1.0


def test_bad_config_is_refused_by_pointer_and_nothing_changes(icrm):
    with pytest.raises(ConfigError, match=r"/default_region: 'gb' does not match"):
        icrm.plugins.configure("idic", {"default_region": "gb"})
    with pytest.raises(ConfigError, match=r"/weights/email: 2 is greater than the maximum"):
        icrm.plugins.configure("idic", {"weights": {"email": 2}})
    assert icrm.plugins.config("idic")["default_region"] == "GB"


def test_first_name_rules_are_configurable(icrm):
    add_people(icrm, [("F1", "Jo Brown", None, None, None),
                      ("F2", "Joanne Brown", None, None, None),
                      ("F3", "Peg Green", None, None, None),
                      ("F4", "Pegasus Green", None, None, None),
                      ("F5", "Dot Black", None, None, None),
                      ("F6", "Dorothy Black", None, None, None),
                      ("F7", "Jon White", None, None, None),
                      ("F8", "John White", None, None, None)])
    # prefix: Jo/Joanne, Peg/Pegasus; ratio(jon, john) = 85.7 >= 85; dot/dorothy: no rule
    assert set(pairs(icrm)) == {("F1", "F2"), ("F3", "F4"), ("F7", "F8")}
    icrm.plugins.configure("idic", {"min_prefix": 3, "first_name_similarity": 90,
                                    "nicknames": {"dot": "dorothy"}})
    assert set(pairs(icrm)) == {("F3", "F4"), ("F5", "F6")}


def test_handles_from_the_real_social_plugin(icrm):
    icrm.plugins.enable("social")
    add_people(icrm, [("H1", "Kim Park", None, None, None), ("H2", "Kim Lee", None, None, None),
                      ("H3", "Walk In", None, None, None)])
    social = icrm.plugin("social")
    social.link_handle("H1", "twitter", "@KimP")
    social.link_handle("H2", "instagram", "kimp")
    [pair] = pairs(icrm).values()
    assert (pair.first, pair.second, pair.reasons) == ("H1", "H2", ("same social handle @kimp",))
    icrm.interactions.record_many([{"customer": c, "occurred_at": T, "kind": "visit"}
                                   for c in ("H1", "H2", "H3")])
    rate = icrm.plugin("idic").identification_rate()
    assert (rate.interactions, rate.identified) == (3, 2)   # handles identify H1 and H2
    assert icrm.plugin("idic").report()["progress"]["steps"]["identified"] == 2
