"""Fixtures of the HTTP API tests (and of every plugin's route tests).

* ``served`` — a factory starting a real ``crmkit serve`` process on 127.0.0.1 (a free port)
  on a fresh database of the test's backend, with the plugins asked for enabled, at the test
  clock's instant (``CRMKIT_NOW``).  ``server = served(plugins=["operational"])``;
  ``server.token("ann", role="agent")`` makes a staff member with that role and returns a
  new API token's secret; ``server.client(secret)`` is an ``httpx.Client`` on the server
  sending it; ``server.open()`` opens the same database in the test.  The server stops
  (SIGTERM, in-flight requests finish) when the test ends.
* ``api`` — the same helper on an in-process application (``create_app`` on the ``crm``
  fixture, through httpx's ASGI transport): fast route tests.
* ``browser`` — a headless Chromium (Selenium, the system's chromedriver); skips when it is
  not installed, except under ``CI=true`` where that fails the test.  The test errors when
  a page it opened needed what its Content-Security-Policy refuses (an inline script).
* ``demo_site`` — a small ``crmkit demo`` database served by a real ``crmkit serve``, once
  per test process (:mod:`browser_support`): ``demo_site.member("bo", "agent")`` adds a
  member who can sign in, ``demo_site.sign_in(browser, "bo")`` signs them in.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from browser_support import (CHROMEDRIVER, CHROMIUM, browser_available, csp_violations,
                             start_chromium, start_demo_site)
from web_support import InProcess, Served, free_port, plugin_paths, prepare_database


@pytest.fixture
def served(crm_url, clock, tmp_path):
    """Start ``crmkit serve`` on a fresh database: ``served(plugins=[...], local_plugins=[...],
    workers=1, configs={name: config}, now=datetime)``; returns a
    :class:`web_support.Served`.  The server's clock is pinned at ``now`` (default: the
    test clock's now); ``server.open()`` opens the database on the test clock."""
    started: list[Served] = []

    def start(plugins=(), local_plugins=(), workers: int = 1, configs=None, now=None) -> Served:
        extra = {}
        for name in local_plugins:
            module = importlib.import_module(name)
            extra[module.PLUGIN.name] = module
        prepare_database(crm_url, clock, plugins, extra, configs)
        port = free_port()
        command = [str(Path(sys.executable).parent / "crmkit"), "--db", crm_url]
        for name in local_plugins:
            command += ["--plugin", name]
        command += ["serve", "--port", str(port), "--workers", str(workers)]
        env = dict(os.environ, CRMKIT_NOW=(now or clock.now()).isoformat(),
                   PYTHONPATH=os.pathsep.join([*map(str, plugin_paths()),
                                               os.environ.get("PYTHONPATH", "")]))
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env,
                                       cwd=tmp_path)
        server = Served(crm_url, process, port, log, extra, clock)
        started.append(server)
        server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def api(crm):
    """The API of the ``crm`` fixture in-process: ``api.token(handle, role)``,
    ``api.client(token).get("/api/v1/customers")``."""
    helper = InProcess(crm)
    yield helper
    helper.close()


@pytest.fixture
def browser():
    """A headless Chromium driven through the system's chromedriver (nothing downloaded)."""
    if not browser_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium ({CHROMIUM}) and chromedriver ({CHROMEDRIVER}) are needed "
                        "under CI=true: apt-get install chromium chromium-driver")
        pytest.skip("Chromium or chromedriver is not installed (apt-get install chromium "
                    "chromium-driver)")
    driver = start_chromium()
    try:
        yield driver
        assert csp_violations(driver) == [], "the pages need what their policy refuses"
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory):
    """A served small ``crmkit demo`` (SQLite), shared by the browser tests of one process."""
    site = start_demo_site(tmp_path_factory.mktemp("demo-site"))
    yield site
    site.stop()
