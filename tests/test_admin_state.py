"""Admin state that can be trusted: schema status, plugin state, the database a command opens."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sqlalchemy import text

from crmkit import db
from crmkit.config import set_path


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def test_db_status_shows_each_branchs_own_current_and_head_revision(run_cli):
    run_cli("init")
    assert run_cli("plugins", "enable", "loyalty")[0] == 0
    code, out, err = run_cli("db", "status", "--format", "json")
    assert code == 0, err
    rows = {r["branch"]: r for r in json.loads(out)}
    assert set(rows) == {"core", "loyalty"}
    core = rows["core"]
    assert core["current"] == core["head"] and core["current"].startswith("core_")
    loyalty = rows["loyalty"]
    assert loyalty["current"].startswith("loyalty_") and loyalty["current"] == loyalty["head"]
    assert loyalty["pending"] == "none"


def test_a_mistyped_sqlite_path_is_refused_and_no_file_is_created(tmp_path, run_cli):
    typo = tmp_path / "crm-typo.db"
    for args in (["customers", "list"], ["plugins", "enable", "loyalty"], ["db", "upgrade"]):
        code, out, err = run_cli("--db", f"sqlite:///{typo}", *args)
        assert code != 0 and err == f"error: no crmkit database at {typo}; run `crmkit init` " \
                                    "first (or check --db)\n"
    code, out, _ = run_cli("--db", f"sqlite:///{typo}", "db", "status")
    assert code == 0 and "crmkit init" in out
    assert not typo.exists()


def test_init_in_a_directory_that_does_not_exist_says_so(tmp_path, run_cli):
    missing = tmp_path / "data" / "crm.db"
    for args in (["init"], ["demo", "--customers", "50"]):
        code, _, err = run_cli("--db", f"sqlite:///{missing}", *args)
        assert code != 0 and err == (f"error: cannot create the database {missing}: "
                                     f"{missing.parent} is not an existing directory (create it "
                                     "first, or check --db)\n")
    assert not missing.parent.exists()


def test_a_file_that_is_not_a_database_is_one_clear_line(tmp_path, run_cli):
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n" * 200)
    for args in (["init"], ["customers", "list"], ["demo", "--customers", "50"]):
        code, _, err = run_cli("--db", f"sqlite:///{notes}", *args)
        assert code != 0
        assert err == f"error: sqlite:///{notes} is not a SQLite database file (check --db)\n"
    assert notes.read_text() == "shopping list\n" * 200


def test_init_refuses_a_non_empty_database_that_is_not_crmkits(crm_url, run_cli):
    engine = db.create(crm_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)"))
        conn.execute(text("INSERT INTO invoices VALUES (1, 100)"))
    try:
        code, _, err = run_cli("init")
        assert code != 0 and err.count("\n") == 1
        assert "is not empty and is not a crmkit database (it has 1 other table: invoices)" in err
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                if conn.dialect.name == "sqlite"
                else "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        assert tables == ["invoices"]
    finally:
        engine.dispose()


def test_init_on_an_empty_or_crmkit_database_still_works(crm_url, run_cli):
    assert run_cli("init")[0] == 0
    assert run_cli("init")[0] == 0
    path = _sqlite_path(crm_url)
    if path is not None:
        assert sqlite3.connect(path).execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'customers'").fetchone() == (1,)


VENDOR = ("crmkit_testvendor",)


def _vendor_schema(monkeypatch, **properties) -> None:
    """Give the test vendor plugin a new release's configuration schema."""
    import crmkit_testvendor
    from crmkit import hookimpl

    schema = crmkit_testvendor.crmkit_config_schema()
    schema["properties"].update(properties)
    monkeypatch.setattr(crmkit_testvendor, "crmkit_config_schema", hookimpl(lambda: schema))


def test_disable_then_enable_keeps_the_configuration(run_cli):
    run_cli("init")
    assert run_cli("plugins", "enable", "loyalty") == (0, "enabled loyalty\n", "")
    run_cli("plugins", "config", "loyalty", "--set", "points_per_unit=3", "--set", "lock_days=14")
    assert run_cli("plugins", "disable", "loyalty")[0] == 0
    code, out, err = run_cli("plugins", "enable", "loyalty")
    assert code == 0, err
    assert out == ("enabled loyalty with its kept configuration (`crmkit plugins config loyalty` "
                   "shows it; `--config FILE` replaces it)\n")
    config = json.loads(run_cli("plugins", "config", "loyalty")[1])
    assert (config["points_per_unit"], config["lock_days"]) == (3, 14)


