"""Fixtures of the reliability suite (tests/reliability).

* Long variants carry ``@pytest.mark.slow`` and only run when the mark
  expression selects them: ``pytest -m slow tests/reliability``.  The default
  run (the README's ``pytest -q -n 2``) skips them, keeping CI fast.
* ``full_crm`` is a CRM with every existing built-in plugin and the relcheck
  instrument enabled with default configurations.
"""

from __future__ import annotations

import pytest

import rel_support


def pytest_collection_modifyitems(config, items):
    """Skip @slow tests of this directory unless ``-m`` mentions ``slow``."""
    if "slow" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="long variant: run with `pytest -m slow tests/reliability`")
    for item in items:
        if "slow" in item.keywords and str(item.fspath).startswith(str(rel_support.HERE)):
            item.add_marker(skip)


@pytest.fixture
def full_crm(crm_url, clock):
    """A CRM with every existing built-in and relcheck enabled (failures listed on ``crm.enable_failures``)."""
    with rel_support.open_crm(crm_url, clock) as crm:
        crm.enable_failures = rel_support.enable_everything(crm)
        yield crm
