"""5. Privacy: after ``erase`` no table holds the person's identifiers; exports hold only the person.

The database is a small demo CRM (the core's sample customers and
interactions, then every enabled plugin's ``crmkit_demo``) with every existing
built-in and relcheck enabled.  Two people then get personal text into as
many places as the public APIs allow: a complaint and a survey quoting their
name, email and phone, a purchase whose external id holds the email, a social handle, a service case and a task naming
them, a loyalty adjustment whose reason names them, a referral.  The scan
reads every text and JSON column of every table with a plain engine (never
through crmkit), so it finds what the erasure code forgot as well.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest

import rel_db
import rel_support
from rel_support import cli

TARGETS = ("C00003", "C00007")
DEMO_NOW = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
"""The clock of the privacy tests: the day after the demo's history ends."""


def _demo(url: str, clock) -> dict[str, str]:
    """A 40-customer demo CRM with every plugin's demo data (each crmkit_demo must work)."""
    from crmkit import demo as sample

    rng = random.Random(12)
    assert DEMO_NOW > sample.DEMO_END
    clock.set(DEMO_NOW)  # the demo's history is in the past
    broken = {}
    with rel_support.open_crm(url, clock) as crm:
        failures = rel_support.enable_everything(crm)
        assert failures == {}, f"built-in plugins that could not be enabled: {failures}"
        for handle, name, team in sample.STAFF:
            crm.staff.add(handle, name, team, f"{handle}@crmkit.example")
        rows = sample.customers(rng, 40)
        crm.customers.add_many(rows)
        people = [r["external_id"] for r in rows if r.get("type") != "organisation"]
        crm.interactions.record_many(sample.interactions(crm, rng, people, 8.0))
        for name in crm.enabled_plugins():
            try:
                crm.hooks.call_one(name, "crmkit_demo", None, crm=crm, rng=rng)
            except Exception as exc:  # collected so that every failing plugin is named
                broken[name] = f"{type(exc).__name__}: {exc}"
    assert broken == {}, f"crmkit_demo failed, so the privacy scan would miss their data: {broken}"
    return broken


def _personalise(url: str, clock) -> dict[str, list[str]]:
    """Put each target's identifiers into every public place; return the identifiers per target."""
    identifiers = {}
    with rel_support.open_crm(url, clock, create=False) as crm:
        enabled = set(crm.enabled_plugins())
        for n, ext in enumerate(TARGETS):
            person = crm.customers.get(ext)
            handle = f"erasable_{n}_{person.name.split()[0].lower()}"
            ids = [person.name, person.email, person.phone]
            crm.interactions.record(ext, clock.now(), kind="complaint", external_id=f"X-{ext}-1",
                                    payload={"text": f"This is {person.name}: write to "
                                                     f"{person.email} or call {person.phone}",
                                             "priority": "high"})
            crm.interactions.record(ext, clock.now(), kind="survey", external_id=f"X-{ext}-2",
                                    payload={"nps": 3, "comment": f"{person.name} here, unhappy"})
            # an order id made of the email: erasure must replace it, not refuse
            crm.interactions.record(ext, clock.now(), amount="35.00",
                                    external_id=f"web-{person.email}-1",
                                    payload={"order_id": f"{person.email}/1"})
            if "social" in enabled:
                social = crm.plugin("social")
                social.link_handle(ext, "twitter", handle)
                ids.append(handle)
                code = social.referral_code(ext)
                referee = crm.customers.add(f"REF-{n}", f"Referee {n}").external_id
                social.redeem_referral(code, referee)
            if "operational" in enabled:
                ops = crm.plugin("operational")
                ops.open_case(person.id, f"{person.name} ({person.email}) cannot log in")
                ops.create_task(person.id, f"Call {person.name} back on {person.phone}", None,
                                clock.now() + dt.timedelta(days=1))
            if "loyalty" in enabled:
                crm.plugin("loyalty").adjust(ext, 25, f"goodwill for {person.name}")
            identifiers[ext] = [i for i in ids if i]
    return identifiers


