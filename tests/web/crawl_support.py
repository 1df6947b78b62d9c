"""A crawler of the whole app as one staff member: every GET route of the API (read from its
OpenAPI document) and every page of the web app (read from the app's route table and the
enabled plugins' pages), path parameters filled from what the lists answer.

A ``{customer}`` or ``{external_id}`` is filled with the customers of the member's customer
list (every page) and the values answers hold under ``customer`` or a key ending in
``_external_id`` (a customer merged away: ``duplicate_external_id``).  Another parameter is
filled with the ``id`` (for a ``…_id``), the parameter's own key or the ``name`` of the rows
of the lists whose path ends with the word before the parameter (``operational/tasks`` for
``operational/tasks/{task_id}``), or, when no list does, the values any answer holds under
the parameter's name (``"team": "support"`` for ``queues/{team}``).  Values held by objects
mentioning one of the ``watch`` texts come first (the customers and records related to the
one watched); a parameter takes at most :data:`MAX_VALUES` values, a customer parameter
:data:`MAX_CUSTOMERS`.  A list is read with its largest ``limit``, once more for each value
of each query parameter that takes a few (an ``enum``, a boolean), and page after page
(``next_cursor``, ``next_after``).  A page's links are followed (a link whose query does not
lead to a list's next page: once per route and set of query names).  :meth:`Crawl.unreached`
names the routes no request reached.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import urllib.parse
from typing import Any, Iterable, Iterator, Mapping

import attrs
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from crmkit.web.dispatch import API_PREFIX
from crmkit.web.endpoints import CUSTOMER_PARAMETER
from crmkit.web.plugin_pages import PluginPages

from web_support import without_csrf_tokens

CUSTOMER_PARAMETERS = (CUSTOMER_PARAMETER, "external_id")
"""Path parameters naming a customer by external id: the plugins' ``{customer}``, the core's
``{external_id}``."""
MAX_CUSTOMERS = 12
"""The most customers a customer parameter is filled with (those related to a watched
text first): every route of every customer would take minutes."""
MAX_VALUES = 10
"""The most values another path parameter is filled with (a list of a thousand products is
read 10 times, not a thousand)."""
PAGING = {"next_cursor": "cursor", "next_after": "after"}
"""A list's key naming its next page, and the query parameter asking for that page."""
PAGE_QUERIES = frozenset({"cursor", "after", "before"})
"""Query parameters of a page's links that lead to the next page of a list."""
_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(:[a-z]+)?\}")
_LINK = re.compile(r'(?:href|src)="([^"]*)"')


@attrs.frozen
class Answer:
    """What one GET answered: the route (``GET /api/v1/operational/tasks/{task_id}``), the
    status, the media type and the body as text (forms' CSRF tokens blanked)."""

    route: str
    status: int
    media_type: str
    text: str


@attrs.frozen
class Template:
    """A GET route: its path with ``{parameters}``, its query parameters (name → JSON
    Schema) and whether it is the API's (else a page of the web app)."""

    path: str
    query: Mapping[str, Any] = attrs.field(factory=dict)
    api: bool = False

    @property
    def route(self) -> str:
        return f"GET {self.path}"

    @property
    def parameters(self) -> list[str]:
        return [name for name, _ in _PARAMETER.findall(self.path)]

    def match(self, path: str) -> dict[str, str] | None:
        """The parameters of ``path`` (a link's, percent-encoded) when it is one of this
        route's, decoded; else None."""
        pattern, last = [], 0
        for found in _PARAMETER.finditer(self.path):
            pattern += [re.escape(self.path[last:found.start()]),
                        "(.+)" if found.group(2) == ":path" else "([^/]+)"]
            last = found.end()
        matched = re.fullmatch("".join(pattern) + re.escape(self.path[last:]), path)
        return None if matched is None else dict(zip(
            self.parameters, map(urllib.parse.unquote, matched.groups())))

    def filled(self, values: Mapping[str, Any]) -> str:
        return _PARAMETER.sub(lambda m: urllib.parse.quote(str(values[m.group(1)]), safe=""),
                              self.path)


def api_templates(openapi: Mapping[str, Any]) -> list[Template]:
    """The API's GET routes, from its OpenAPI document."""
    return [Template(path, {p["name"]: p["schema"] for p in operations["get"]["parameters"]
                            if p["in"] == "query"}, api=True)
            for path, operations in openapi["paths"].items()
            if "get" in operations and path.startswith(API_PREFIX)]