def test_a_kept_configuration_is_revalidated_against_the_current_schema(run_cli, monkeypatch):
    run_cli("init")
    run_cli("plugins", "enable", "testvendor", plugins=VENDOR)
    run_cli("plugins", "config", "testvendor", "--set", "big_purchase_amount=5", plugins=VENDOR)
    run_cli("plugins", "disable", "testvendor", plugins=VENDOR)
    _vendor_schema(monkeypatch, big_purchase_amount={"type": "number", "minimum": 10})
    code, _, err = run_cli("plugins", "enable", "testvendor", plugins=VENDOR)
    assert code != 0 and err == (
        "error: plugin 'testvendor' kept configuration (replace it with --config FILE): "
        "/big_purchase_amount: 5 is less than the minimum of 10 (allowed: minimum 10)\n")
    listed = json.loads(run_cli("plugins", "list", "--format", "json", plugins=VENDOR)[1])
    assert {p["name"]: p["enabled"] for p in listed}["testvendor"] is False
    monkeypatch.undo()
    _vendor_schema(monkeypatch, region={"type": "string", "default": "EU"})
    assert run_cli("plugins", "enable", "testvendor", plugins=VENDOR)[0] == 0
    config = json.loads(run_cli("plugins", "config", "testvendor", plugins=VENDOR)[1])
    assert (config["big_purchase_amount"], config["region"]) == (5, "EU")


def test_an_enabled_plugin_upgraded_in_place_reads_the_defaults_of_keys_it_added(
        run_cli, monkeypatch):
    run_cli("init")
    run_cli("plugins", "enable", "testvendor", plugins=VENDOR)
    run_cli("plugins", "config", "testvendor", "--set", "big_purchase_amount=5", plugins=VENDOR)
    _vendor_schema(monkeypatch, region={"type": "string", "default": "EU"})  # the new release
    config = json.loads(run_cli("plugins", "config", "testvendor", plugins=VENDOR)[1])
    assert (config["big_purchase_amount"], config["region"]) == (5, "EU")


def test_a_release_that_refuses_the_stored_configuration_blocks_writes_until_it_is_fixed(
        run_cli, monkeypatch):
    """A new release changing a key's type: writes are refused naming the key and the fix
    (its hooks would run on a configuration it does not accept), reads keep working, and
    ``plugins list`` shows the plugin as "config refused" with the same error."""
    run_cli("init")
    run_cli("plugins", "enable", "testvendor", plugins=VENDOR)
    run_cli("plugins", "config", "testvendor", "--set", "big_purchase_amount=5", plugins=VENDOR)
    _vendor_schema(monkeypatch, big_purchase_amount={"type": "string", "default": "high"})
    code, out, err = run_cli("db", "upgrade", plugins=VENDOR)
    assert (code, out) == (0, "schema up to date\n")
    assert err.startswith("warning: plugin 'testvendor'") and "/big_purchase_amount" in err
    code, out, err = run_cli("customers", "add", "C1", plugins=VENDOR)
    assert code != 0 and out == ""
    assert "plugin 'testvendor'" in err and "does not accept the configuration stored" in err
    assert "/big_purchase_amount: 5 is not of type 'string'" in err
    assert "`crmkit plugins config testvendor --set KEY=VALUE`" in err
    refused = err.removeprefix("error: ").strip()
    code, out, err = run_cli("customers", "list", "--format", "json", plugins=VENDOR)
    assert (code, json.loads(out)) == (0, [])
    listed = {row["name"]: row for row in json.loads(
        run_cli("plugins", "list", "--format", "json", plugins=VENDOR)[1])}
    assert listed["testvendor"]["status"] == "config refused"
    assert listed["testvendor"]["enabled"] is True
    assert listed["testvendor"]["description"] == refused
    assert run_cli("plugins", "config", "testvendor", "--set", "big_purchase_amount=low",
                   plugins=VENDOR)[0] == 0
    code, out, err = run_cli("customers", "add", "C1", plugins=VENDOR)
    assert code == 0, err
    assert run_cli("db", "upgrade", plugins=VENDOR)[2] == ""
    listed = {row["name"]: row for row in json.loads(
        run_cli("plugins", "list", "--format", "json", plugins=VENDOR)[1])}
    assert listed["testvendor"]["status"] == "enabled"


