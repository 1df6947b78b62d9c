"""Pages that plugins add to the staff web app (the ``crmkit_web_pages`` hook).

A plugin returns :class:`WebPages`: its pages and the folder holding its ``templates/``
and ``static/``.  While the plugin is enabled the app serves each page at
``/<plugin><path>`` and each file of ``static/`` at ``/<plugin>/static/<file>``; otherwise
those answer 404 (a method a page does not take: 405, its ``Allow`` listing those it does).
A page is for signed-in members only (others go to the sign-in page), and so are the files
(others get the 404 of an unknown path, as for any path under ``/<plugin>/`` that is not a
page: nothing tells them which plugins are installed); a POST must carry the session's CSRF
token (403, handler not run, otherwise), and the crmkit errors a handler raises show the
error page of the API's status, as for the core's pages.
A page with a ``title`` gets a link in the top navigation, shown to the members who hold
its ``permission``.  A path under one of the core's own top-level names (``/customers``,
``/admin``, ``/dashboards`` …) is the core's, so a plugin with such a name cannot add pages.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol

import attrs
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from ..errors import CRMError, PluginError
from ..i18n import N_
from .dispatch import allow_header
from .endpoints import METHODS
from .signin import signed_in

log = logging.getLogger("crmkit.web")

NO_PAGE = N_("no such page: the address is wrong, or the plugin that serves it is not enabled")
"""The error page of a plugin page or file that is not served."""


class Site(Protocol):
    """What a plugin's page handler, My work sections and actions may use of the web app
    (``site``; it is :class:`crmkit.web.pages.Pages`).  Everything else of it is the
    app's own."""

    crm: Any
    """The CRM the app serves."""

    def render(self, request: Request, name: str, status: int = 200, session=None,
               principal=None, **values: Any) -> Response:
        """The page ``name`` (a template of the plugin's ``templates/``, which may extend the
        core's ``base.html``) in the request's language, ``values`` autoescaped."""

    def api(self, principal, method: str, path: str, query: dict[str, Any] | None = None,
            body: Any = None) -> Any:
        """The decoded answer of ``METHOD /api/v1/<path>`` as ``principal`` (the API's
        permissions, row-level rules and validation); refusals raise crmkit errors."""

    def customer_names(self, principal, external_ids) -> dict[str, str | None]:
        """Customers' names as ``principal`` may see them."""

    def refused(self, request: Request, status: int, message: str, principal=None
                ) -> Response:
        """The error page of ``status`` saying ``message``."""

    def done_redirect(self, request: Request, path: str, done: str, item: str = ""
                      ) -> Response:
        """303 to ``path`` with a notice of what was done, signed for this session."""

    def done_notice(self, request: Request) -> tuple[str, str]:
        """The ``(done, item)`` notice :meth:`done_redirect` sent to this session."""

    def my_work_action(self, request: Request, principal, path: str, body: Any, done: str
                       ) -> Response:
        """One API write (``POST /api/v1/<path>``), then My work with the notice ``done``
        or with the refusal."""


@attrs.frozen
class WebPage:
    """One page of a plugin: ``path`` under ``/<plugin>`` (starting with ``/``; Starlette's
    ``{name}`` and ``{name:int}`` parameters, read from ``request.path_params``), the HTTP
    ``methods`` it answers (GET and POST) and its ``handler``.

    ``handler(site, request, principal, form) -> Response`` runs in a worker thread for a
    signed-in member; ``site`` is the web app (:class:`Site`: ``render``, ``api``,
    ``refused``, ``customer_names``, ``crm`` …), ``form`` the POST's fields (None for
    GET).  ``title`` puts the page in the navigation for members holding ``permission``
    (every signed-in member when None), translated when it is shown (mark it with
    :func:`crmkit.plugin.N_` for the plugin's catalogue); a page without a title, or whose
    path has parameters, is reached by links only.
    """

    path: str
    handler: Callable[..., Response]
    methods: tuple[str, ...] = attrs.field(default=("GET",), converter=tuple)
    title: str | None = None
    permission: str | None = None

    def __attrs_post_init__(self) -> None:
        if (not self.path.startswith("/") or len(self.path) < 2
                or self.path.split("/")[1] == "static"):
            raise PluginError(f"web page path {self.path!r}: must be '/' and a name (the "
                              "plugin's own page is /<plugin>/<name>), not under /static "
                              "(the plugin's files)")
        unknown = set(self.methods) - {"GET", "POST"}
        if unknown or not self.methods:
            raise PluginError(f"web page {self.path!r}: methods must be GET and/or POST, "
                              f"not {sorted(unknown) or 'none'}")