def page_templates(app, crm) -> list[Template]:
    """The web app's GET routes: the app's own (the API's and the plugins' pages' catch-all
    routes left out) and each enabled plugin's pages."""
    found = []
    for route in app.routes:
        if isinstance(route, Mount):
            found.append(Template(route.path + "/{name:path}"))
        elif (isinstance(route, Route) and "GET" in (route.methods or ())
              and not route.path.startswith((API_PREFIX, "/{plugin}/{first}"))):
            found.append(Template(route.path))
    for plugin, (_, pages) in PluginPages(crm).table().items():
        found += [Template(f"/{plugin}{page.path}") for _, page in pages
                  if "GET" in page.methods]
    return found


def rows(data: Any) -> Iterator[dict[str, Any]]:
    """The rows of a list answer: its objects, those of its ``items`` or of any list an object
    answer holds."""
    lists = [data] if isinstance(data, list) else [
        value for value in data.values() if isinstance(value, list)] if isinstance(
        data, dict) else []
    return (row for found in lists for row in found if isinstance(row, dict))


def objects(data: Any) -> Iterator[dict[str, Any]]:
    """Every object of a JSON document, nested ones included."""
    if isinstance(data, dict):
        yield data
        data = list(data.values())
    if isinstance(data, list):
        for item in data:
            yield from objects(item)


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