def test_demo_refuses_a_database_that_holds_customers_unless_forced(run_cli):
    run_cli("init")
    run_cli("customers", "add", "C1", "--name", "Ada Lovelace")
    code, out, err = run_cli("demo", "--customers", "50")
    assert code != 0 and out == ""
    assert err == ("error: the database already holds 1 customer; the demo builds a "
                   "sample CRM in a new database: give a new one (--db sqlite:///demo.db) or add "
                   "--force to write the sample data into this one\n")
    listed = json.loads(run_cli("plugins", "list", "--format", "json")[1])
    assert not any(p["enabled"] for p in listed)
    assert len(json.loads(run_cli("customers", "list", "--format", "json")[1])) == 1
    code, out, err = run_cli("demo", "--customers", "50", "--interactions-per-customer", "1",
                             "--force")
    assert code == 0, err
    assert "customers: 50 created" in out
    listed = json.loads(run_cli("customers", "list", "--format", "json", "--limit", "1000")[1])
    assert {"C1", "C00001"} <= {c["external_id"] for c in listed}


def test_plugins_list_works_without_a_database_and_creates_none(crm_url, run_cli):
    code, out, err = run_cli("plugins", "list", "--format", "json")
    assert code == 0, err
    assert err == ("note: no crmkit database at the --db URL: enabled or not is unknown "
                   "(`crmkit init` creates one)\n")
    rows = {r["name"]: r for r in json.loads(out)}
    assert {"loyalty", "analytical", "idic"} <= set(rows)
    assert rows["idic"] == {**rows["idic"], "enabled": None, "status": "installed",
                            "requires": "analytical"}
    path = _sqlite_path(crm_url)
    assert path is None or not path.exists()


def test_plugins_schema_works_without_a_database_and_creates_none(crm_url, run_cli):
    code, out, err = run_cli("plugins", "schema", "loyalty")
    assert code == 0, err
    schema = json.loads(out)
    assert schema["properties"]["lock_days"]["type"] == "integer"
    path = _sqlite_path(crm_url)
    assert path is None or not path.exists()
    run_cli("init")
    assert json.loads(run_cli("plugins", "schema", "loyalty")[1]) == schema


def test_plugins_list_shows_a_plugin_that_is_enabled_but_not_installed(run_cli):
    run_cli("init")
    assert run_cli("plugins", "enable", "testvendor", plugins=VENDOR)[0] == 0
    code, out, err = run_cli("plugins", "list", "--format", "json")  # without --plugin
    assert code == 0 and err == ""
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["testvendor"] == {
        "name": "testvendor", "version": "local", "enabled": True, "requires": "",
        "status": "not installed",
        "description": "enabled but not installed: install it or "
                       "`crmkit plugins disable testvendor`"}
    assert rows["loyalty"]["status"] == "disabled" and rows["loyalty"]["enabled"] is False
    assert run_cli("plugins", "disable", "testvendor")[0] == 0
    rows = {r["name"]: r for r in json.loads(run_cli("plugins", "list", "--format", "json")[1])}
    assert (rows["testvendor"]["enabled"], rows["testvendor"]["status"]) == (False, "not installed")


ACTOR_REFUSED = ("error: --actor 'mallory': {problem}; act as an active staff member (`crmkit "
                 "staff list`), as system, or allow any name with `crmkit config --set "
                 "allow_free_actors=true`\n")


