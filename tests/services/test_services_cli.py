"""``crmkit import`` / ``crmkit export`` on the command line: lines, summary, exit codes."""

from __future__ import annotations

import json


def test_import_cli_reports_every_bad_line_and_the_summary(crm, run_cli, tmp_path):
    crm.customers.add("C1", "Ada")
    path = tmp_path / "i.csv"
    path.write_text("customer,occurred_at,amount,external_id\n"
                    "C1,2024-05-01,5.00,a\n"
                    "C1,yesterday,5.00,b\n"
                    "C1,2024-05-01,abc,c\n"
                    "C9,2024-05-02,7.00,d\n"
                    "C1,2024-05-02,7.00,e\n")
    code, out, err = run_cli("import", "interactions", str(path))
    assert code == 1
    assert err.splitlines() == [
        "line 3: occurred_at: 'yesterday' is not an ISO 8601 date or date-time "
        "(e.g. 2024-05-01 or 2024-05-01T13:00:00Z)",
        "line 4: amount: 'abc' is not a number (allowed: [+-]digits[.digits] with ASCII "
        "digits 0-9, e.g. 120.50 or -5)",
        "line 5: customer: unknown customer 'C9' (create it first, or import with "
        "--create-customers)",
        "error: 3 bad row(s), nothing written: fix the rows above, or use --skip-invalid to "
        "write the good rows"]
    assert out == "read 5, created 0, updated 0, unchanged 0, rejected 3\n"
    code, out, _ = run_cli("import", "interactions", str(path), "--skip-invalid", "--dry-run")
    assert code == 0 and out == ("dry run, nothing written; it would have: read 5, created 2, "
                                 "updated 0, unchanged 0, rejected 3\n")
    assert crm.interactions.list() == []
    code, out, _ = run_cli("import", "interactions", str(path), "--skip-invalid")
    assert code == 0 and out == "read 5, created 2, updated 0, unchanged 0, rejected 3\n"
    code, out, _ = run_cli("audit", "--action", "import", "--format", "json")
    [row] = json.loads(out)
    assert row["record_key"] == "i.csv" and row["changes"]["created"] == 2


def test_export_cli_to_file_and_stdout(crm, run_cli, tmp_path):
    crm.customers.add("C1", "=1+2", email="c1@example.com", attributes={"level": 3})
    code, out, err = run_cli("export", "customers", str(tmp_path / "c.jsonl"))
    assert code == 0 and err == f"exported 1 customers to {tmp_path / 'c.jsonl'}\n"
    assert json.loads((tmp_path / "c.jsonl").read_text())["attributes"] == {"level": 3}
    code, out, _ = run_cli("export", "customers")
    assert out.splitlines() == [
        "external_id,name,type,email,phone,organisation,preferred_channel,lifecycle_stage,tags,"
        "attr.level", "C1,'=1+2,person,c1@example.com,,,,,,3"]
    code, _, err = run_cli("export", "customers", str(tmp_path / "c.txt"))
    assert code == 1 and "cannot tell the format from the extension" in err
    assert not (tmp_path / "c.txt").exists()
    code, out, _ = run_cli("import", "customers", str(tmp_path / "c.jsonl"))
    assert out == "read 1, created 0, updated 0, unchanged 1, rejected 0\n"


def test_an_export_to_dash_goes_to_standard_output(crm, run_cli, tmp_path, monkeypatch):
    """``-`` is standard output, as usual on the command line, not a file named ``-``."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    crm.customers.add("C1", "Ada")
    crm.interactions.record("C1", crm.clock.now(), external_id="o1")
    assert run_cli("export", "customers", "-") == run_cli("export", "customers")
    code, out, _ = run_cli("export", "interactions", "-", "--format", "jsonl")
    assert code == 0 and json.loads(out)["external_id"] == "o1"
    code, out, err = run_cli("customers", "export-data", "C1", "-o", "-")
    assert (code, err) == (0, "") and json.loads(out)["customer"]["name"] == "Ada"
    assert list(here.iterdir()) == []
