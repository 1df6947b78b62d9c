"""What every page of the staff web app goes through: sign-in, CSRF, and crmkit errors shown
as error pages (:func:`signed_in`), and how pages become routes (:func:`site_pages`).

Handlers receive the app's :class:`crmkit.web.pages.Pages` (``site``) first; this module
only calls its methods, so every area of the app, plugin pages included, can use it
without importing the pages module.
"""

from __future__ import annotations

import functools
import urllib.parse
from typing import Callable, Iterable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from .. import i18n
from ..errors import ConfigError, CRMError
from .dispatch import READ_METHODS, encoded_path, error_answer, path_segments, route_path

CSRF_REFUSED = i18n.N_("refused: this form's security token is missing or out of date "
                       "(reload the page and send the form again); nothing was changed")
"""The page of a POST without the session's CSRF token (or with another one)."""


def site_pages(site, *pages: tuple[str, str, Callable]) -> list[BaseRoute]:
    """The routes of web pages (``(method, path, handler)``; a handler gets ``site`` first),
    kept out of the API's schema (see :func:`path_routes`)."""
    return path_routes((method, path, functools.partial(handler, site))
                       for method, path, handler in pages)


def path_routes(pages: Iterable[tuple[str, str, Callable]]) -> list[BaseRoute]:
    """One route per path for ``(method, path, async handler)`` triples, calling the
    handler of the request's method (a HEAD: the GET handler), kept out of the API's schema,
    matched on the path as sent (:class:`_SentPathRoute`).  One route per path, so that a
    405 lists in ``Allow`` every method the path answers."""
    by_path: dict[str, dict[str, Callable]] = {}
    for method, path, handler in pages:
        by_path.setdefault(path, {})[method] = handler
    return [_path_route(path, handlers) for path, handlers in by_path.items()]


def _path_route(path: str, handlers: dict[str, Callable]) -> Route:
    async def endpoint(request: Request) -> Response:
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    return _SentPathRoute(path, endpoint, methods=list(handlers), include_in_schema=False)


class _SentPathRoute(Route):
    """A route matched on the path as the client sent it, percent-encoded
    (:func:`crmkit.web.dispatch.route_path`), each parameter decoded once matched: as in the
    API, a parameter may hold an encoded ``/`` (``/customers/2024%2F001`` is the page of the
    customer ``2024/001``), and ``/customers/2024/001`` names no page."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        found = self.path_regex.match("/" + route_path(scope)) if scope["type"] == "http" else None
        if found is None:
            return Match.NONE, {}
        params = {}
        for name, text in found.groupdict().items():
            segments = path_segments(text)
            if segments is None:  # not UTF-8 once decoded
                return Match.NONE, {}
            params[name] = self.param_convertors[name].convert("/".join(segments))
        child = {"endpoint": self.endpoint,
                 "path_params": {**scope.get("path_params", {}), **params}}
        if self.methods and scope["method"] not in self.methods:
            return Match.PARTIAL, child
        return Match.FULL, child


def signed_in(handler: Callable) -> Callable:
    """Run a page handler for a signed-in member (else redirect to /login) in a worker
    thread, answering crmkit errors with an error page of the API's status (a configuration
    error: 500) and the API's words (:func:`crmkit.web.dispatch.error_answer`: a database
    error names no database, its details go to the server's log); a POST's form too large or
    without the session's CSRF token is refused first (``Pages.form``)."""

    async def page(self, request: Request) -> Response:
        principal = await run_in_threadpool(self.member, request)
        if principal is None:
            root = request.scope.get("root_path", "")
            wanted = here(request)
            if request.method not in READ_METHODS:
                return self.refused(request, 403, CSRF_REFUSED)
            return RedirectResponse(
                f"{root}/login?{urllib.parse.urlencode({'next': wanted})}", 303)
        form = None
        if request.method == "POST":
            form = await self.form(request, principal)
            if isinstance(form, Response):
                return form
        try:
            return await run_in_threadpool(self.in_language, request, handler, principal, form)
        except ConfigError as exc:
            return self.refused(request, 500, str(exc), principal)
        except CRMError as exc:
            status, shown = error_answer(exc, f"{request.method} {request.url.path}")
            return self.refused(request, status, shown, principal)

    return page


def here(request: Request) -> str:
    """The path (percent-encoded as sent: :func:`crmkit.web.dispatch.encoded_path`) and query
    of ``request``."""
    return encoded_path(request.scope) + (f"?{request.url.query}" if request.url.query else "")


__all__ = ["signed_in", "site_pages", "path_routes", "here", "CSRF_REFUSED"]