@attrs.frozen
class WebPages:
    """What a plugin adds to the web app: its ``pages`` and the ``folder`` holding its
    ``templates/`` (found before the core's, so they can ``{% extends "base.html" %}``) and
    ``static/`` (served at ``/<plugin>/static/`` to signed-in members); either may be
    missing."""

    folder: Path
    pages: tuple[WebPage, ...] = attrs.field(converter=tuple)


@attrs.frozen
class NavLink:
    """A link of the top navigation to a plugin page."""

    plugin: str
    href: str
    title: str


@attrs.frozen
class _Found:
    plugin: str
    folder: Path
    page: WebPage
    params: dict[str, Any]


class PluginPages:
    """The enabled plugins' pages of one CRM, asked of the hook once per change of the
    enabled plugins."""

    def __init__(self, crm):
        self.crm = crm
        self._key: Any = None
        self._table: dict[str, tuple[WebPages, list[tuple[Route, WebPage]]]] = {}

    def table(self, reread: bool = False
              ) -> dict[str, tuple[WebPages, list[tuple[Route, WebPage]]]]:
        """``{plugin: (its WebPages, [(route, page)])}`` of the enabled plugins (with
        ``reread``, the plugin state read again first; else as the CRM last read it, which
        every signed-in page does first, see ``Pages.member``).  A plugin whose hook fails or answers something else than
        :class:`WebPages` has no pages (the reason logged); the others keep theirs."""
        if reread:
            with self.crm.read() as conn:
                self.crm.refresh_plugins(conn)
        key = tuple(self.crm.enabled_plugins())
        if key != self._key:
            table = {}
            for name, _, _ in self.crm.hooks.impls("crmkit_web_pages"):
                try:
                    answer = self.crm.hooks.call_one(name, "crmkit_web_pages", None,
                                                     crm=self.crm)
                    if not isinstance(answer, WebPages):
                        raise PluginError(f"crmkit_web_pages must return crmkit.plugin."
                                          f"WebPages, not {type(answer).__name__}")
                except CRMError as exc:
                    log.error("plugin %r: its web pages are not served: %s", name, exc)
                    continue
                table[name] = (answer, [(Route(page.path, _unused, methods=list(page.methods)),
                                         page) for page in answer.pages])
            self._table, self._key = table, key
        return self._table

    def find(self, plugin: str, path: str, method: str) -> _Found | set[str]:
        """The page of ``plugin`` at ``path`` answering ``method`` (HEAD as GET), else the
        methods the pages at ``path`` answer (empty: no such page); the plugin state read
        again."""
        method = "GET" if method == "HEAD" else method
        entry = self.table(reread=True).get(plugin)
        if entry is None:
            return set()
        pages, routes = entry
        allowed = set()
        for route, page in routes:
            match = route.path_regex.match(path)
            if match and method in page.methods:
                params = {name: route.param_convertors[name].convert(value)
                          for name, value in match.groupdict().items()}
                return _Found(plugin, pages.folder, page, params)
            if match:
                allowed.update(page.methods)
        return allowed

    def folder(self, plugin: str) -> Path | None:
        """The templates folder of an enabled ``plugin`` that has pages (None otherwise)."""
        entry = self.table().get(plugin)
        return None if entry is None else entry[0].folder / "templates"

    def static_file(self, plugin: str, name: str) -> Path | None:
        """The file ``name`` of ``plugin``'s ``static/`` folder (None when the plugin is not
        enabled, has no such file, or ``name`` leads out of the folder or is no file name the
        system takes: a null byte, too long); the plugin state read again."""
        entry = self.table(reread=True).get(plugin)
        if entry is None:
            return None
        folder = (entry[0].folder / "static").resolve()
        try:
            target = (folder / name).resolve()
            return target if folder in target.parents and target.is_file() else None
        except (OSError, ValueError):
            return None

    def nav(self, principal) -> Iterator[NavLink]:
        """The navigation links to plugin pages that ``principal`` may see, in plugin order."""
        for plugin, (_, routes) in self.table().items():
            for _, page in routes:
                if page.title is not None and "{" not in page.path and (
                        page.permission is None
                        or self.crm.auth.allowed(principal, page.permission)):
                    yield NavLink(plugin, f"/{plugin}{page.path}", page.title)


