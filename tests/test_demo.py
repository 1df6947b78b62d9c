"""``crmkit demo``: every installed plugin enabled and shown; a rerun prints the stored report."""

from __future__ import annotations

import json

import crmkit_testvendor
from crmkit import hookimpl
from crmkit.errors import CRMError

VENDOR = ("crmkit_testvendor",)


def _sections(out: str) -> list[str]:
    return [line[3:].strip() for line in out.splitlines() if line.startswith("== ")]


def test_demo_enables_and_shows_every_plugin_and_reruns_from_the_stored_report(run_cli):
    code, out, err = run_cli("demo", "--customers", "200", plugins=VENDOR)
    assert code == 0, err
    listed = json.loads(run_cli("plugins", "list", "--format", "json", plugins=VENDOR)[1])
    working = sorted(p["name"] for p in listed if p["status"] != "broken")
    assert all(p["enabled"] for p in listed if p["status"] != "broken")
    assert sorted(_sections(out)) == working and "testvendor" in working
    assert _sections(out)[-1] == "assessment"  # its evidence reads what the others did
    assert "customers: 200 created" in out
    # the messages wait for an SMTP server: the demo says how to name one
    assert "crmkit plugins config campaigns --set email.host=HOST" in out
    customers = run_cli("customers", "list", "--format", "json", "--limit", "1000",
                        plugins=VENDOR)[1]
    again_code, again, _ = run_cli("demo", "--customers", "200", plugins=VENDOR)
    assert again_code == 0 and _sections(again) == _sections(out)
    assert run_cli("customers", "list", "--format", "json", "--limit", "1000",
                   plugins=VENDOR)[1] == customers


def test_a_plugin_whose_demo_refuses_is_reported_and_the_others_still_run(run_cli, monkeypatch):
    @hookimpl
    def crmkit_demo(crm, rng):
        raise CRMError("not enough sample data for the vendor's model")

    monkeypatch.setattr(crmkit_testvendor, "crmkit_demo", crmkit_demo)
    code, out, err = run_cli("demo", "--customers", "60", "--interactions-per-customer", "3",
                             plugins=VENDOR)
    assert code == 0, err
    assert "== testvendor\n  not shown: not enough sample data for the vendor's model" in out
    assert "== operational" in out
