"""6. Upgrades: an old database upgrades with its data intact, pending work is shown, no silent downgrade.

The "previous release" database is built from the migrations' base (``CRM.open(create=True)``
runs the core's revisions, ``plugins enable`` each plugin's) with every
existing built-in, relcheck and relfaulty enabled and data in them, plus the
relupgrade plugin at its release 1.  The admin then installs relupgrade's
release 2 (a revision adding a column filled from existing rows).
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from sqlalchemy import text

import crmkit_relupgrade
import rel_db
import rel_support
from rel_support import assert_clean_failure, cli

PLUGINS = rel_support.LOCAL_MODULES + ("crmkit_relupgrade",)
NOTES = [(1, "C1", "prefers email"), (2, "C2", "VIP, call before noon"), (3, "C1", "")]
CHANGED = {"relupgrade_notes", "alembic_version_relupgrade", "audit_log"}
"""Tables the upgrade itself may change; every other table must be byte-for-byte the same."""


@pytest.fixture
def previous_release(seeded_url, clock, monkeypatch):
    """The seeded database with relupgrade release 1 enabled and notes stored, then release 2 installed."""
    monkeypatch.setattr(crmkit_relupgrade, "RELEASE", "release1")
    with rel_support.open_crm(seeded_url, clock, create=False, relupgrade=crmkit_relupgrade) as crm:
        crm.plugins.enable("relupgrade")
        crm.interactions.record("C2", clock.now(), amount="12.50", external_id="P1")
        with crm.transaction() as tx:
            ids = {c: crm.customers.get(c).id for c in ("C1", "C2")}
            for note_id, customer, body in NOTES:
                tx.conn.execute(text("INSERT INTO relupgrade_notes (id, customer_id, body) "
                                     "VALUES (:i, :c, :b)"), {"i": note_id, "c": ids[customer],
                                                              "b": body})
    monkeypatch.setattr(crmkit_relupgrade, "RELEASE", "release2")
    return seeded_url


def _status(url, tmp_path) -> dict[str, str]:
    """``crmkit db status`` in a child where relupgrade is installed through an entry point.

    (In-process ``--plugin crmkit_relupgrade`` is not used here: ``db status``
    ignores ``--plugin``; see test_db_status_reports_a_local_plugins_pending_migrations.)
    """
    site = tmp_path / "site"
    if not site.exists():
        info = site / "crmkit_rel_relupgrade-2.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crmkit-rel-relupgrade\n"
                                       "Version: 2.0\n")
        (info / "entry_points.txt").write_text("[crmkit]\nrelupgrade = crmkit_relupgrade\n")
    env = rel_support.child_env(RELUPGRADE_RELEASE=crmkit_relupgrade.RELEASE)
    env["PYTHONPATH"] = f"{site}{os.pathsep}{env['PYTHONPATH']}"
    result = subprocess.run([rel_support.crmkit_script(), "--db", url, "--plugin",
                             "crmkit_relcheck", "--plugin", "crmkit_relfaulty", "db", "status",
                             "--format", "json"], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return {row["branch"]: row["pending"] for row in json.loads(result.stdout)}


def test_an_old_database_is_refused_until_upgraded_then_upgrades_with_data_intact(
        previous_release, tmp_path):
    url = previous_release
    before = rel_db.snapshot(url)
    code, _, err = cli(url, "interactions", "record", "C1", "--amount", "1", plugins=PLUGINS)
    assert_clean_failure(code, err, "needs schema migrations: relupgrade (1)",
                         "run `crmkit db upgrade`")
    assert rel_db.snapshot(url) == before

    status = _status(url, tmp_path)
    assert status.pop("relupgrade") == "relupgrade_0002"
    assert set(status) >= {"core", *rel_support.existing_builtins()}
    assert set(status.values()) == {"none"}, status

    code, out, err = cli(url, "db", "upgrade", plugins=PLUGINS)
    assert code == 0 and "schema up to date" in out, err
    after = rel_db.snapshot(url)
    assert {t: r for t, r in after.items() if t not in CHANGED} == {
        t: r for t, r in before.items() if t not in CHANGED}
    rows = rel_db.count(url, "SELECT count(*) FROM relupgrade_notes")
    assert rows == 3
    eng = rel_db.engine(url)
    try:
        with eng.connect() as conn:
            got = conn.execute(text("SELECT id, body, body_length FROM relupgrade_notes "
                                    "ORDER BY id")).all()
    finally:
        eng.dispose()
    assert [tuple(r) for r in got] == [(1, "prefers email", 13), (2, "VIP, call before noon", 21),
                                       (3, "", 0)]
    assert set(_status(url, tmp_path).values()) == {"none"}
    code, _, err = cli(url, "interactions", "record", "C1", "--amount", "1", plugins=PLUGINS)
    assert code == 0, err
    assert rel_db.integrity_problems(url) == []


def test_a_failing_upgrade_changes_nothing(previous_release, monkeypatch, tmp_path):
    url = previous_release
    monkeypatch.setattr(crmkit_relupgrade, "RELEASE", "release2bad")
    before = rel_db.snapshot(url)
    code, _, err = cli(url, "db", "upgrade", plugins=PLUGINS)
    assert code != 0 and "Traceback" not in err and "no_such_table_xyz" in err, err
    assert rel_db.snapshot(url) == before  # the added column and the clobbered names are gone
    assert _status(url, tmp_path)["relupgrade"] == "relupgrade_0002"
    monkeypatch.setattr(crmkit_relupgrade, "RELEASE", "release2")  # the fixed release
    code, _, err = cli(url, "db", "upgrade", plugins=PLUGINS)
    assert code == 0, err
    assert rel_db.count(url, "SELECT count(*) FROM relupgrade_notes WHERE body_length IS NULL") == 0


def test_a_failing_upgrade_names_the_plugin_in_one_clear_line(previous_release, monkeypatch):
    monkeypatch.setattr(crmkit_relupgrade, "RELEASE", "release2bad")
    code, _, err = cli(previous_release, "db", "upgrade", plugins=PLUGINS)
    assert_clean_failure(code, err, "plugin 'relupgrade'")


def test_going_back_to_an_older_release_is_refused_clearly_and_changes_nothing(
        previous_release, monkeypatch):
    """No downgrade command exists: an older plugin or crmkit refuses a newer database."""
    url = previous_release
    code, _, err = cli(url, "db", "upgrade", plugins=PLUGINS)
    assert code == 0, err
    monkeypatch.setattr(crmkit_relupgrade, "RELEASE", "release1")  # the admin reinstalls release 1
    before = rel_db.snapshot(url)
    for args in (["interactions", "record", "C1", "--amount", "1"], ["customers", "list"]):
        code, _, err = cli(url, *args, plugins=PLUGINS)
        assert_clean_failure(code, err, "relupgrade_0002", "'relupgrade'",
                             "written by a newer version")
    assert rel_db.snapshot(url) == before
    # a core revision this crmkit does not know (a newer crmkit wrote the database)
    eng = rel_db.engine(url)
    try:
        with eng.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'core_9999_future'"))
    finally:
        eng.dispose()
    monkeypatch.setattr(crmkit_relupgrade, "RELEASE", "release2")
    before = rel_db.snapshot(url)
    for args in (["customers", "list"], ["db", "upgrade"]):
        code, _, err = cli(url, *args, plugins=PLUGINS)
        assert_clean_failure(code, err, "core_9999_future", "newer crmkit")
    assert rel_db.snapshot(url) == before


def test_db_status_reports_a_local_plugins_pending_migrations(previous_release):
    code, out, err = cli(previous_release, "db", "status", "--format", "json", plugins=PLUGINS)
    assert code == 0, err
    assert {r["branch"]: r["pending"] for r in json.loads(out)}.get("relupgrade") == \
        "relupgrade_0002"