def _unused(request: Request) -> None:  # pragma: no cover - routes here only match paths
    raise AssertionError("plugin page routes are matched, never called")


def _not_served(site, request: Request, plugin: str, principal) -> Response:
    """404 for a path under ``/<plugin>/`` that is not served: to a signed-in member
    (``principal``), the error page when ``plugin`` names an installed plugin (a page of one
    that is disabled, say); else the app's usual 404 problem document (``/api/v2/…`` is no
    page of anyone's), also to anyone not signed in, whom it must not tell which plugins are
    installed."""
    if principal is not None and plugin in site.crm.installed:
        return site.refused(request, 404, NO_PAGE, principal)
    raise HTTPException(404)


def plugin_routes(site, core: Iterable[BaseRoute]) -> list[Route]:
    """The app's routes for every plugin page and file, after the ``core`` routes: they
    match no path under one of the core's top-level names (``/customers/…``,
    ``/admin/…``), which the core answers (its 404, or its 405 for a method that path does
    not take); a method a plugin's path does not take is a 405 too."""
    from starlette.concurrency import run_in_threadpool

    registry = site.plugin_pages
    taken = frozenset(route.path.split("/")[1] for route in core)

    async def page(request: Request) -> Response:
        params = request.path_params
        plugin, path = params["plugin"], f"/{params['first']}{params['rest']}"
        found = await run_in_threadpool(registry.find, plugin, path, request.method)
        if not isinstance(found, _Found):
            if found:  # the page takes other methods
                raise HTTPException(405, headers={"Allow": allow_header(found)})
            principal = await run_in_threadpool(site.member, request)
            return _not_served(site, request, plugin, principal)
        request.scope["path_params"] = found.params
        request.state.templates = found.folder / "templates"
        return await signed_in(found.page.handler)(site, request)

    async def static(request: Request) -> Response:
        plugin = request.path_params["plugin"]
        principal = await run_in_threadpool(site.member, request)
        target = None if principal is None else await run_in_threadpool(
            registry.static_file, plugin, request.path_params["name"])
        if target is None:
            return _not_served(site, request, plugin, principal)
        return FileResponse(target)

    return [_PluginRoute("/{plugin}/static/{name:path}", static, taken, methods=["GET"]),
            # {first}: at least one character (a page's path is '/' and a name)
            _PluginRoute("/{plugin}/{first}{rest:path}", page, taken, methods=list(METHODS))]


class _PluginRoute(Route):
    """A route under ``/{plugin}/`` that matches no path whose first segment is ``taken``
    (by the core's routes), kept out of the API's schema."""

    def __init__(self, path: str, endpoint: Callable, taken: frozenset[str], methods: list[str]):
        super().__init__(path, endpoint, methods=methods, include_in_schema=False)
        self.taken = taken

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is not Match.NONE and child["path_params"]["plugin"] in self.taken:
            return Match.NONE, {}
        return match, child


__all__ = ["Site", "WebPage", "WebPages", "NavLink", "PluginPages", "plugin_routes",
           "NO_PAGE"]
