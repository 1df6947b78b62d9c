"""Test support for crmkit and for plugin authors (a pytest plugin, loaded automatically).

Fixtures:

* ``crm_url`` — parametrised over ``sqlite`` (a temporary file) and
  ``postgresql`` (a fresh database on a throwaway PostgreSQL server that this
  module starts on 127.0.0.1 for the test session).
* ``clock`` — a :class:`crmkit.FixedClock` at 2025-01-01 12:00 UTC.
* ``crm`` — ``CRM.open(crm_url, clock=clock, create=True)``, closed afterwards.  The
  core schema is copied from a database migrated once per test session (a file copy on
  SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL) when ``crm_url``'s database is
  still untouched, instead of running every core migration for each test.

``run_cli(args)`` runs the ``crmkit`` command in-process and returns its exit code;
``assert_keeps_max_field_length(crm, field, write, written)`` checks that a plugin's text
field keeps the core configuration's ``max_field_length``;
``api_client(crm, role=…)`` is an HTTP client on the API app, in-process, with the token of
a staff member of that role; ``web_client(crm, role=…)`` one signed in to the staff web app
(for a plugin's pages and My work sections), with ``csrf_token(html)`` for the forms it posts.

A PostgreSQL server that cannot start fails the PostgreSQL tests, with the
reason; they never skip.  Set ``CRMKIT_TEST_BACKENDS=sqlite`` to run only the
SQLite backend deliberately (a machine without the server binaries).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest

from .webclient import api_client, api_pages, csrf_token, web_client

PG_VERSIONS = ("15", "16", "17", "14")


def find_pg_bindir() -> Path | None:
    """Where ``initdb``, ``pg_ctl`` and ``postgres`` live (pg_config, PATH, or /usr/lib/postgresql)."""
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            bindir = Path(out.stdout.strip())
            if (bindir / "initdb").exists():
                return bindir
        except (OSError, subprocess.CalledProcessError):
            pass
    for version in PG_VERSIONS:
        candidate = Path(f"/usr/lib/postgresql/{version}/bin")
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """A throwaway PostgreSQL cluster in a temporary directory, listening on 127.0.0.1."""

    def __init__(self):
        bindir = find_pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="crmkit-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        self._counter = itertools.count()
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
            os.chmod(self.root, 0o700)

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.root)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:1])} failed: {result.stderr.strip() or result.stdout.strip()}")

    def start(self) -> "PostgresServer":
        """initdb and start the server; raises RuntimeError with the server's own message."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=100")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                  "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        """Stop the server and delete its directory, in the background: a test session's
        cluster holds a database per test (gigabytes), which takes tens of seconds to
        delete."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except RuntimeError:
            pass
        subprocess.Popen(["rm", "-rf", "--", str(self.root)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname={database}",
                               autocommit=True)

    def create_database(self, locale: str | None = None) -> str:
        """Create a fresh, empty database and return its URL; ``locale``: its ``LC_CTYPE``
        and ``LC_COLLATE`` (``"C"``), instead of the server's."""
        name = f"t{os.getpid()}_{next(self._counter)}"
        chosen = "" if locale is None else f" LC_CTYPE '{locale}' LC_COLLATE '{locale}'"
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0{chosen}')
        return self.url(name)

    def replace_with_copy(self, url: str, template_url: str) -> bool:
        """Make the database of ``url`` a copy of the one of ``template_url`` (which nobody
        may be connected to) if it is still untouched: no table of its own, nobody
        connected, the template's locale.  Returns whether it did; otherwise it is left as
        it was."""
        import psycopg

        name, template = url.rsplit("/", 1)[1], template_url.rsplit("/", 1)[1]
        with self._connect(name) as conn:
            if conn.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON "
                            "n.oid = c.relnamespace WHERE n.nspname NOT IN "
                            "('pg_catalog', 'information_schema', 'pg_toast')").fetchone()[0]:
                return False
        with self._connect() as conn:
            locales = conn.execute("SELECT count(DISTINCT (datcollate, datctype)) FROM "
                                   "pg_database WHERE datname IN (%s, %s)",
                                   (name, template)).fetchone()[0]
            if locales != 1:
                return False
            try:
                conn.execute(f'DROP DATABASE "{name}"')
            except psycopg.errors.ObjectInUse:
                return False
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        return True


