"""``crmkit serve``: run the HTTP API (crmkit.web on uvicorn)."""

from __future__ import annotations

import os

import click

from ..web.server import SERVER_THREADS, THREADS_VARIABLE
from .common import pass_state


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="TCP port to listen on.")
@click.option("--workers", type=click.IntRange(1), default=1, show_default=True,
              help="Worker processes (each opens its own database connections; on SQLite "
              "writes still take turns).")
@click.option("--threads", type=click.IntRange(1), default=SERVER_THREADS, show_default=True,
              help="Requests each worker answers at once (its handler threads).  More help "
              "when requests wait on a remote database; fewer keep Python's interpreter lock "
              "uncontended.")
@pass_state
def serve(state, host, port, workers, threads) -> None:
    """Serve the HTTP API and the staff web app.

    The API is under /api/v1 (described at /openapi.json and /docs) and the web
    app's pages start at /login, both on the --db database.  Clients authenticate
    with an API token (crmkit tokens create); staff sign in to the web app with
    their password (crmkit staff password HANDLE).  Stop with Ctrl-C or SIGTERM:
    requests already being answered are finished first.

    \b
    Example:
      crmkit --db postgresql+psycopg://crm@db/crm serve --host 0.0.0.0 --workers 4
    """
    import uvicorn

    with state.open():  # a wrong URL or an outdated schema: one line now, not in every worker
        pass
    _check_listen(host, port)
    os.environ["CRMKIT_DATABASE_URL"] = state.db_url
    os.environ["CRMKIT_PLUGINS"] = ",".join(state.local_plugins)
    os.environ[THREADS_VARIABLE] = str(threads)
    click.echo(f"crmkit API on http://{host}:{port}/api/v1 (documentation at /docs), "
               f"web app at http://{host}:{port}/login", err=True)
    uvicorn.run("crmkit.web.server:application", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False,
                server_header=False)


def _check_listen(host: str, port: int) -> None:
    """Refuse in one line, before the server starts, an address it could not listen on
    (a port another process listens on, a host that is no address of this machine)."""
    import socket

    from ..errors import CRMError

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
            probe.bind(address)
    except OSError as exc:
        raise CRMError(f"cannot listen on {host}:{port} ({exc.strerror}): give another --port, "
                       "or as --host an address of this machine") from None
