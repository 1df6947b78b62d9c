"""The staff web app: server-rendered pages (Jinja2, autoescaped) beside the JSON API.

``/login`` and sign-out, ``/customers?q=`` (the API's own search handler), the customer
360 ``/customers/{external_id}`` (profile, consent, timeline, one card per enabled plugin)
and ``/settings/language`` (the member's language, :mod:`crmkit.i18n`).
A signed session cookie (:mod:`crmkit.web.session`) names the staff member; every page
checks the same permissions as the API (``crm.auth``) and masks personal data the same way;
every POST must carry the session's CSRF token (403 and nothing changed otherwise).
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable

import attrs
import jinja2
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from .. import i18n
from ..errors import ConflictError, NotFound, Unauthenticated, ValidationError
from ..models import jsonable
from . import resources, session as sessions
from .cards import customer_cards
from .dispatch import READ_METHODS, ApiError, ApiRequest, Dispatcher, encode, shown_message
from .endpoints import Call
from .formatting import FILTERS, format_number
from .mywork import show as show_my_work
from .plugin_pages import PluginPages
from .signin import CSRF_REFUSED, here, path_routes, signed_in

HERE = Path(__file__).resolve().parent
TIMELINE_WINDOW = 200
"""How many of a customer's newest timeline entries the 360 page reads (then filters)."""
SEARCH_PAGE = 50
"""How many customers one search page lists."""
MAX_FORM_BYTES = 65_536
"""The largest form body a page accepts."""
FORM_TOO_LARGE = i18n.N_("refused: this form is larger than {limit} bytes, the most a form may "
                         "send (shorten its text and send it again); nothing was changed")
"""The page of a POST whose form is larger than :data:`MAX_FORM_BYTES`."""


@functools.cache
def templates(folder: Path | None = None) -> jinja2.Environment:
    """The web app's templates (in the package; with ``folder``, a plugin's templates
    folder, whose templates are found first), every value autoescaped; text is marked
    for translation (``{{ _("…") }}``, ``{% trans %}``) and formatted by
    :mod:`crmkit.web.formatting`'s filters.

    The environment is built once: ``_``, ``gettext`` and ``ngettext`` (newstyle:
    ``_("%(n)s left", n=3)``) translate into the language :func:`crmkit.i18n.activated`
    makes current, so every template, macros imported without context included, renders in
    the request's language."""
    loader = jinja2.FileSystemLoader([*([folder] if folder else []), HERE / "templates"])
    environment = jinja2.Environment(loader=loader,
                                     autoescape=True, undefined=jinja2.StrictUndefined,
                                     extensions=["jinja2.ext.i18n"])
    environment.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    # What Pages.render passes for each request, as it is outside one (English).
    environment.globals.update(locale=i18n.DEFAULT_LOCALE, locales=i18n.LOCALES,
                               chosen_locale=None, here="")
    environment.filters.update(FILTERS)
    return environment


