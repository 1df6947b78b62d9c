"""What crmkit prints and the files it creates: no database password, no other row's data,
no raw spreadsheet formula, no world-readable database."""

from __future__ import annotations

import pytest

from crmkit.cli import main

PASSWORD = "S3cret-Pw_42"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", [("init",), ("customers", "list"), ("db", "status"),
                                     ("demo", "--customers", "50")])
def test_no_password_is_printed_when_the_server_is_unreachable(capsys, command):
    url = f"postgresql+psycopg://bob:{PASSWORD}@127.0.0.1:1/crm"
    code, out, err = run(capsys, "--db", url, *command)
    assert code != 0
    assert PASSWORD not in out + err
    assert err.startswith("error: postgresql+psycopg://bob:***@127.0.0.1:1/crm: connection failed")


def test_no_password_is_printed_for_an_unsupported_url(capsys):
    code, out, err = run(capsys, "--db", f"mysql://bob:{PASSWORD}@db.example/crm", "init")
    assert code != 0 and PASSWORD not in out + err
    assert "unsupported database 'mysql' in URL 'mysql://bob:***@db.example/crm'" in err


@pytest.mark.postgres
def test_no_password_is_printed_by_a_real_server(capsys, postgres_server):
    url = postgres_server.create_database().replace("postgres@", f"postgres:{PASSWORD}@")
    code, out, err = run(capsys, "--db", url, "init")
    assert code == 0, err
    assert out.startswith("crmkit schema ready at postgresql+psycopg://postgres:***@127.0.0.1:")
    assert PASSWORD not in out + err
    code, out, err = run(capsys, "--db", url.rsplit("/", 1)[0] + "/no_such_db", "customers",
                         "list")
    assert code != 0 and PASSWORD not in out + err
    assert 'database "no_such_db" does not exist' in err


def test_a_refused_batch_names_the_table_and_problem_without_other_rows(crm, run_cli, tmp_path):
    """The database (not the validation) refuses one row of a batch: the message carries
    neither the SQL parameters nor any other customer's name or email (also with --debug)."""
    from sqlalchemy import text

    with crm.transaction() as tx:  # a rule only the database knows
        tx.conn.execute(text("CREATE UNIQUE INDEX test_one_phone ON customers (phone)"))
    rows = [("P1", "Alice Private", "alice.private@example.com", "+44 20 7946 0101"),
            ("P2", "Bruno Private", "bruno.private@example.com", "+44 20 7946 0102"),
            ("P3", "Carla Private", "carla.private@example.com", "+44 20 7946 0101")]
    source = tmp_path / "people.csv"
    source.write_text("external_id,name,email,phone\n"
                      + "".join(",".join(r) + "\n" for r in rows), encoding="utf-8")
    code, out, err = run_cli("import", "customers", str(source))
    assert code == 1
    assert err.startswith("error: the database refused a statement (table customers): ")
    assert "unique" in err.lower() and len(err.strip().splitlines()) == 1
    private = [v for row in rows for v in row[1:3]]
    assert [v for v in private if v in out + err] == []
    with pytest.raises(Exception) as raised:
        run_cli("--debug", "import", "customers", str(source))
    assert [v for v in private if v in str(raised.value)] == []
    assert crm.customers.list() == []


def test_a_new_sqlite_database_and_its_wal_files_are_owner_only(tmp_path, clock):
    import os

    from crmkit import CRM

    path = tmp_path / "private.db"
    old_umask = os.umask(0)  # the worst case: everything would be world-writable
    try:
        with CRM.open(f"sqlite:///{path}", clock=clock, create=True) as crm:
            crm.customers.add("C1", "Ada Lovelace")
            with crm.read():
                files = sorted(tmp_path.iterdir())
                modes = {p.name: p.stat().st_mode & 0o777 for p in files}
    finally:
        os.umask(old_umask)
    assert modes == {"private.db": 0o600, "private.db-shm": 0o600, "private.db-wal": 0o600}


def test_csv_listings_neutralise_formulas_like_the_export(crm, run_cli):
    import csv

    evil = "=HYPERLINK(\"http://x\",\"y\")"
    assert run_cli("customers", "add", evil, "--name", "@SUM(1+1)", "--phone", "+44 20 7946 0100",
                   "--email", "x@example.com")[0] == 0
    assert run_cli("interactions", "record", evil, "--kind", "adjustment", "--amount", "-5",
                   "--channel", "-web", "--at", "2025-01-01")[0] == 0

    def listing(*command: str) -> list[dict[str, str]]:
        code, out, err = run_cli(*command, "--format", "csv")
        assert code == 0, err
        return list(csv.DictReader(out.splitlines()))

    [customer] = listing("customers", "list")
    assert (customer["external_id"], customer["name"], customer["phone"], customer["email"]) \
        == ("'" + evil, "'@SUM(1+1)", "'+442079460100", "x@example.com")
    [interaction] = listing("interactions", "list")
    assert (interaction["customer"], interaction["channel"]) == ("'" + evil, "'-web")
    assert interaction["amount"].startswith("-5")  # a number stays a number
    [created] = [e for e in listing("audit") if e["action"] == "create"]
    assert created["record_key"] == "'" + evil
