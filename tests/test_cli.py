"""The command line: one-line errors, formats, lazy start-up, plugin commands."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def test_help_does_not_import_heavy_modules():
    code = ("import sys; from crmkit.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('sqlalchemy', 'alembic', 'jsonschema') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    assert "plugins" in out.stdout and "demo" in out.stdout


def test_plugins_list_on_a_sqlite_file_imports_no_sqlalchemy_and_lists_as_the_api(tmp_path):
    from crmkit import CRM

    url = f"sqlite:///{tmp_path / 'crm.db'}"
    with CRM.open(url, create=True) as crm:
        crm.plugins.enable("analytical")
        crm.plugins.list()  # what a listing knows of each installed release is cached
        crm.plugins.configure("analytical", {"rfm": {"bins": 4}})  # so is this verdict
    code = ("import json, sys; from crmkit.cli import main\n"
            f"main(['--db', {url!r}, 'plugins', 'list', '--format', 'json'])\n"
            "print('HEAVY', [m for m in ('sqlalchemy', 'alembic') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    text, _, heavy = out.rpartition("HEAVY ")
    assert heavy.strip() == "[]"  # nor validates the configuration again
    with CRM.open(url) as crm:
        listed = [[p.name, p.version, p.enabled, ",".join(p.requires), p.status,
                   p.error or p.description] for p in crm.plugins.list()]
    assert [list(row.values()) for row in json.loads(text)] == listed
    assert {"analytical": "enabled", "loyalty": "disabled"}.items() <= {
        row["name"]: row["status"] for row in json.loads(text)}.items()


def test_init_customers_and_interactions(run_cli):
    assert run_cli("customers", "list")[0] != 0  # no schema yet
    code, out, err = run_cli("customers", "list")
    assert "crmkit init" in err and err.count("\n") == 1
    assert run_cli("init")[0] == 0
    assert run_cli("customers", "add", "C1", "--name", "Ada", "--email", "ada@example.com",
                   "--tag", "vip", "--attr", "level=3")[0] == 0
    code, out, err = run_cli("customers", "list", "--format", "json")
    assert code == 0
    [row] = json.loads(out)
    assert row["external_id"] == "C1" and row["tags"] == ["vip"]
    assert run_cli("interactions", "record", "C1", "--amount", "12.50", "--at", "2024-05-01",
                   "--external-id", "o1")[0] == 0
    code, out, _ = run_cli("interactions", "list", "--format", "csv")
    assert out.splitlines()[0].startswith("id,customer,occurred_at")
    assert ",C1,2024-05-01T00:00:00+00:00,purchase," in out and "12.5" in out


def test_errors_are_one_line_with_nonzero_exit(run_cli):
    run_cli("init")
    code, out, err = run_cli("interactions", "record", "NOPE", "--amount", "5")
    assert code != 0 and err == (
        "error: customer: unknown customer 'NOPE' (create it first)\n")
    assert "Traceback" not in err
    code, _, err = run_cli("interactions", "record", "NOPE", "--amount", "abc")
    assert code != 0 and "amount" in err
    code, _, err = run_cli("plugins", "enable", "nope")
    assert code != 0 and "no plugin named 'nope' is installed" in err


def test_a_single_record_names_the_field_and_an_import_the_line(run_cli, tmp_path):
    """A record given on the command line is no "row 1" of anything: its error names the
    field; a file's bad row keeps its line."""
    run_cli("init")
    run_cli("customers", "add", "C1")
    for args, wanted in [
            (("customers", "add", "C2", "--email", "bad"),
             "error: email: 'bad' is not an email address\n"),
            (("customers", "update", "C1", "--email", "bad"),
             "error: email: 'bad' is not an email address\n"),
            (("interactions", "record", "C1", "--currency", "XYZ"),
             "error: currency: 'XYZ' is not an ISO 4217 currency code (allowed: three letters "
             "of ISO 4217, e.g. USD, EUR, GBP)\n")]:
        assert run_cli(*args)[::2] == (1, wanted)
    path = tmp_path / "i.csv"
    path.write_text("customer,occurred_at,currency\nC1,2024-05-01,XYZ\n", encoding="utf-8")
    code, _, err = run_cli("import", "interactions", str(path))
    assert code == 1 and err.startswith("line 2: currency: 'XYZ' is not an ISO 4217")