class Pages:
    """The page handlers of one CRM's web app."""

    def __init__(self, crm, dispatcher: Dispatcher):
        self.crm = crm
        self.dispatcher = dispatcher
        """The API's dispatcher: :meth:`api` runs its handlers."""
        self.plugin_pages = PluginPages(crm)
        """The enabled plugins' pages (the ``crmkit_web_pages`` hook)."""
        self._key: bytes | None = None

    # -- plumbing ----------------------------------------------------------------------

    def key(self) -> bytes:
        if self._key is None:
            self._key = sessions.session_key(self.crm)
        return self._key

    def session(self, request: Request) -> dict[str, Any] | None:
        return sessions.unsign(self.key(), request.cookies.get(sessions.COOKIE))

    def done_redirect(self, request: Request, path: str, done: str, item: str = ""
                      ) -> RedirectResponse:
        """303 back to ``path`` (under the app's root) after a change, with a notice of what
        was done (``?done=…&item=…``) signed for this session (``mark``)."""
        mark = sessions.notice_mark(self.key(), self.session(request), done, item)
        query = urllib.parse.urlencode({"done": done, **({"item": item} if item else {}),
                                        "mark": mark})
        return RedirectResponse(f"{request.scope.get('root_path', '')}{path}?{query}", 303)

    def done_notice(self, request: Request) -> tuple[str, str]:
        """The ``(done, item)`` notice :meth:`done_redirect` sent to this session; ``("", "")``
        for none, or for a link made for another session or altered."""
        params = request.query_params
        done, item = params.get("done", ""), params.get("item", "")
        if done and sessions.notice_ok(self.key(), self.session(request), params.get("mark"),
                                       done, item):
            return done, item
        return "", ""

    def render(self, request: Request, name: str, status: int = 200,
               session: dict[str, Any] | None = None, principal=None, **values: Any
               ) -> HTMLResponse:
        """The page ``name`` in the request's language with the session's CSRF token, the
        signed-in principal and ``values``; sets the cookie when ``session`` is new.

        Besides ``values`` the templates get ``locale`` (the page's BCP 47 tag, also what
        the formatting filters use), ``timezone`` (the CRM's), ``locales`` (tag → name),
        ``chosen_locale`` (the member's preference or None), ``here`` (where the
        language switcher returns: this page, when it was asked for with GET) and ``nav``
        (the links to plugin pages the principal may see, :class:`NavLink`).  On a plugin's
        page, that plugin's templates are found before the core's."""
        current = self.session(request)
        fresh = session is not None and session != current
        session = session or current or sessions.new_session(None, self.crm.clock.now())
        language = self.language(request)
        environment = templates(getattr(request.state, "templates", None))
        with i18n.activated(language):
            nav = [] if principal is None else [
                attrs.evolve(link, title=i18n.gettext(link.title))
                for link in self.plugin_pages.nav(principal)]
            html = environment.get_template(name).render(
                **_shared_values(request, session, principal, language), nav=nav,
                locales=i18n.LOCALES, chosen_locale=getattr(request.state, "chosen_locale", None),
                here=here(request) if request.method in READ_METHODS else "", **values)
        response = HTMLResponse(html, status)
        if fresh or current is None:
            self.set_cookie(request, response, session)
        response.headers["Cache-Control"] = "no-store"
        return response

    def fragment(self, request: Request, folder: Path | None, name: str, principal=None,
                 **values: Any) -> Markup:
        """The template ``name`` rendered as a piece of this request's page (a plugin's My
        work item, say): found in a plugin's templates ``folder`` before the core's, in the
        request's language, with the page's ``root``, ``csrf``, ``csrf_field``,
        ``principal``, ``locale``, ``timezone`` and ``values``."""
        session = self.session(request) or sessions.new_session(None, self.crm.clock.now())
        language = self.language(request)
        with i18n.activated(language):
            return Markup(templates(folder).get_template(name).render(
                **_shared_values(request, session, principal, language), **values))

    def my_work_action(self, request: Request, principal, path: str, body: Any, done: str
                       ) -> Response:
        """A My work action: send one write to the API (``POST /api/v1/<path>`` with
        ``body``) as ``principal``; then back to My work with the notice ``done`` (a key of
        the section's ``notices``), or My work showing the refusal (409 for a conflict,
        such as a hand-off acknowledged already, 422 for what the rules refuse).  Other
        refusals (403, 404) show the error page."""
        try:
            self.api(principal, "POST", path, body=body)
        except ConflictError as exc:
            return show_my_work(self, request, principal, 409, shown_message(exc))
        except ValidationError as exc:
            return show_my_work(self, request, principal, 422, str(exc))
        return self.done_redirect(request, "/my-work", done)

    def set_cookie(self, request: Request, response: Response, session: dict[str, Any]) -> None:
        response.set_cookie(sessions.COOKIE, sessions.sign(self.key(), session),
                            max_age=int(sessions.MAX_AGE.total_seconds()),
                            path=request.scope.get("root_path", "") or "/", httponly=True,
                            samesite="lax", secure=request.url.scheme == "https")

    def member(self, request: Request):
        """The signed-in member's Principal (or None, see :meth:`principal`); settles the
        request's language: the member's preference, else the browser's.  Reads the plugin
        state first, as the API does for each request, so that the page (its cards, panels,
        My work sections, plugin pages and navigation) follows a plugin that another process
        enabled or disabled."""
        self.dispatcher.refresh()
        principal = self.principal(request)
        preference = None
        if principal is not None:
            preference = self.crm.staff.get(principal.handle).locale
        request.state.chosen_locale = preference
        request.state.language = i18n.language(
            self.crm, i18n.negotiate(preference, request.headers.get("accept-language")))
        return principal

    def language(self, request: Request) -> i18n.Language:
        """The request's language (settled by :meth:`member`; for pages shown to anyone,
        the browser's ``Accept-Language``)."""
        chosen = getattr(request.state, "language", None)
        if chosen is None:
            chosen = i18n.language(self.crm,
                                   i18n.negotiate(None, request.headers.get("accept-language")))
        return chosen

    def in_language(self, request: Request, handler: Callable, principal, form) -> Response:
        """Run a page handler with the request's language current (plugin cards translate
        with :func:`crmkit.i18n.gettext`)."""
        with i18n.activated(self.language(request)):
            return handler(self, request, principal, form)

    def principal(self, request: Request):
        """The signed-in staff member's Principal, or None (no, expired, forged or signed-out
        session, a member no longer active, or whose password changed since they signed in)."""
        session = self.session(request)
        handle = sessions.signed_in_handle(session, self.crm.clock.now())
        if (handle is None or session.get("password") != sessions.password_mark(self.crm, handle)
                or sessions.revoked(self.crm, session)):
            return None
        try:
            return self.crm.auth.principal(handle)
        except Unauthenticated:
            return None

    async def form(self, request: Request, principal=None) -> dict[str, str] | Response:
        """The URL-encoded form of a POST (first value of each field), or the page refusing
        it (nothing changed): 413 when it is larger than :data:`MAX_FORM_BYTES`, 403 without
        the session's CSRF token."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                with i18n.activated(self.language(request)):
                    message = i18n.gettext(FORM_TOO_LARGE).format(
                        limit=format_number(MAX_FORM_BYTES))
                return self.refused(request, 413, message, principal)
        pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        fields: dict[str, str] = {}
        for name, value in pairs:
            fields.setdefault(name, value)
        if not sessions.csrf_ok(self.session(request), fields.get(sessions.CSRF_FIELD)):
            return self.refused(request, 403, CSRF_REFUSED, principal)
        return fields

    def refused(self, request: Request, status: int, message: str, principal=None
                ) -> HTMLResponse:
        """The error page of ``status`` saying ``message`` (in the request's language when a
        catalogue translates it: texts marked with :func:`crmkit.i18n.N_`)."""
        with i18n.activated(self.language(request)):
            message = i18n.gettext(message)
        return self.render(request, "error.html", status, principal=principal,
                           code=status, message=message)

    # -- pages -------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        return self.render(request, "login.html", next=_local(request.query_params.get("next")),
                           error=None, username="")

    async def login(self, request: Request) -> Response:
        form = await self.form(request)
        if isinstance(form, Response):
            return form
        target = _local(form.get("next")) or f"{request.scope.get('root_path', '')}/customers"
        try:
            principal = await run_in_threadpool(self.crm.auth.authenticate_password,
                                                form.get("username", ""),
                                                form.get("password", ""))
        except Unauthenticated as exc:
            return self.render(request, "login.html", 401, next=_local(form.get("next")),
                               error=str(exc), username=form.get("username", ""))
        mark = await run_in_threadpool(sessions.password_mark, self.crm, principal.handle)
        response = RedirectResponse(target, 303)
        self.set_cookie(request, response,
                        sessions.new_session(principal.handle, self.crm.clock.now(), mark))
        return response

    async def logout(self, request: Request) -> Response:
        """End the session on the server (its cookie is refused from now on, in every
        browser holding it; the member's other sessions go on) and go to the sign-in page."""
        form = await self.form(request)
        if isinstance(form, Response):
            return form
        session = self.session(request)
        if sessions.signed_in_handle(session, self.crm.clock.now()) is not None:
            await run_in_threadpool(sessions.revoke, self.crm, session)
        response = RedirectResponse(f"{request.scope.get('root_path', '')}/login", 303)
        self.set_cookie(request, response, sessions.new_session(None, self.crm.clock.now()))
        return response

    async def home(self, request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/customers", 303)

    @signed_in
    def customers(self, request: Request, principal, form) -> Response:
        self.crm.auth.require(principal, "customers.read")
        q = request.query_params.get("q", "")
        cursor = request.query_params.get("cursor", "")
        query: dict[str, Any] = {"limit": SEARCH_PAGE}
        if q.strip():
            query["q"] = q
        if cursor:
            query["cursor"] = cursor
        error, found = None, {"items": [], "next_cursor": None}
        try:
            found = resources.search_customers(self._call(principal, query))
        except ValidationError as exc:
            error = shown_message(exc)
        return self.render(request, "customers.html", 422 if error else 200,
                           principal=principal, q=q, items=found["items"],
                           following=found["next_cursor"], first_page=not cursor, error=error,
                           personal=self.crm.auth.allowed(principal, "customers.pii"))

    @signed_in
    def customer(self, request: Request, principal, form) -> Response:
        external_id = request.path_params["external_id"]
        call = self._call(principal, {"limit": TIMELINE_WINDOW}, external_id)
        with self.crm.snapshot():  # the profile, timeline and every card from one snapshot
            document = resources.get_customer(call).body
            entries = resources.customer_timeline(call)
            consents = []
            if self.crm.auth.allowed(principal, "customers.pii"):
                consents = [jsonable(c) for c in self.crm.customers.consents(external_id)]
            cards = customer_cards(self.crm, principal, document)
        sources = sorted({e["source"] for e in entries})
        kinds = sorted({e["kind"] for e in entries})
        source, kind = request.query_params.get("source", ""), request.query_params.get("kind", "")
        shown = [e for e in entries if (not source or e["source"] == source)
                 and (not kind or e["kind"] == kind)]
        return self.render(
            request, "customer.html", principal=principal, customer=document,
            consents=consents, consents_visible=self.crm.auth.allowed(principal,
                                                                      "customers.pii"),
            cards=cards, timeline=shown, sources=sources, kinds=kinds, source=source,
            kind=kind, can_note=self.crm.auth.allowed(principal, "interactions.write"),
            window=TIMELINE_WINDOW, note_error=None)

    @signed_in
    def add_note(self, request: Request, principal, form) -> Response:
        self.crm.auth.require(principal, "interactions.write")
        call = self._call(principal, {}, request.path_params["external_id"])
        external_id = resources.get_customer(call).body["external_id"]
        text = (form or {}).get("note", "").strip()
        if not text:
            return self.refused(request, 422,
                                i18n.N_("the note is empty: write the note's text"), principal)

        def write(tx):
            tx.command = "web POST /customers/{external_id}/notes"
            self.crm.interactions.record(customer=external_id, occurred_at=tx.now(),
                                         kind="note", channel="web", payload={"text": text})

        try:
            self.crm.run_transaction(write, actor=principal.handle)
        except ValidationError as exc:
            return self.refused(request, 422, str(exc), principal)
        root = request.scope.get("root_path", "")
        return RedirectResponse(f"{root}/customers/{urllib.parse.quote(external_id, safe='')}",
                                303)

    def customer_names(self, principal, external_ids: Iterable[str]) -> dict[str, str | None]:
        """The names of customers as ``principal`` may see them: ``***`` unless allowed
        ``customers.pii`` on the customer; none at all without ``customers.read`` on it (the
        role's, then plugins' row-level rules on the customer's full document: every customer
        read in two queries)."""
        crm = self.crm
        if not crm.auth.allowed(principal, "customers.read"):
            return {}
        documents = crm.customers.documents(crm.customers.by_external_id(external_ids))
        access = crm.auth.customer_access(principal, documents)
        return {ref: (document if access[ref] else crm.auth.masked_customer(document))["name"]
                for ref, document in documents.items() if ref in access}

    def api(self, principal, method: str, path: str, query: dict[str, Any] | None = None,
            body: Any = None) -> Any:
        """The decoded answer of the API's ``METHOD /api/v1/<path>`` for ``principal``: the
        same handler, permission, row-level rules and validation as over HTTP (writes in a
        transaction audited as ``web METHOD …``).  ``query`` values may be lists (repeated
        parameters).  Refusals raise the crmkit error the API would answer with; a route
        that is not served (its plugin is not enabled) is NotFound."""
        self.dispatcher.refresh()
        pairs = [(name, _query_text(item)) for name, value in (query or {}).items()
                 for item in (value if isinstance(value, list) else [value])]
        request = ApiRequest(method, path, pairs,
                             {} if body is None else {"content-type": "application/json"},
                             b"" if body is None else encode(body))
        try:
            answer = self.dispatcher.run(principal, request, via="web")
        except ApiError as exc:  # no such route (404/405), or a malformed request (400/413)
            raise (NotFound if exc.status in (404, 405) else ValidationError)(exc.detail) from None
        return json.loads(answer.body) if answer.body else None

    @signed_in
    def set_language(self, request: Request, principal, form) -> Response:
        """Store the member's language (a tag of :data:`crmkit.i18n.LOCALES`, or empty:
        follow the browser) and go back to the page the switcher was on."""
        choice = (form or {}).get("locale", "") or None

        def write(tx):
            tx.command = "web POST /settings/language"
            self.crm.staff.set_locale(principal.handle, choice)

        try:
            self.crm.run_transaction(write, actor=principal.handle)
        except ValidationError as exc:
            return self.refused(request, 422, str(exc), principal)
        root = request.scope.get("root_path", "")
        return RedirectResponse(_local((form or {}).get("next")) or f"{root}/customers", 303)

    def _call(self, principal, query: dict[str, Any], external_id: str | None = None) -> Call:
        params = {} if external_id is None else {"external_id": external_id}
        return Call(self.crm, principal, None, params, query, None)

    # -- routes ------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            *path_routes([
                ("GET", "/", self.home),
                ("GET", "/login", self.login_page),
                ("POST", "/login", self.login),
                ("POST", "/logout", self.logout),
                ("GET", "/customers", self.customers),
                ("GET", "/customers/{external_id}", self.customer),
                ("POST", "/customers/{external_id}/notes", self.add_note),
                ("POST", "/settings/language", self.set_language),
            ]),
            Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
        ]


def _shared_values(request: Request, session: dict[str, Any], principal,
                   language: i18n.Language) -> dict[str, Any]:
    """What every template of a page gets, pieces included."""
    return {"root": request.scope.get("root_path", ""), "csrf": session["csrf"],
            "csrf_field": sessions.CSRF_FIELD, "principal": principal, "locale": language.tag,
            "timezone": language.timezone}


def _query_text(value: Any) -> str:
    """A query parameter's text (booleans as ``true``/``false``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _local(target: str | None) -> str | None:
    """``target`` when it is a path on this site (no scheme, host or ``//``), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


__all__ = ["Pages", "templates", "TIMELINE_WINDOW",
           "SEARCH_PAGE", "MAX_FORM_BYTES", "FORM_TOO_LARGE"]