class Crawl:
    """One member's crawl: the API with their ``token``, the pages with ``session`` (a
    ``TestClient`` of the same app, signed in), each route of ``exempt`` left out."""

    def __init__(self, app, crm, token: str, session: TestClient, exempt: Iterable[str],
                 watch: Iterable[str] = ()):
        self.api = TestClient(app, headers={"Authorization": f"Bearer {token}"},
                              raise_server_exceptions=False)
        self.session = session
        skipped = set(exempt)
        self.templates = [template for template in [
            *api_templates(self.api.get("/openapi.json").json()), *page_templates(app, crm)]
            if template.path not in skipped]
        self.watch = [text.casefold() for text in watch]
        self.answers: dict[str, Answer] = {}
        self.data: dict[str, list[Any]] = {}
        """The JSON answers (200) of each route, decoded."""
        self.customers: dict[str, None] = {}
        """The external ids the customer list answered, in its order."""
        self.named: dict[str, None] = {}
        """The values answers hold under ``customer`` or a key ending in ``_external_id``
        (a customer merged away, say)."""
        self.near: dict[Any, None] = {}
        """The values of objects that mention a watched text."""
        self.pending: list[tuple[Template, str]] = []
        self.queried: set[tuple[str, frozenset[str]]] = set()

    def run(self, also: Iterable[tuple[Template, str]] = ()) -> dict[str, Answer]:
        """Crawl until nothing new turns up; ``also``: more ``(route, URL)`` to request.
        Returns every URL requested with its answer."""
        self.pending += also
        while True:
            for template in self.templates:
                self.pending += [(template, url) for url in self.urls(template)]
            fresh = dict((url, template) for template, url in self.pending
                         if url not in self.answers)
            self.pending = []
            if not fresh:
                return self.answers
            for url, template in fresh.items():
                self.get(template, url)

    def template(self, route: str) -> Template:
        """The route's template (``GET /customers/{external_id}``)."""
        return next(t for t in self.templates if t.route == route)

    def unreached(self) -> dict[str, str]:
        """The routes no request reached (none answered below 400), each with why: no value
        found for its parameters, or what it answered."""
        answered: dict[str, list[int]] = {}
        for answer in self.answers.values():
            answered.setdefault(answer.route, []).append(answer.status)
        return {template.route: (f"answered only {sorted(set(answered[template.route]))}"
                                 if template.route in answered else
                                 f"no value found for {', '.join(template.parameters)}")
                for template in self.templates
                if min(answered.get(template.route, [400])) >= 400}

    # -- what to request ---------------------------------------------------------------

    def values(self, template: Template, parameter: str) -> list[Any]:
        """The values the answers so far give ``parameter`` of ``template``."""
        if parameter in CUSTOMER_PARAMETERS:
            return self._first({**self.customers, **self.named}, MAX_CUSTOMERS)
        segments = template.path.split("/")
        collection = "/" + segments[segments.index("{" + parameter + "}") - 1]
        fallback = "id" if parameter.endswith("_id") else "name"
        lists = [t.route for t in self.templates
                 if t.path.endswith(collection) and t.path != template.path]
        found = [row.get(parameter, row.get(fallback)) for route in lists
                 for data in self.data.get(route, ()) for row in rows(data)]
        if not lists:
            found = [item[parameter] for answers in self.data.values() for data in answers
                     for item in objects(data) if _plain(item.get(parameter))]
        return self._first(dict.fromkeys(v for v in found if _plain(v)), MAX_VALUES)

    def _first(self, values: Mapping[Any, None], most: int) -> list[Any]:
        return sorted(values, key=lambda v: v not in self.near)[:most]

    def urls(self, template: Template) -> Iterator[str]:
        """The URLs of ``template`` that the answers so far fill (a page's other parameters
        come from the links leading to it)."""
        names = template.parameters
        if not template.api and set(names) - set(CUSTOMER_PARAMETERS):
            return
        for combination in itertools.product(*(self.values(template, n) for n in names)):
            path = template.filled(dict(zip(names, combination)))
            yield from (path + query for query in self.queries(template))

    @staticmethod
    def queries(template: Template) -> Iterator[str]:
        """The query of a list read whole, then one per value of each query parameter that
        takes a few."""
        base = {name: schema["maximum"] for name, schema in template.query.items()
                if name == "limit" and "maximum" in schema}
        yield "?" + urllib.parse.urlencode(base) if base else ""
        for name, schema in template.query.items():
            items = schema.get("items", {}) if schema.get("type") == "array" else schema
            options = items.get("enum") or (
                ["true", "false"] if items.get("type") == "boolean" else [])
            for option in options:
                yield "?" + urllib.parse.urlencode({**base, name: option})

    def follow(self, link: str) -> None:
        """Request a link of a page later: a path of the app's pages; one with a query once
        per route and query names, unless it leads to a list's next page."""
        parts = urllib.parse.urlsplit(link)
        if parts.scheme or parts.netloc or not parts.path.startswith("/"):
            return
        for template in self.templates:
            params = None if template.api else template.match(parts.path)
            if params is not None:
                break
        else:
            return
        if any(value not in self.values(template, name) for name, value in params.items()
               if name in CUSTOMER_PARAMETERS):
            return  # the pages of the customers chosen, as in the API
        names = frozenset(urllib.parse.parse_qs(parts.query))
        if names and not names & PAGE_QUERIES:
            if (template.path, names) in self.queried:
                return
            self.queried.add((template.path, names))
        self.pending.append((template, link))

    # -- requests ----------------------------------------------------------------------

    def get(self, template: Template, url: str) -> Answer:
        """Request ``url`` (of ``template``); note what its answer gives to fill parameters,
        its next page and its links."""
        client = self.api if template.api else self.session
        answer = client.get(url, follow_redirects=False)
        media = answer.headers.get("content-type", "").split(";")[0]
        shown = Answer(template.route, answer.status_code, media,
                       without_csrf_tokens(answer.text))
        self.answers[url] = shown
        if answer.is_redirect:
            self.follow(answer.headers["location"])
        elif media == "text/html":
            for link in _LINK.findall(answer.text):
                self.follow(html.unescape(link))
        elif media == "application/json" and answer.status_code == 200:
            self.note(template, url, answer.json())
        return shown

    def note(self, template: Template, url: str, data: Any) -> None:
        self.data.setdefault(template.route, []).append(data)
        if template.path == f"{API_PREFIX}/customers":
            self.customers.update((row["external_id"], None) for row in rows(data))
        for item in objects(data):
            self.named.update((value, None) for key, value in item.items() if isinstance(
                value, str) and (key == CUSTOMER_PARAMETER or key.endswith("_external_id")))
            text = json.dumps(item, ensure_ascii=False).casefold()
            if any(watched in text for watched in self.watch):
                self.near.update((v, None) for v in item.values() if _plain(v))
        if not isinstance(data, dict) or not any(rows(data)):
            return
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        for key, parameter in PAGING.items():
            position = data.get(key)
            if position is not None and query.get(parameter) != str(position):
                self.pending.append((template, url.split("?")[0] + "?" + urllib.parse.urlencode(
                    {**query, parameter: position})))