def test_a_misplaced_global_option_or_a_misspelt_command_says_what_was_meant(run_cli):
    run_cli("init")
    code, _, err = run_cli("customers", "list", "--db", "sqlite:///other.db")
    assert code == 2 and err.splitlines()[-1] == (
        "Error: No such option '--db'. --db is an option of crmkit itself: give it before the "
        "command (crmkit --db … customers list)")
    code, _, err = run_cli("init", "--debug")
    assert code == 2 and err.splitlines()[-1].endswith("(crmkit --debug init)")
    code, _, err = run_cli("customer", "list")
    assert code == 2 and err.splitlines()[-1] == (
        "Error: No such command 'customer'. Did you mean 'customers'?")
    code, _, err = run_cli("zzz")
    assert code == 2 and err.splitlines()[-1] == "Error: No such command 'zzz'."


def test_a_plugin_module_that_cannot_be_found_is_one_error_saying_how_to_load_it(run_cli):
    run_cli("init")
    for args in (["customers", "list"], ["plugins", "check", "nosuch"], ["nosuch", "due"]):
        code, _, err = run_cli(*args, plugins=("no_such_plugin_module",))
        assert code == 1 and err == (
            "error: --plugin no_such_plugin_module: no module of that name can be imported "
            "(install it, or put its directory on the Python path: PYTHONPATH=DIR)\n"), args
    code, _, err = run_cli("plugins", "list", plugins=("crmkit_testvendor.py",))
    assert code == 1 and err == (
        "error: --plugin crmkit_testvendor.py: no module of that name can be imported (give the "
        "module's name, crmkit_testvendor, not its file's)\n")


def test_plugins_list_and_local_plugin_commands(run_cli):
    run_cli("init")
    plugin = ("crmkit_testvendor",)
    code, out, _ = run_cli("plugins", "list", "--format", "json", plugins=plugin)
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["testvendor"]["enabled"] is False and rows["testvendor"]["status"] == "disabled"
    code, _, err = run_cli("plugins", "config", "testvendor", "--set", "big_purchase_amount=-3",
                           plugins=plugin)
    assert code != 0 and "never been enabled" in err
    assert run_cli("plugins", "enable", "testvendor", plugins=plugin)[0] == 0
    code, _, err = run_cli("plugins", "config", "testvendor", "--set", "big_purchase_amount=-3",
                           plugins=plugin)
    assert code != 0 and "/big_purchase_amount" in err and "minimum" in err
    code, out, _ = run_cli("plugins", "config", "testvendor", "--set", "welcome_note=Hello",
                           plugins=plugin)
    assert code == 0 and json.loads(out)["welcome_note"] == "Hello"
    run_cli("customers", "add", "C1", plugins=plugin)
    run_cli("interactions", "record", "C1", "--amount", "5", plugins=plugin)
    code, out, _ = run_cli("testvendor", "purchases", "C1", plugins=plugin)
    assert code == 0 and out.strip() == "1"
    code, _, err = run_cli("customers", "add", "C2", "--attr", "vendor_level=9", plugins=plugin)
    assert code != 0 and "/vendor_level" in err


def test_debug_shows_traceback(run_cli):
    with pytest.raises(Exception):
        run_cli("--debug", "customers", "list")


def test_core_config_set_is_validated_and_stored(run_cli):
    run_cli("init")
    code, out, _ = run_cli("config", "--set", "default_currency=EUR")
    assert code == 0 and json.loads(out)["default_currency"] == "EUR"
    code, _, err = run_cli("config", "--set", "default_currency")
    assert code != 0 and "is not KEY=VALUE" in err
    code, _, err = run_cli("config", "--set", "max_field_length=-1")
    assert code != 0 and "/max_field_length" in err
    code, _, err = run_cli("config", "--set", "default_currency=usd")
    assert code != 0 and err == ("error: core config: /default_currency: 'usd' is not an ISO "
                                 "4217 currency code (allowed: e.g. USD, EUR, GBP)\n")
    assert json.loads(run_cli("config")[1])["default_currency"] == "EUR"
