"""Fixtures of the reliability suite (tests/reliability).

* Long variants carry ``@pytest.mark.slow`` and only run when the mark
  expression selects them: ``pytest -m slow tests/reliability`` (the long
  variants only) or ``pytest -m "slow or not slow" tests/reliability`` (the
  full run).  The default run (the README's ``pytest -q -n 2``) deselects
  them, keeping CI fast; ``sqlite_only`` tests are deselected on PostgreSQL.
* ``seeded_url`` is a database with every existing built-in plugin, relcheck
  and relfaulty (failing nowhere) enabled, two customers and one purchase.  It
  is copied from a template built once per session and backend (a file copy
  on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL), because enabling
  every plugin costs seconds.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

import rel_support

TEMPLATE_FAILURES: dict[str, dict[str, str]] = {}
"""Per backend: the built-ins that could not be enabled in the template, with their error."""


def pytest_configure(config):
    """Register this directory's marks (the project runs with --strict-markers)."""
    config.addinivalue_line("markers", "sqlite_only: a guarantee that only SQLite has (its busy "
                                       "timeout); the PostgreSQL variant is deselected")


def pytest_collection_modifyitems(config, items):
    """Deselect (never skip) the long variants unless ``-m`` mentions ``slow``, and the
    PostgreSQL variants of ``sqlite_only`` tests: the default run shows no skips."""
    run_slow = "slow" in (config.getoption("markexpr", "") or "")
    kept, dropped = [], []
    for item in items:
        here = str(item.fspath).startswith(str(rel_support.HERE))
        backend = getattr(item, "callspec", None) and item.callspec.params.get("crm_url")
        if here and (("slow" in item.keywords and not run_slow)
                     or ("sqlite_only" in item.keywords and backend == "postgresql")):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def build_seed(url: str, clock) -> dict[str, str]:
    """Fill an empty database: every plugin enabled, C1 (with a purchase) and C2."""
    with rel_support.open_crm(url, clock) as crm:
        failures = rel_support.enable_everything(crm)
        crm.plugins.enable("relfaulty")
        crm.customers.add("C1", "Ada Lovelace", email="ada@example.com", phone="+441234567890")
        crm.customers.add("C2", "Charles Babbage", email="charles@example.com")
        crm.interactions.record("C1", clock.now(), amount="40", external_id="P0")
    return failures


@pytest.fixture(scope="session")
def _templates():
    """Template databases by (name, backend), built on first use."""
    built: dict[tuple[str, str], str] = {}
    folder = Path(tempfile.mkdtemp(prefix="crmkit-rel-"))
    yield built, folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def seeded_url(crm_url, clock, request, _templates):
    """A fresh copy of the seeded database on ``crm_url``'s backend."""
    backend = "sqlite" if crm_url.startswith("sqlite") else "postgresql"

    def build(url):
        TEMPLATE_FAILURES[backend] = build_seed(url, clock)

    return rel_support.copy_of_template("seed", build, crm_url, request, _templates)


@pytest.fixture
def seed_failures(seeded_url):
    """The built-ins the seeded database could not enable (the dedicated test asserts none)."""
    return TEMPLATE_FAILURES["sqlite" if seeded_url.startswith("sqlite") else "postgresql"]
