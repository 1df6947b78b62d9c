"""What the CLI prints never carries a database password, another row's data, or a raw formula."""

from __future__ import annotations

import pytest

from crmkit.cli import main
from crmkit.testing import backends

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


@pytest.mark.skipif("postgresql" not in backends(), reason="needs the PostgreSQL test server")
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
