"""Fixtures of the reliability suite (tests/reliability).

* Long variants carry ``@pytest.mark.slow`` and only run when the mark
  expression selects them: ``pytest -m slow tests/reliability``.  The default
  run (the README's ``pytest -q -n 2``) skips them, keeping CI fast.
* ``seeded_url`` is a database with every existing built-in plugin, relcheck
  and relfaulty (failing nowhere) enabled, two customers and one purchase.  It
  is copied from a template built once per session and backend (a file copy
  on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), because enabling
  every plugin costs seconds.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import rel_support

TEMPLATE_FAILURES: dict[str, dict[str, str]] = {}
"""Per backend: the built-ins that could not be enabled in the template, with their error."""


def pytest_collection_modifyitems(config, items):
    """Skip @slow tests of this directory unless ``-m`` mentions ``slow``."""
    if "slow" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="long variant: run with `pytest -m slow tests/reliability`")
    for item in items:
        if "slow" in item.keywords and str(item.fspath).startswith(str(rel_support.HERE)):
            item.add_marker(skip)


def build_seed(url: str, clock) -> dict[str, str]:
    """Fill an empty database: every plugin enabled, C1 (with a purchase) and C2."""
    with rel_support.open_crm(url, clock) as crm:
        failures = rel_support.enable_everything(crm)
        crm.plugins.enable("relfaulty")
        crm.customers.add("C1", "Ada Lovelace", email="ada@example.com", phone="+441234567890")
        crm.customers.add("C2", "Charles Babbage", email="charles@example.com")
        crm.interactions.record("C1", clock.now(), amount="40", external_id="P0")
    return failures


_names = itertools.count()


@pytest.fixture(scope="session")
def _templates():
    """Template databases by backend, built on first use."""
    built: dict[str, str] = {}
    folder = Path(tempfile.mkdtemp(prefix="crmkit-rel-"))
    yield built, folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def seeded_url(crm_url, clock, request, _templates):
    """A fresh copy of the seeded database on ``crm_url``'s backend."""
    built, folder = _templates
    if crm_url.startswith("sqlite"):
        if "sqlite" not in built:
            path = folder / "template.db"
            TEMPLATE_FAILURES["sqlite"] = build_seed(f"sqlite:///{path}", clock)
            built["sqlite"] = str(path)
        target = crm_url.split("sqlite:///", 1)[1]
        shutil.copyfile(built["sqlite"], target)
        return crm_url
    import psycopg

    server = request.getfixturevalue("postgres_server")
    if "postgresql" not in built:
        url = server.create_database()
        TEMPLATE_FAILURES["postgresql"] = build_seed(url, clock)
        built["postgresql"] = url.rsplit("/", 1)[1]
    name = f"seed{os.getpid()}_{next(_names)}"
    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{built["postgresql"]}"')
    return server.url(name)


@pytest.fixture
def seed_failures(seeded_url):
    """The built-ins the seeded database could not enable (the dedicated test asserts none)."""
    return TEMPLATE_FAILURES["sqlite" if seeded_url.startswith("sqlite") else "postgresql"]