def backends() -> list[str]:
    """The backends to test: ``CRMKIT_TEST_BACKENDS`` (comma list) or both."""
    wanted = os.environ.get("CRMKIT_TEST_BACKENDS", "sqlite,postgresql")
    return [b.strip() for b in wanted.split(",") if b.strip()]


@pytest.fixture(scope="session")
def postgres_server():
    """The session's PostgreSQL server (started on first use)."""
    try:
        server = PostgresServer().start()
    except Exception as exc:
        pytest.fail(f"PostgreSQL could not start: {exc} (to test SQLite only, set "
                    "CRMKIT_TEST_BACKENDS=sqlite)", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(params=backends())
def crm_url(request, tmp_path) -> str:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def clock():
    """A controllable clock at 2025-01-01 12:00 UTC."""
    from ..clock import FixedClock

    return FixedClock(dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc))


@pytest.fixture(scope="session")
def core_schema_template(tmp_path_factory):
    """``template(url, request)``: the URL of a database of ``url``'s backend that holds
    the core schema and nothing else, created and migrated on first use, once per session
    (the PostgreSQL one on :func:`postgres_server`, asked for through ``request``)."""
    made: dict[str, str] = {}

    def template(url: str, request) -> str:
        from ..app import CRM

        backend = url.split(":", 1)[0].split("+", 1)[0]
        if backend not in made:
            made[backend] = (f"sqlite:///{tmp_path_factory.mktemp('core-schema') / 'crm.db'}"
                             if backend == "sqlite" else
                             request.getfixturevalue("postgres_server").create_database())
            CRM.open(made[backend], create=True).close()
        return made[backend]

    return template


def _copy_core_schema(url: str, request) -> None:
    """Give the untouched database of ``url`` the core schema by copying the session's
    template (:func:`core_schema_template`); a database something already created or
    changed is left to the migrations."""
    templates = request.getfixturevalue("core_schema_template")
    if url.startswith("sqlite:///") and "?" not in url:
        target = Path(url.removeprefix("sqlite:///"))
        if not target.exists():
            shutil.copyfile(templates(url, request).removeprefix("sqlite:///"), target)
    elif "postgres_server" in request.fixturenames:  # a database of the session's server
        server = request.getfixturevalue("postgres_server")
        if url.startswith(server.url("")):
            server.replace_with_copy(url, templates(url, request))


@pytest.fixture
def crm(crm_url, clock, request):
    """A new CRM on ``crm_url`` with the test clock; no plugin enabled."""
    from ..app import CRM

    _copy_core_schema(crm_url, request)
    with CRM.open(crm_url, clock=clock, create=True) as instance:
        yield instance


def run_cli(args: list[str]) -> int:
    """Run ``crmkit ARGS`` in-process, as the ``crmkit`` command would, and return its exit code."""
    from ..cli import main

    return main(args)


def assert_keeps_max_field_length(crm, field: str, write: Callable[[str], Any],
                                  written: Callable[[], Any]) -> None:
    """Check that a text field keeps the core configuration's ``max_field_length``: with it
    lowered to 20, ``write("x" * 21)`` raises one ValidationError ending ``<field>: 21
    characters; at most 20 (core config max_field_length)`` and leaves ``written()`` (what
    the field's records read back as) as it was; ``write("x" * 20)`` then changes it."""
    from ..errors import ValidationError

    crm.plugins.configure_core({**crm.core_config, "max_field_length": 20})
    before = written()
    with pytest.raises(ValidationError, match=rf"{re.escape(field)}: 21 characters; at most "
                                              r"20 \(core config max_field_length\)$"):
        write("x" * 21)
    assert written() == before
    write("x" * 20)
    assert written() != before


__all__ = ["PostgresServer", "find_pg_bindir", "backends", "run_cli", "api_client", "api_pages",
           "web_client",
           "csrf_token", "assert_keeps_max_field_length"]