def _hits(url: str, needles: list[str]) -> list[tuple[str, str, str]]:
    """``(table, column, needle)`` for every text/JSON cell holding one of ``needles``."""
    lowered = [n.lower() for n in needles]
    found = []
    for table, column, _, value in rel_db.text_cells(url):
        cell = value.lower()
        found += [(table, column, n) for n in lowered if n in cell]
    return found


@pytest.fixture
def personal_crm(crm_url, clock, request, _templates):
    """A fresh copy of the personalised demo CRM (built once per backend) and the identifiers."""
    found = {}

    def build(url):
        _demo(url, clock)
        found.update(_personalise(url, clock))

    url = rel_support.copy_of_template("privacy", build, crm_url, request, _templates)
    if found:
        IDENTIFIERS.update(found)
    clock.set(DEMO_NOW)
    return url, dict(IDENTIFIERS)


IDENTIFIERS: dict[str, list[str]] = {}
"""The targets' identifiers, recorded when the template is built (the same on both backends)."""


def test_after_erase_no_text_or_json_column_of_any_table_holds_the_persons_identifiers(
        personal_crm, clock):
    url, identifiers = personal_crm
    target, other = TARGETS
    before = _hits(url, identifiers[target])
    held_in = {t for t, _, _ in before}
    # the scan can fail: the identifiers are spread over the core and plugin tables
    assert {"customers", "interactions"} <= held_in
    assert len(held_in - {"customers", "interactions", "events", "audit_log"}) >= 1, held_in
    other_before = _hits(url, identifiers[other])

    code, out, err = cli(url, "customers", "erase", target, "--yes")
    assert code == 0, err
    assert _hits(url, identifiers[target]) == []
    assert sorted(_hits(url, identifiers[other])) == sorted(other_before), \
        "erasing one person touched another person's data"

    # the audit log records the erase, without the erased data
    audit = rel_db.count(url, "SELECT count(*) FROM audit_log a JOIN customers c "
                              "ON c.id = a.customer_id WHERE a.action = 'erase' "
                              "AND c.external_id = :e", {"e": target})
    assert audit == 1
    assert rel_db.count(url, "SELECT count(*) FROM privacy_requests WHERE kind = 'erase'") == 1
    assert rel_db.integrity_problems(url) == []
    # amounts and dates are kept: the person's purchases still add up
    assert rel_db.count(url, "SELECT count(*) FROM interactions i JOIN customers c ON "
                             "c.id = i.customer_id WHERE c.external_id = :e", {"e": target}) > 2


def _export_leaks(url: str, ext: str) -> list[str]:
    """Other customers' email, phone, unique name or external id found in ``ext``'s export."""
    eng = rel_db.engine(url)
    try:
        with eng.connect() as conn:
            people = conn.exec_driver_sql("SELECT external_id, name, email, phone FROM customers "
                                          "WHERE type = 'person' ORDER BY external_id").all()
    finally:
        eng.dispose()
    names = [p[1] for p in people]
    code, out, err = cli(url, "customers", "export-data", ext)
    assert code == 0, err
    document = json.dumps(json.loads(out), ensure_ascii=False).lower()
    assert f'"{ext.lower()}"' in document
    leaks = []
    for other_ext, name, email, phone in people:
        if other_ext == ext:
            continue
        leaks += [f"{other_ext}: {v}" for v in (email, phone) if v and v.lower() in document]
        if names.count(name) == 1 and f'"{name.lower()}"' in document:
            leaks.append(f"{other_ext}: {name}")
        if f'"{other_ext.lower()}"' in document:
            leaks.append(f"{other_ext}: its external id")
    return leaks


@pytest.mark.parametrize("ext", [*TARGETS, "C00020"])
def test_an_export_holds_no_other_customers_data(personal_crm, ext):
    url, _ = personal_crm
    assert _export_leaks(url, ext) == []


def test_a_referees_export_does_not_name_the_referrer(personal_crm):
    url, _ = personal_crm
    if "social" not in rel_support.existing_builtins():
        pytest.fail("the social plugin does not exist in this tree")
    assert _export_leaks(url, "REF-0") == []
