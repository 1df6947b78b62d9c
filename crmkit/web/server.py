"""The application ``crmkit serve`` runs in each uvicorn worker process.

uvicorn imports :func:`application` by name in every worker; the database URL and the local
plugin modules come from the environment ``crmkit serve`` sets (``CRMKIT_DATABASE_URL``,
``CRMKIT_PLUGINS``), the same variables the CLI reads, and the handler threads from
``CRMKIT_SERVE_THREADS``.
"""

from __future__ import annotations

import logging
import os

from starlette.applications import Starlette

from .app import create_app

SERVER_THREADS = 8
"""Requests one ``crmkit serve`` worker answers at once (``--threads``).  Handlers are mostly
Python: beyond a few threads per core they only wait for the interpreter lock, and each holds a
database connection.  Measured with ``benchmarks/api.py`` on 2 cores (SQLite): 40 threads (the
ASGI default) answered 252 reads/s, 8 threads 320, 4 threads 338."""
THREADS_VARIABLE = "CRMKIT_SERVE_THREADS"
"""The environment variable that carries ``--threads`` to the worker processes."""


def application() -> Starlette:
    """Open the CRM named by the environment and build its app (closed at shutdown)."""
    from ..app import CRM
    from ..cli.common import State

    modules = [m.strip() for m in os.environ.get("CRMKIT_PLUGINS", "").split(",") if m.strip()]
    local = State(db_url="", actor="system", debug=False, argv=[], local_plugins=modules)
    crm = CRM.open(os.environ["CRMKIT_DATABASE_URL"], extra_plugins=local.extra_plugins())
    crm.command = "api"
    log_errors_with_tracebacks()
    return create_app(crm, close_crm=True,
                      threads=int(os.environ.get(THREADS_VARIABLE, SERVER_THREADS)))


def log_errors_with_tracebacks() -> None:
    """Send the server's own log (``crmkit.web``: a request's unexpected error with its
    traceback) to stderr, stamped; the client only ever sees a bare 500 problem."""
    logger = logging.getLogger("crmkit.web")
    if any(getattr(h, "crmkit_server", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler.crmkit_server = True
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


__all__ = ["application", "log_errors_with_tracebacks", "SERVER_THREADS", "THREADS_VARIABLE"]
