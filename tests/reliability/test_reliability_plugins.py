"""3. Failing plugins: each failure has its documented outcome, names the plugin, loses nothing.

tests/test_plugin_system.py covers raising hooks through the Python API with one
neighbour plugin.  Here every failure goes through the ``crmkit`` CLI with every
existing built-in and the relcheck instrument enabled alongside: the command
prints one ``error:`` line naming the plugin and the hook, the database is
exactly as before (snapshot of every table), and once the faulty plugin is
fixed the other plugins carry on as if nothing happened.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

import crmkit_relfaulty
import rel_db
import rel_support
from rel_support import assert_clean_failure, cli

PLUGINS = rel_support.LOCAL_MODULES


def _configure(url: str, fail: list[str]) -> None:
    code, _, err = cli(url, "plugins", "config", "relfaulty", "--set", f"fail={json.dumps(fail)}")
    assert code == 0, err


def _reacted(url: str) -> int:
    return rel_db.count(url, "SELECT count(*) FROM relcheck_reacts")


RECORD = ["interactions", "record", "C1", "--amount", "25", "--external-id", "N1"]
ADD = ["customers", "add", "C3", "--name", "Grace Hopper"]
COMMANDS = {
    "validate": (RECORD, "crmkit_validate_interactions"),
    "enrich": (RECORD, "crmkit_enrich_interactions"),
    "react": (RECORD, "crmkit_react_interactions"),
    "customers": (ADD, "crmkit_react_customers"),
    "on_events": (ADD, "crmkit_on_events"),
    "sweep": (["sweep"], "crmkit_sweep"),
}


def test_a_hook_raising_under_the_cli_is_one_line_naming_it_and_changes_nothing(seeded_url):
    """validate, enrich, react, react-customers, on_events, sweep: each refused, then fixed."""
    for hook, (args, hook_name) in COMMANDS.items():
        _configure(seeded_url, [hook])
        before = rel_db.snapshot(seeded_url)
        code, _, err = cli(seeded_url, *args)
        assert_clean_failure(code, err, "plugin 'relfaulty'", hook_name,
                             f"RuntimeError: relfaulty broke in {hook}")
        assert rel_db.snapshot(seeded_url) == before, f"{hook}: the failed command changed data"
    # the plugin is fixed: the same commands now work and the other plugins react to them
    _configure(seeded_url, [])
    for args in (RECORD, ADD, ["sweep"]):
        code, _, err = cli(seeded_url, *args)
        assert code == 0, err
    assert _reacted(seeded_url) == 2
    assert rel_db.integrity_problems(seeded_url) == []


def test_a_react_failure_during_a_cli_import_writes_nothing(seeded_url, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"customer": "C2", "occurred_at": f"2024-06-0{d}",
                                        "amount": "10", "external_id": f"F{d}"}) + "\n"
                            for d in range(1, 8)))
    _configure(seeded_url, ["react"])
    before = rel_db.snapshot(seeded_url)
    code, _, err = cli(seeded_url, "import", "interactions", str(path), "--batch-size", "2")
    assert_clean_failure(code, err, "plugin 'relfaulty'", "crmkit_react_interactions")
    assert rel_db.snapshot(seeded_url) == before
    _configure(seeded_url, [])
    code, out, err = cli(seeded_url, "import", "interactions", str(path))
    assert code == 0, err
    assert "created 7" in out
    assert _reacted(seeded_url) == 1 + 7


def test_after_commit_failure_keeps_the_data_and_warns_naming_the_plugin(seeded_url):
    _configure(seeded_url, ["after_commit"])
    crmkit_relfaulty.AFTER_COMMIT_CALLS.clear()
    rel_support.relcheck().AFTER_COMMIT_CALLS.clear()
    code, out, err = cli(seeded_url, "interactions", "record", "C1", "--amount", "25",
                         "--external-id", "N1")
    assert code == 0, err
    assert rel_db.count(seeded_url, "SELECT count(*) FROM interactions WHERE external_id = 'N1'") == 1
    assert _reacted(seeded_url) == 2
    assert crmkit_relfaulty.AFTER_COMMIT_CALLS == [("interactions", 1)], \
        "after-commit hooks did not run for a single recorded interaction"
    assert "relfaulty" in err and "after commit" in err, \
        f"the after-commit failure was not reported: stdout={out!r} stderr={err!r}"
    assert rel_support.relcheck().AFTER_COMMIT_CALLS == ["interactions"], \
        "another plugin's after-commit hook did not run next to the failing one"


def test_after_commit_hooks_run_for_single_writes_through_the_api(crm_url, clock):
    """Every write goes through after-commit, not only record_many/add_many."""
    with rel_support.open_crm(crm_url, clock) as crm:
        crm.plugins.enable("relfaulty")
        crmkit_relfaulty.AFTER_COMMIT_CALLS.clear()
        crm.customers.add("C1")
        crm.interactions.record("C1", clock.now(), amount="5")
        assert crmkit_relfaulty.AFTER_COMMIT_CALLS == [("customers", 1), ("interactions", 1)]


def test_failing_check_config_refuses_enable_and_config_clearly(seeded_url):
    code, _, err = cli(seeded_url, "plugins", "config", "relfaulty", "--set",
                       'fail=["check_config"]')
    assert_clean_failure(code, err, "plugin 'relfaulty'", "crmkit_check_config")
    code, out, _ = cli(seeded_url, "plugins", "config", "relfaulty")
    assert json.loads(out)["fail"] == []


# -- a migration failing half-way ----------------------------------------------------------------


def test_a_migration_failing_half_way_under_the_cli_leaves_everything_as_it_was(seeded_url):
    before = rel_db.snapshot(seeded_url)
    code, _, err = cli(seeded_url, "plugins", "enable", "relbadmig",
                       plugins=PLUGINS + ("crmkit_relbadmig",))
    assert_clean_failure(code, err, "'relbadmig'")
    assert rel_db.snapshot(seeded_url) == before  # no table, no version row, names untouched
    code, _, err = cli(seeded_url, "interactions", "record", "C2", "--amount", "3",
                       plugins=PLUGINS + ("crmkit_relbadmig",))
    assert code == 0, err
    code, out, _ = cli(seeded_url, "plugins", "list", "--format", "json",
                       plugins=PLUGINS + ("crmkit_relbadmig",))
    assert {p["name"]: p["enabled"] for p in json.loads(out)}["relbadmig"] is False


# -- a plugin that fails to import -------------------------------------------------------------


def _fake_distribution(site, name: str, module: str) -> None:
    """Install an entry point ``name = module`` in group crmkit by writing a dist-info folder."""
    info = site / f"crmkit_rel_{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: crmkit-rel-{name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[crmkit]\n{name} = {module}\n")


def _crmkit(url, site, *args, **env):
    """Run the crmkit CLI in a child with ``site`` (fake distributions) on the path."""
    path = f"{site}:{rel_support.child_env()['PYTHONPATH']}"
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from crmkit.cli import main; sys.exit(main())",
         "--db", url, "--plugin", "crmkit_relcheck", "--plugin", "crmkit_relfaulty", *args],
        capture_output=True, text=True, env=rel_support.child_env(PYTHONPATH=path, **env))
    return result.returncode, result.stdout, result.stderr


BROKEN = {"RELIMPORTFAIL": "1"}


def test_an_installed_plugin_that_fails_to_import_is_listed_broken_and_nothing_else_breaks(
        seeded_url, tmp_path):
    site = tmp_path / "site"
    _fake_distribution(site, "relimportfail", "crmkit_relimportfail")
    code, out, err = _crmkit(seeded_url, site, "plugins", "list", "--format", "json", **BROKEN)
    assert code == 0, err
    listed = {p["name"]: p for p in json.loads(out)}
    assert listed["relimportfail"]["status"] == "broken"
    assert "RELIMPORTFAIL is set" in listed["relimportfail"]["description"]
    assert [n for n, p in listed.items() if p["status"] == "broken"] == ["relimportfail"]
    code, _, err = _crmkit(seeded_url, site, "customers", "add", "C7", "--name", "Alan Turing",
                           **BROKEN)
    assert code == 0, err
    code, _, err = _crmkit(seeded_url, site, "plugins", "enable", "relimportfail", **BROKEN)
    assert_clean_failure(code, err, "'relimportfail' is broken", "RELIMPORTFAIL is set")


def test_an_enabled_plugin_that_stops_importing_blocks_writes_clearly_until_disabled(
        seeded_url, tmp_path):
    site = tmp_path / "site"
    _fake_distribution(site, "relimportfail", "crmkit_relimportfail")
    code, _, err = _crmkit(seeded_url, site, "plugins", "enable", "relimportfail")
    assert code == 0, err
    before = rel_db.snapshot(seeded_url)
    code, _, err = _crmkit(seeded_url, site, "interactions", "record", "C1", "--amount", "9",
                           **BROKEN)
    assert_clean_failure(code, err, "'relimportfail' is enabled but broken",
                         "crmkit plugins disable relimportfail")
    assert rel_db.snapshot(seeded_url) == before
    code, out, err = _crmkit(seeded_url, site, "customers", "list", "--format", "json", **BROKEN)
    assert code == 0, err
    assert {c["external_id"] for c in json.loads(out)} == {"C1", "C2"}
    code, _, err = _crmkit(seeded_url, site, "plugins", "disable", "relimportfail", **BROKEN)
    assert code == 0, err
    code, _, err = _crmkit(seeded_url, site, "interactions", "record", "C1", "--amount", "9",
                           **BROKEN)
    assert code == 0, err
    assert _reacted(seeded_url) == 2


# -- a slow hook -------------------------------------------------------------------------------


def test_a_slow_react_hook_delays_writers_but_not_readers_and_loses_nothing(seeded_url, clock):
    """While a gated react hook holds a write transaction: reads answer, a second writer waits, both commit."""
    crm_url = seeded_url
    with rel_support.open_crm(crm_url, clock, create=False) as crm:
        crm.plugins.configure("relfaulty", {"gate": True})
    crmkit_relfaulty.GATE.clear()
    crmkit_relfaulty.ENTERED.clear()
    outcome = {}

    def write(name, external_id):
        try:
            with rel_support.open_crm(crm_url, clock, create=False) as crm:
                crm.interactions.record("C1", clock.now(), amount="7", external_id=external_id)
            outcome[name] = "ok"
        except Exception as exc:  # reported through the assertion below
            outcome[name] = f"{type(exc).__name__}: {exc}"

    slow = threading.Thread(target=write, args=("slow", "S1"))
    slow.start()
    try:
        assert crmkit_relfaulty.ENTERED.wait(60), "the slow hook never ran"
        crmkit_relfaulty.ENTERED.clear()
        with rel_support.open_crm(crm_url, clock, create=False) as crm:
            assert crm.customers.get("C1").name == "Ada Lovelace"  # a reader is not blocked
            assert [i.external_id for i in crm.interactions.list(customer="C1")] == ["P0"]
        second = threading.Thread(target=write, args=("second", "S2"))
        second.start()
        second.join(timeout=1.0)
        assert "second" not in outcome, f"second writer did not wait: {outcome}"
    finally:
        crmkit_relfaulty.GATE.set()
    slow.join(60)
    second.join(60)
    assert outcome == {"slow": "ok", "second": "ok"}
    assert rel_db.count(crm_url, "SELECT count(*) FROM relcheck_reacts") == 3
    assert rel_db.integrity_problems(crm_url) == []


@pytest.mark.sqlite_only  # the busy timeout is SQLite's; PostgreSQL writers queue on row locks
def test_a_hook_slower_than_the_sqlite_busy_timeout_gives_other_writers_a_clear_error(
        crm_url, clock, monkeypatch):
    import crmkit.db
    from crmkit.errors import DatabaseError

    with rel_support.open_crm(crm_url, clock) as crm:
        crm.customers.add("C1", "Ada")
        crm.plugins.enable("relfaulty", {"gate": True})
        crm.plugins.enable("relcheck")
    crmkit_relfaulty.GATE.clear()
    crmkit_relfaulty.ENTERED.clear()
    done = {}

    def slow_write():
        with rel_support.open_crm(crm_url, clock, create=False) as crm:
            crm.interactions.record("C1", clock.now(), amount="7", external_id="S1")
        done["slow"] = True

    slow = threading.Thread(target=slow_write)
    slow.start()
    try:
        assert crmkit_relfaulty.ENTERED.wait(60)
        monkeypatch.setattr(crmkit.db, "SQLITE_BUSY_TIMEOUT_S", 0.2)
        with rel_support.open_crm(crm_url, clock, create=False) as crm:
            with pytest.raises(DatabaseError, match="locked by another writer.*try again"):
                crm.interactions.record("C1", clock.now(), amount="8", external_id="S2")
    finally:
        crmkit_relfaulty.GATE.set()
        slow.join(60)
    assert done == {"slow": True}
    assert rel_db.count(crm_url, "SELECT count(*) FROM interactions") == 1
    assert rel_db.integrity_problems(crm_url) == []
