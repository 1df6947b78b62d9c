"""Shared fixtures: the vendor-style test plugin on ``sys.path``, CLI runner helpers.

The ``crm_url``, ``crm``, ``clock`` and ``postgres_server`` fixtures come from
``crmkit.devtools.testing`` (the pytest plugin crmkit ships for plugin authors too).
"""

from __future__ import annotations

import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent / "vendor_plugin"))
sys.path.insert(0, str(Path(__file__).parent))  # the support modules shared by test folders

# No test may depend on load: hypothesis's default 200 ms deadline per example and its
# too_slow health check fail correct tests on a busy machine (the operational property tests'
# examples took over 400 ms beside four CPU-bound processes).  Other settings stay as they
# were (the "ci" profile hypothesis loads itself under CI=true, or the defaults).
settings.register_profile(
    "crmkit", parent=settings.default, deadline=None,
    suppress_health_check=sorted({*settings.default.suppress_health_check, HealthCheck.too_slow},
                                 key=lambda check: check.value))
settings.load_profile("crmkit")

import crmkit_testvendor  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def _cache_dir(tmp_path_factory):
    """crmkit's caches (the plugin listing's) go to a temporary directory, never the user's."""
    import os

    os.environ["CRMKIT_CACHE_DIR"] = str(tmp_path_factory.mktemp("crmkit-cache"))


@pytest.fixture
def statements():
    """``statements(engine, containing="")``: a context manager collecting, in a list it
    yields, every SQL statement ``engine`` runs in the block that contains the text."""
    import contextlib

    from sqlalchemy import event

    @contextlib.contextmanager
    def watch(engine, containing: str = ""):
        seen: list[str] = []

        def collect(conn, cursor, statement, parameters, context, executemany):
            if containing in statement:
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", collect)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", collect)

    return watch


@pytest.fixture
def vendor_crm(crm_url, clock):
    """A CRM with the test vendor plugin registered (not yet enabled)."""
    from crmkit import CRM

    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"testvendor": crmkit_testvendor}) as crm:
        yield crm


class SlowResolver:
    """``socket.getaddrinfo`` for one host name, which resolves to ``address`` (by default the
    public address 93.184.216.34; other names as usual), except that after :meth:`hold` its
    lookups get no answer until :attr:`released` is set or the test ends (at most 10 s);
    :attr:`asked` is set when a held lookup starts waiting."""

    def __init__(self, host: str, resolve, address: str = "93.184.216.34"):
        self.host, self._resolve = host, resolve
        self.resolve_to(address)
        self._held, self.released = threading.Event(), threading.Event()
        self.asked = threading.Event()

    def resolve_to(self, address: str) -> None:
        """The host resolves to ``address`` from now on (its DNS answer changed)."""
        self.answer = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, 80))]

    def hold(self) -> None:
        """Lookups of the host from now on wait until the test ends."""
        self._held.set()

    def while_held(self, send: Callable[[], Any], meanwhile: Callable[[], None]) -> Any:
        """What ``send()`` returns (or raises), run in a thread with the host's lookups held:
        once it waits on one, ``meanwhile()`` runs (what must not wait with it), then the
        lookup is answered."""
        self.hold()
        with ThreadPoolExecutor(1) as pool:
            sending = pool.submit(send)
            assert self.asked.wait(10)
            meanwhile()
            self.released.set()
            return sending.result()

    def __call__(self, host, *args, **kwargs):
        if host != self.host:
            return self._resolve(host, *args, **kwargs)
        if self._held.is_set():
            self.asked.set()
            self.released.wait(10)
        return self.answer


@pytest.fixture
def slow_resolver(monkeypatch):
    """``slow_resolver(host, address=…)``: the :class:`SlowResolver` of ``host``, put in place
    of ``socket.getaddrinfo``; held lookups are let go when the test ends."""
    made: list[SlowResolver] = []

    def make(host: str, **kwargs) -> SlowResolver:
        made.append(SlowResolver(host, socket.getaddrinfo, **kwargs))
        monkeypatch.setattr(socket, "getaddrinfo", made[-1])
        return made[-1]

    yield make
    for resolver in made:
        resolver.released.set()


@pytest.fixture
def cli_runner():
    """A click ``CliRunner`` whose result has ``stdout`` and ``stderr`` apart, on every click
    that crmkit supports (click 8.1 mixes them unless told ``mix_stderr=False``; 8.2 dropped
    that argument and always keeps them apart)."""
    import inspect

    from click.testing import CliRunner

    mixes_by_default = "mix_stderr" in inspect.signature(CliRunner).parameters
    return CliRunner(mix_stderr=False) if mixes_by_default else CliRunner()


@pytest.fixture
def cli_on_test_clock(monkeypatch, clock):
    """Commands run in-process (``run_cli``) take "now" from the test's ``clock``, not the wall
    clock: their results then depend neither on today's date nor on how long the test takes."""
    import crmkit.clock

    monkeypatch.setattr(crmkit.clock.SystemClock, "now", lambda self: clock.now())
    return clock


@pytest.fixture
def run_cli(crm_url, cli_runner):
    """Run ``crmkit --db crm_url ARGS…``; returns (exit code, stdout, stderr)."""
    from crmkit.cli import cli, main

    def run(*args: str, input: str | None = None, plugins: tuple[str, ...] = ()):
        argv = ["--db", crm_url]
        for module in plugins:
            argv += ["--plugin", module]
        argv += list(args)
        result = cli_runner.invoke(_Main(), argv, input=input, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    class _Main:
        """Adapter so CliRunner drives crmkit.cli.main (one-line errors, exit codes)."""

        def main(self, args=None, prog_name=None, **extra):
            code = main(list(args))
            raise SystemExit(code)

        name = "crmkit"

    _ = cli
    return run


class DrawnCharts:
    """The matplotlib figures ``--plot`` saved (each still written to its file), by path, with
    the series each shows (read after drawing, so tick labels are set)."""

    def __init__(self):
        self.figures = {}

    def axes(self, path):
        return self.figures[str(path)].axes[0]

    def bars(self, path) -> list[float]:
        """The heights of the chart's bars, series after series (NaN: no bar)."""
        return [patch.get_height() for patch in self.axes(path).patches]

    def ticks(self, path) -> list[str]:
        """The x-axis tick labels."""
        return [label.get_text() for label in self.axes(path).get_xticklabels()]

    def legend(self, path) -> list[str]:
        """The legend's entries."""
        return [text.get_text() for text in self.axes(path).get_legend().get_texts()]

    def lines(self, path) -> dict[str, list[float]]:
        """Each plotted line's y values, by its label."""
        return {line.get_label(): [float(y) for y in line.get_ydata()]
                for line in self.axes(path).get_lines()}


@pytest.fixture
def drawn_charts(monkeypatch):
    """Record every matplotlib figure saved during the test (see :class:`DrawnCharts`)."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    drawn = DrawnCharts()
    save = Figure.savefig

    def recording(figure, path, *args, **kwargs):
        save(figure, path, *args, **kwargs)
        drawn.figures[str(path)] = figure

    monkeypatch.setattr(Figure, "savefig", recording)
    return drawn


def pytest_collection_modifyitems(config, items):
    """Tests marked ``postgres`` are deselected, never skipped, in a run that leaves the
    PostgreSQL server out (``CRMKIT_TEST_BACKENDS=sqlite``, as the lowest-versions CI run)."""
    from crmkit.devtools.testing import backends

    if "postgresql" in backends():
        return
    left_out = [item for item in items if item.get_closest_marker("postgres") is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item.get_closest_marker("postgres") is None]
