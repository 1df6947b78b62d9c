"""In-process HTTP clients of ``crmkit.web.create_app(crm)`` (no server, no port): one with a
staff member's API token, one signed in to the staff web app.  Plugin tests use them through
:mod:`crmkit.devtools.testing`; ``crmkit plugins check`` uses the web app's to serve a plugin's
pages.  They need no test framework, only Starlette's ``TestClient``."""

from __future__ import annotations

import contextlib
import re
import secrets


def _member(crm, handle: str, role: str, team: str) -> None:
    """Add staff member ``handle`` with ``role`` and ``team`` unless they exist."""
    from ..errors import NotFound

    try:
        crm.staff.get(handle)
    except NotFound:
        crm.staff.add(handle, handle.title(), team, role=role)


@contextlib.contextmanager
def api_client(crm, role: str = "admin", handle: str | None = None, team: str = "staff"):
    """An HTTP client on ``crmkit.web.create_app(crm)`` (in-process: no server, no port),
    sending the API token of staff member ``handle`` (default: the role's name).

    The staff member is added with ``role`` and ``team`` unless they exist; a new token is
    created each time.  The client is a ``starlette.testclient.TestClient``: ``client.get(
    "/api/v1/...")``, ``client.post(..., json=...)``; answers keep the app's status codes.
    """
    from starlette.testclient import TestClient

    from ..web import create_app

    handle = handle or role
    _member(crm, handle, role, team)
    _token, secret = crm.tokens.create(handle, name="api_client")
    with TestClient(create_app(crm), headers={"Authorization": f"Bearer {secret}"},
                    raise_server_exceptions=True) as client:
        yield client


def api_pages(client, path: str, params: dict | None = None) -> list[list[dict]]:
    """The items of each page of a paged listing or report (``{"items", "next_cursor"}``),
    following ``next_cursor`` until it is null; each page's status must be 200.  ``params``
    go with every request (the first's ``as_of`` only with the first: a cursor carries it)."""
    pages, query = [], dict(params or {})
    while True:
        answer = client.get(path, params=query)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        pages.append(page["items"])
        if page["next_cursor"] is None:
            return pages
        query = {**{k: v for k, v in query.items() if k != "as_of"},
                 "cursor": page["next_cursor"]}


@contextlib.contextmanager
def web_client(crm, role: str = "admin", handle: str | None = None, team: str = "staff"):
    """An HTTP client on ``crmkit.web.create_app(crm)`` (in-process), signed in to the staff web
    app as ``handle`` (default: the role's name) through its sign-in form, so a plugin's
    pages can be tested as a member sees them: ``client.get("/<plugin>/<page>")``.

    The staff member is added with ``role`` and ``team`` unless they exist, and given a new
    password.  Forms the test posts need the session's CSRF token: :func:`csrf_token` reads
    it from a page.
    """
    from starlette.testclient import TestClient

    from ..web import create_app

    handle = handle or role
    _member(crm, handle, role, team)
    password = secrets.token_urlsafe(16)
    crm.staff.set_password(handle, password)
    with TestClient(create_app(crm), raise_server_exceptions=True) as client:
        signed = client.post("/login", data={"csrf_token": csrf_token(client.get("/login").text),
                                             "username": handle, "password": password},
                             follow_redirects=False)
        if signed.status_code != 303:
            raise AssertionError(f"signing {handle} in failed: {signed.status_code} {signed.text}")
        yield client


def csrf_token(page: str) -> str:
    """The CSRF token of the first form of the web page ``page`` (its HTML)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if found is None:
        raise AssertionError("the page has no form with a CSRF token")
    return found.group(1)


__all__ = ["api_client", "web_client", "csrf_token"]
