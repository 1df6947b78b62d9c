"""Shared helpers of the reliability suite: the built-in plugins, opening CRMs, running the CLI.

The suite covers "every built-in plugin that exists": a built-in exists when its
module imports and declares ``PLUGIN`` metadata.  :func:`enable_everything`
enables all of them (requirements first) next to the relcheck instrument and
returns the ones that could not be enabled with their error, so one plugin's
failure is reported by name without hiding the others' results.
"""

from __future__ import annotations

import importlib
import io
import os
import shutil
import sys
import threading
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from types import ModuleType

import rel_db
from crmkit.errors import CRMError

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BUILTINS = ("operational", "analytical", "collaborative", "social", "idic", "valuechain",
            "loyalty", "assessment")
"""The eight built-in plugins (entry points crmkit_<name>)."""


def builtin_module(name: str) -> ModuleType | None:
    """The built-in's module when it exists (imports and declares PLUGIN), else None."""
    try:
        module = importlib.import_module(f"crmkit_{name}")
    except Exception:
        return None
    return module if hasattr(module, "PLUGIN") else None


def existing_builtins() -> list[str]:
    """Built-ins that exist in this tree and whose requirements exist, requirements first."""
    found = {n for n in BUILTINS if builtin_module(n) is not None}
    ordered: list[str] = []
    while True:
        ready = sorted(n for n in found - set(ordered)
                       if set(builtin_module(n).PLUGIN.requires) <= set(ordered))
        if not ready:
            return ordered
        ordered.extend(ready)


def relcheck() -> ModuleType:
    """The relcheck instrument plugin module."""
    import crmkit_relcheck

    return crmkit_relcheck


def local_plugins() -> dict[str, ModuleType]:
    """The suite's local plugins (relcheck, relfaulty), for ``CRM.open(extra_plugins=...)``."""
    import crmkit_relfaulty

    return {"relcheck": relcheck(), "relfaulty": crmkit_relfaulty}


LOCAL_MODULES = ("crmkit_relcheck", "crmkit_relfaulty")
"""The same plugins as ``--plugin`` modules for the CLI."""


def open_crm(url: str, clock=None, create: bool = True, **extra: ModuleType):
    """``CRM.open`` with relcheck (and ``extra``) registered beside the installed plugins."""
    from crmkit import CRM

    return CRM.open(url, clock=clock, create=create, extra_plugins={**local_plugins(), **extra})


def enable_everything(crm, configs: dict | None = None, relcheck_too: bool = True) -> dict[str, str]:
    """Enable every existing built-in (and relcheck); return ``{name: error}`` for those that failed."""
    configs = configs or {}
    failures = {}
    names = (["relcheck"] if relcheck_too else []) + existing_builtins()
    for name in names:
        try:
            crm.plugins.enable(name, configs.get(name))
        except Exception as exc:  # reported by name; the dedicated test asserts there are none
            failures[name] = f"{type(exc).__name__}: {exc}"
    return failures


def child_env(**extra: str) -> dict[str, str]:
    """Environment for child processes: the suite's plugins importable, no colour, no TTY tricks."""
    env = dict(os.environ)
    paths = [str(HERE), str(REPO / "tests" / "vendor_plugin"), str(REPO / "plugins")]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("CRMKIT_DATABASE_URL", None)
    env.update(extra)
    return env


def crmkit_script() -> str:
    """The ``crmkit`` console script of this interpreter's environment."""
    return str(Path(sys.executable).with_name("crmkit"))


def cli(url: str, *args: str, plugins: tuple[str, ...] = LOCAL_MODULES) -> tuple[int, str, str]:
    """Run ``crmkit --db URL [--plugin M]… ARGS`` in-process via ``crmkit.cli.main``.

    Returns ``(exit code, stdout, stderr)``.  An exception escaping ``main`` (a
    traceback) propagates and fails the calling test.
    """
    from crmkit.cli import main

    argv = ["--db", url]
    for module in plugins:
        argv += ["--plugin", module]
    argv += list(args)
    out, err = io.StringIO(), io.StringIO()
    saved = sys.argv
    sys.argv = ["crmkit", *argv]
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(argv)
    finally:
        sys.argv = saved
    return code, out.getvalue(), err.getvalue()


INTERNAL_ERROR = "(run with --debug for the traceback)"
"""What ``crmkit.cli.main`` appends when an exception is not a CRMError: an unplanned failure."""


def assert_clean_failure(code: int, err: str, *expected: str) -> None:
    """A refused CLI call: non-zero exit, a one-line ``error: …`` naming ``expected``, no traceback."""
    assert code != 0, f"expected a failure, got exit 0 (stderr: {err!r})"
    assert "Traceback" not in err, err
    assert INTERNAL_ERROR not in err, f"unplanned exception instead of a clear error: {err}"
    lines = [line for line in err.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, f"expected one 'error:' line, got: {err!r}"
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"


def copy_of_template(key: str, build, crm_url: str, request, templates) -> str:
    """A fresh copy, on ``crm_url``'s backend, of the template ``key`` (built once by ``build(url)``)."""
    built, folder = templates
    backend = "sqlite" if crm_url.startswith("sqlite") else "postgresql"
    if backend == "sqlite":
        if (key, backend) not in built:
            path = folder / f"{key}.db"
            build(f"sqlite:///{path}")
            built[key, backend] = str(path)
        shutil.copyfile(built[key, backend], crm_url.split("sqlite:///", 1)[1])
        return crm_url
    import psycopg

    server = request.getfixturevalue("postgres_server")
    if (key, backend) not in built:
        url = server.create_database()
        build(url)
        built[key, backend] = url.rsplit("/", 1)[1]
    name = crm_url.rsplit("/", 1)[1]  # replace the test's empty database: one database per test
    with psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{built[key, backend]}"')
    return crm_url


HANG_GUARD_S = 60
"""How long a race test waits for a thread or a lock before calling it a hang."""


class Outcome(threading.Thread):
    """Runs ``call`` in a thread and keeps its result or its error text (a crmkit error as
    ``Type: message``; any other ``UNPLANNED Type: message``)."""

    def __init__(self, call):
        super().__init__(daemon=True)
        self.call, self.result, self.error = call, None, None

    def run(self):
        try:
            self.result = self.call()
        except CRMError as exc:
            self.error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # an unplanned error: the assertions show it
            self.error = f"UNPLANNED {type(exc).__name__}: {exc}"

    def finish(self) -> "Outcome":
        self.join(HANG_GUARD_S)
        assert not self.is_alive(), "a command hung (unreported deadlock)"
        return self


def wait_until_blocked(url: str, backends: int = 1, unless: threading.Thread | None = None
                       ) -> None:
    """On PostgreSQL, wait until ``backends`` sessions wait for a lock (a row lock, an advisory
    lock), or ``unless`` (the thread expected to wait), when given, has ended: the caller then
    finds it did not wait.  Each look is a transaction of its own.  SQLite writers wait in the
    busy handler, which cannot be observed: the outcome must not depend on it."""
    if url.startswith("sqlite"):
        return
    deadline = time.monotonic() + HANG_GUARD_S
    while rel_db.count(url, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND wait_event_type = 'Lock'") < backends:
        if unless is not None and not unless.is_alive():
            return
        assert time.monotonic() < deadline, "the second command never waited for the first"
        time.sleep(0.01)  # polling a condition, not waiting for time to pass
