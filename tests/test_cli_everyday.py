"""Everyday commands: customers update/search, staff remove, listings' limit note,
external ids in every listing, and one tags convention in CSV."""

from __future__ import annotations

import csv
import io
import json


def ok(run_cli, *args, **kwargs) -> str:
    code, out, err = run_cli(*args, **kwargs)
    assert code == 0, err
    return out


def seeded(run_cli) -> None:
    ok(run_cli, "init")
    ok(run_cli, "customers", "add", "ORG1", "--name", "Acme Ltd", "--type", "organisation")
    ok(run_cli, "customers", "add", "C1", "--name", "Ada Lovelace", "--email", "Ada@Example.com",
       "--phone", "+44 20 7946 0001", "--tag", "vip", "--tag", "newsletter")
    ok(run_cli, "customers", "add", "C2", "--name", "Charles Babbage", "--email",
       "cb@example.org", "--tag", "newsletter")
    ok(run_cli, "customers", "add", "C3", "--name", "Grace 100% Hopper", "--email",
       "grace@navy.example")


def test_update_changes_only_the_given_fields_and_is_audited(run_cli):
    seeded(run_cli)
    out = ok(run_cli, "customers", "update", "C1", "--email", "ada@example.org",
             "--add-tag", "partner", "--remove-tag", "newsletter", "--attr", "city=London",
             "--organisation", "ORG1", "--clear", "phone")
    assert out == "updated customer C1: email, phone, organisation, tags, attributes\n"
    shown = json.loads(ok(run_cli, "customers", "show", "C1", "--format", "json"))
    profile = shown["profile"]
    assert (profile["name"], profile["email"], profile["phone"]) == (
        "Ada Lovelace", "ada@example.org", None)
    assert profile["tags"] == ["partner", "vip"] and profile["organisation"] == "ORG1"
    assert shown["attributes"] == {"city": "London"}
    audit = json.loads(ok(run_cli, "audit", "--customer", "C1", "--action", "update",
                          "--format", "json"))
    assert audit and audit[0]["changes"]["email"] == ["Ada@Example.com", "ada@example.org"]
    # attributes merge key by key; repeating the same change changes nothing
    ok(run_cli, "customers", "update", "C1", "--attr", "level=3")
    assert json.loads(ok(run_cli, "customers", "show", "C1", "--format", "json"))[
        "attributes"] == {"city": "London", "level": 3}
    assert ok(run_cli, "customers", "update", "C1", "--attr", "level=3") == (
        "customer C1 unchanged\n")


def test_update_refuses_bad_input_and_changes_nothing(run_cli):
    seeded(run_cli)
    before = ok(run_cli, "customers", "show", "C1", "--format", "json")
    for args, message in [
            (("--email", "not-an-email"), "is not an email address"),
            (("--organisation", "C2"), "'C2' is not an organisation customer"),
            (("--email", "a@b.example", "--clear", "email"), "contradict each other"),
            ((), "nothing to change")]:
        code, _, err = run_cli("customers", "update", "C1", *args)
        assert code != 0 and message in err and err.count("\n") == 1, err
    assert ok(run_cli, "customers", "show", "C1", "--format", "json") == before
    code, _, err = run_cli("customers", "update", "NOPE", "--name", "x")
    assert code != 0 and "no customer 'NOPE'" in err


def search(run_cli, *args) -> list[str]:
    rows = json.loads(ok(run_cli, "customers", "search", *args, "--format", "json"))
    return [r["external_id"] for r in rows]