def test_actor_must_be_an_active_staff_member_unless_free_actors_are_allowed(crm_url, run_cli):
    from sqlalchemy import update

    from crmkit import CRM, tables

    run_cli("init")
    code, _, err = run_cli("--actor", "mallory", "customers", "add", "C1", "--name", "Ada")
    assert code != 0 and err == ACTOR_REFUSED.format(problem="not a staff handle")
    assert run_cli("--actor", "mallory", "customers", "list")[0] != 0
    assert json.loads(run_cli("customers", "list", "--format", "json")[1]) == []
    assert run_cli("staff", "add", "ana", "--name", "Ana Costa", "--team", "sales")[0] == 0
    assert run_cli("--actor", "ana", "customers", "add", "C1", "--name", "Ada")[0] == 0
    run_cli("staff", "add", "mallory", "--name", "Mal Lory", "--team", "sales")
    with CRM.open(crm_url) as crm, crm.transaction() as tx:
        tx.conn.execute(update(tables.staff).where(tables.staff.c.handle == "mallory")
                        .values(active=False))
    code, _, err = run_cli("--actor", "mallory", "customers", "add", "C2", "--name", "Bob")
    assert code != 0 and err == ACTOR_REFUSED.format(problem="an inactive staff member")
    assert run_cli("config", "--set", "allow_free_actors=true")[0] == 0
    assert run_cli("--actor", "mallory", "customers", "add", "C2", "--name", "Bob")[0] == 0
    assert run_cli("--actor", "visitor", "customers", "add", "C3", "--name", "Cy")[0] == 0
    audit = json.loads(run_cli("audit", "--format", "json")[1])
    assert {(a["actor"], a["record_key"]) for a in audit if a["table_name"] == "customers"} == {
        ("ana", "C1"), ("mallory", "C2"), ("visitor", "C3")}


def test_config_set_reads_each_value_by_the_schema_type_at_its_key(run_cli):
    run_cli("init")
    run_cli("plugins", "enable", "loyalty")
    code, out, err = run_cli("plugins", "config", "loyalty", "--set", "cost_per_point=0.02",
                             "--set", "tiers.0.threshold=5", "--set", "tiers.3.name=platinum",
                             "--set", "tiers.3.threshold=20000", "--set", "lock_days=14")
    assert code == 0, err
    config = json.loads(out)
    assert config["cost_per_point"] == "0.02" and config["lock_days"] == 14
    assert [(t["name"], t["threshold"]) for t in config["tiers"]] == [
        ("bronze", 5), ("silver", 1000), ("gold", 5000), ("platinum", 20000)]
    assert json.loads(run_cli("plugins", "config", "loyalty")[1]) == config


def test_config_set_null_puts_a_text_or_null_key_back_to_null(run_cli):
    run_cli("init")
    run_cli("plugins", "enable", "campaigns")
    for assignment, username in [("email.username=mailer", "mailer"),
                                 ("email.username=null", None),
                                 ('email.username="null"', "null"),
                                 ('email.username="quoted', '"quoted')]:
        code, out, err = run_cli("plugins", "config", "campaigns", "--set", assignment)
        assert code == 0, err
        assert json.loads(out)["email"]["username"] == username
    for key, value in [("phone_region", "GB"), ("public_url", "https://crm.example.com")]:
        assert run_cli("config", "--set", f"{key}={value}")[0] == 0
        code, out, err = run_cli("config", "--set", f"{key}=null")
        assert code == 0, err
        assert json.loads(out)[key] is None
    text_only = {"type": "object", "properties": {"note": {"type": "string"}}}
    assert set_path({}, "note", "null", text_only) == {"note": "null"}


def test_config_set_errors_name_the_pointer_without_python_reprs(run_cli):
    run_cli("init")
    run_cli("plugins", "enable", "loyalty")
    before = run_cli("plugins", "config", "loyalty")[1]
    for assignment, problem in [
        ("tiers.9.name=x", "--set tiers.9.name: /tiers is an array of 3 items: 9 is not an index "
                           "(allowed: 0 to 3, 3 appends)"),
        ("tiers.first.threshold=5", "--set tiers.first.threshold: /tiers is an array of 3 items: "
                                    "first is not an index (allowed: 0 to 3, 3 appends)"),
        ("points_per_unit=abc", "--set points_per_unit: /points_per_unit: abc is not a number"),
        ("points_per_unit.x=1", "--set points_per_unit.x: /points_per_unit is a number: it has "
                                "no key x"),
    ]:
        code, out, err = run_cli("plugins", "config", "loyalty", "--set", assignment)
        assert (code, out, err) == (1, "", f"error: plugin 'loyalty' config: {problem}\n")
    code, _, err = run_cli("config", "--set", "max_field_length=lots")
    assert err == "error: core config: --set max_field_length: /max_field_length: lots is not " \
                  "an integer\n"
    assert run_cli("plugins", "config", "loyalty")[1] == before