def test_search_by_name_email_phone_tag_and_external_id(run_cli):
    seeded(run_cli)
    assert search(run_cli, "lovelace") == ["C1"]          # name, any case
    assert search(run_cli, "EXAMPLE.ORG") == ["C2"]       # email, any case
    assert search(run_cli, "7946 0001") == ["C1"]         # phone digits, spacing ignored
    assert search(run_cli, "20-7946") == ["C1"]
    assert search(run_cli, "newsletter") == ["C1", "C2"]  # a tag
    assert search(run_cli, "NEWS") == ["C1", "C2"]        # part of a tag, any case
    assert search(run_cli, "org1") == ["ORG1"]            # external id
    assert search(run_cli, "100%") == ["C3"]              # LIKE wildcards are literal
    assert search(run_cli, "_") == []
    assert search(run_cli, "a", "--tag", "vip") == ["C1"]
    assert search(run_cli, "--tag", "newsletter") == ["C1", "C2"]
    code, _, err = run_cli("customers", "search")
    assert code != 0 and "give a TEXT" in err


def test_erased_customers_are_not_found(run_cli):
    seeded(run_cli)
    ok(run_cli, "customers", "erase", "C2", "--yes")
    assert search(run_cli, "babbage") == []
    assert search(run_cli, "newsletter") == ["C1"]


def test_staff_remove_keeps_history_and_stops_new_work(run_cli):
    ok(run_cli, "init")
    ok(run_cli, "staff", "add", "ana", "--name", "Ana", "--team", "sales")
    ok(run_cli, "staff", "add", "ben", "--name", "Ben", "--team", "sales")
    assert ok(run_cli, "staff", "remove", "ana") == "removed staff ana (their history stays)\n"
    listed = json.loads(ok(run_cli, "staff", "list", "--format", "json"))
    assert [s["handle"] for s in listed] == ["ben"]
    code, _, err = run_cli("staff", "remove", "ana")
    assert code != 0 and "already removed" in err
    code, _, err = run_cli("staff", "remove", "nobody")
    assert code != 0 and "no staff member 'nobody'" in err
    audit = json.loads(ok(run_cli, "audit", "--format", "json"))
    assert audit[0]["table_name"] == "staff" and audit[0]["changes"] == {"active": [True, False]}


def test_removed_staff_get_no_new_assignments(crm):
    crm.plugins.enable("operational")
    crm.staff.add("ana", "Ana", "sales")
    crm.staff.add("ben", "Ben", "sales")
    crm.staff.remove("ana")
    owners = set()
    for i in range(3):
        crm.customers.add(f"L{i}", f"Lead {i}")
        owners.add(crm.plugin("operational").assign_lead(f"L{i}", "sales"))
    assert owners == {"ben"}


def test_listings_note_when_they_stop_at_the_limit(run_cli):
    seeded(run_cli)
    code, out, err = run_cli("customers", "list", "--limit", "2", "--format", "csv")
    assert code == 0 and len(out.splitlines()) == 3  # header + 2: the note is not in the data
    assert err == ("note: stopped at --limit 2; there may be more "
                   "(raise --limit or page with --offset)\n")
    code, out, err = run_cli("customers", "list", "--limit", "5")
    assert code == 0 and err == ""
    code, out, err = run_cli("events", "list", "--limit", "1", "--format", "json")
    assert len(json.loads(out)) == 1 and "page on with --after" in err


def test_listings_name_customers_by_external_id(run_cli):
    seeded(run_cli)
    events = json.loads(ok(run_cli, "events", "list", "--format", "json"))
    assert [e["customer"] for e in events[:4]] == ["ORG1", "C1", "C2", "C3"]
    assert all("customer_id" not in e for e in events)
    only = json.loads(ok(run_cli, "events", "list", "--customer", "C2", "--format", "json"))
    assert {e["customer"] for e in only} == {"C2"}
    after = json.loads(ok(run_cli, "events", "list", "--after", str(events[1]["id"]),
                          "--format", "json"))
    assert after[0]["id"] == events[2]["id"]
    profile = json.loads(ok(run_cli, "customers", "show", "C1", "--format", "json"))["profile"]
    assert "id" not in profile and "organisation_id" not in profile


def test_csv_listings_write_tags_as_the_import_files_do(run_cli, tmp_path):
    seeded(run_cli)
    listed = list(csv.DictReader(io.StringIO(ok(run_cli, "customers", "list", "--format",
                                                "csv"))))
    exported = tmp_path / "customers.csv"
    ok(run_cli, "export", "customers", str(exported))
    with open(exported, encoding="utf-8", newline="") as handle:
        written = {r["external_id"]: r["tags"] for r in csv.DictReader(handle)}
    assert {r["external_id"]: r["tags"] for r in listed} == written
    assert written["C1"] == "newsletter;vip"


MAIN = "import sys; from crmkit.cli import main; sys.exit(main(sys.argv[1:]))"


def run_on_a_terminal(url: str, *args: str) -> tuple[int, str, str]:
    """Run ``crmkit --db url ARGS`` with stderr on a pseudo-terminal; return code, out, err."""
    import os
    import pty
    import subprocess
    import sys
    import tempfile

    controller, terminal = pty.openpty()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen([sys.executable, "-c", MAIN, "--db", url, *args],
                                   stdout=out, stderr=terminal, stdin=subprocess.DEVNULL)
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the process closed the terminal (it has exited)
                break
            if not chunk:
                break
            shown += chunk
        process.wait(timeout=600)
        os.close(controller)
        out.seek(0)
        return process.returncode, out.read().decode(), shown.decode()


def test_long_commands_show_progress_on_a_terminal_and_nothing_when_piped(crm, crm_url,
                                                                           run_cli):
    crm.plugins.enable("operational")
    crm.plugins.enable("loyalty")
    crm.customers.add_many({"external_id": f"C{i:05d}"} for i in range(5001))
    code, out, err = run_on_a_terminal(crm_url, "sweep")
    assert code == 0 and "sweep: writing loyalty" in err and "sweep: writing operational" in err
    assert "plugin" in out  # the result table goes to stdout
    code, out, err = run_on_a_terminal(crm_url, "export", "customers")
    assert code == 0 and "export customers: 5,000 rows written" in err
    assert len(out.splitlines()) == 5002
    code, out, err = run_cli("sweep")
    assert code == 0 and err == ""


def test_output_rows_writes_the_csv_output_writes_streaming_tuples(capsys):
    """Tuples in column order give output()'s CSV: numbers and decimals as they are, empty
    for None, formula-like text neutralised in the text columns; a generator is consumed once."""
    from decimal import Decimal

    from crmkit.cli.common import output, output_rows

    columns = ["customer", "count", "share", "amount", "segment"]
    tuples = [("C1", 3, 0.25, Decimal("12.50"), None), ("=SUM(A1)", 0, 1e-05, Decimal("-0.0100"),
              "+vip"), ("'@x", 12, 2.0, Decimal("0E-4"), "plain, with comma")]
    output([dict(zip(columns, row)) for row in tuples], columns, "csv")
    expected = capsys.readouterr().out
    output_rows((row for row in tuples), columns, "csv", text=["customer", "segment"])
    assert capsys.readouterr().out == expected
    assert "'=SUM(A1)" in expected and "''@x" in expected and ",'+vip" in expected
    output_rows(iter(tuples), columns, "json")
    assert json.loads(capsys.readouterr().out)[1]["customer"] == "=SUM(A1)"


def test_a_table_aligns_chinese_names_by_their_width_on_a_terminal(run_cli):
    ok(run_cli, "init")
    ok(run_cli, "customers", "add", "客户-1", "--name", "张伟")
    ok(run_cli, "customers", "add", "C-2", "--name", "Ada")
    header, chinese, latin = ok(run_cli, "customers", "list").splitlines()
    # a Chinese character takes two columns on a terminal: each one before a column
    # shifts it one character to the left, so that it starts under its header
    assert chinese.index("person") == header.index("type") - 2  # 客户
    assert chinese.index("[]") == header.index("tags") - 4  # 客户 and 张伟
    assert latin.index("person") == header.index("type")
    assert latin.index("[]") == header.index("tags")
