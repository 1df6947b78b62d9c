"""The dispatcher: from an HTTP request to an Endpoint's handler and back to JSON.

Order of work for one request, each step answering with one RFC 9457 problem document when
it refuses: match the route (404/405; HEAD is answered as GET, the server sending no body),
authenticate the ``Authorization: Bearer`` token (401),
check the endpoint's permission (403), validate the query and the JSON body against the
endpoint's schemas (415 for a body not sent as JSON, 400 for malformed JSON, 422 with the
JSON pointer of each problem, a key given twice in one object included), check the customer
a ``{customer}`` path parameter names (404 for an unknown one and, alike, for one a plugin's
row-level rule hides from the caller: ``crm.auth.named_customer``), run
the handler (every method but GET inside ``crm.run_transaction(..., actor=principal.handle)``,
so the handler's writes commit together and are audited under the caller; an endpoint with
``own_transactions`` opens its own, acting as the caller: with an ``Idempotency-Key`` one,
opened by its first write), and encode the result.  No stack trace ever reaches a client:
an unexpected exception is logged and answered with a bare 500 problem.
"""

from __future__ import annotations

import json
import logging
import math
import re
import string
import threading
import urllib.parse
from typing import Any, Iterable, Mapping, Sequence

import attrs
from sqlalchemy.exc import IntegrityError

from .. import i18n
from ..config import check_schema, describe_error, fill_defaults, schema_errors, schema_validator
from ..errors import (ConfigError, ConflictError, ConsentError, CRMError, DatabaseError,
                      HookFailed, NotFound, PermissionDenied, PluginError, PreconditionFailed,
                      Unauthenticated, ValidationError)
from ..models import jsonable
from ..types import (UNSTORABLE_TEXT, DuplicateKeyError, json_pointer, parse_json,
                     unstorable_text)
from . import idempotency
from .endpoints import CUSTOMER_PARAMETER, Call, Endpoint, Reply
from .schemas import INTEGER_MAX, INTEGER_MIN, parse_integer

log = logging.getLogger("crmkit.web")

API_PREFIX = "/api/v1"
"""Where the API is mounted; core endpoints sit right under it, plugins' under ``/<plugin>/``."""
MAX_BODY_BYTES = 1_048_576
"""The largest request body accepted (413 beyond)."""
PROBLEM_TYPE = "application/problem+json"
READ_METHODS = ("GET", "HEAD")
"""The methods that read: a HEAD is answered exactly as a GET of the same URL (the server
sends the status and headers only), here and on the web app's pages."""

_STATUS_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
                  405: "Method Not Allowed", 409: "Conflict", 412: "Precondition Failed",
                  413: "Content Too Large", 415: "Unsupported Media Type",
                  422: "Unprocessable Content", 500: "Internal Server Error",
                  503: "Service Unavailable"}


DATABASE_UNAVAILABLE = i18n.N_(
    "the database could not answer this request: try again in a moment, and tell an "
    "administrator if it goes on (the server's log has the details)")
"""What a client of the API or the web app is told of a :class:`crmkit.errors.DatabaseError`."""


def shown_message(exc: CRMError) -> str:
    """What a client of the API or a web page is told of ``exc``: its message, but for a
    DatabaseError :data:`DATABASE_UNAVAILABLE` (its message names the database: the URL's
    host, user and name, and quotes the database's own words), and for a HookFailed the
    plugin and hook that failed (its message quotes an exception that is no crmkit error:
    a library's or the database's words, SQL, internals); the rest is for the server's log
    (:func:`error_answer`)."""
    if isinstance(exc, DatabaseError):
        return DATABASE_UNAVAILABLE
    if isinstance(exc, HookFailed):
        return f"plugin {exc.plugin!r} failed in {exc.hook}: the server's log has the details"
    return str(exc)


def error_answer(exc: CRMError, where: str) -> tuple[int, str]:
    """The status (:func:`error_status`) and message (:func:`shown_message`) a client of the
    API or a web page gets for ``exc``; ``exc`` goes to the server's log, with ``where``
    (the request), when that is a 5xx or the message leaves something out."""
    status, shown = error_status(exc), shown_message(exc)
    if status >= 500 or shown != str(exc):
        log.error("%s: %s", where, exc)
    return status, shown


def allow_header(methods: Iterable[str]) -> str:
    """The ``Allow`` header of a path answering ``methods``: sorted, HEAD wherever GET is
    (a HEAD is answered as a GET)."""
    found = set(methods)
    return ", ".join(sorted(found | ({"HEAD"} if "GET" in found else set())))


def error_status(exc: CRMError) -> int:
    """The HTTP status of a crmkit error (by its class, else its nearest base class): a
    HookFailed, a plugin's bug and not the client's doing, is a 500."""
    for cls in type(exc).__mro__:
        status = _FAMILY_STATUS.get(cls)
        if status:
            return status
    return 422


_FAMILY_STATUS: dict[type, int] = {
    ValidationError: 422, ConfigError: 422, ConsentError: 422, NotFound: 404,
    ConflictError: 409, PreconditionFailed: 412, PluginError: 409, HookFailed: 500,
    DatabaseError: 503, Unauthenticated: 401, PermissionDenied: 403,
}


class ApiError(Exception):
    """A refusal of the HTTP layer itself (no route, wrong method, a body not sent as JSON or
    malformed, too large); ``errors`` as :func:`problem` takes them."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None,
                 errors: list[dict[str, str]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = errors


@attrs.frozen
class ApiRequest:
    """What the dispatcher needs of one HTTP request (read by the ASGI side)."""

    method: str
    path: str
    """The path below /api/v1, without the leading slash, percent-encoded as in the URL
    (``customers/C1``; ``customers/a%2Fb`` names the customer ``a/b``)."""
    query: Sequence[tuple[str, str]]
    headers: Mapping[str, str]
    """Lower-case header names."""
    body: bytes


@attrs.frozen
class ApiResponse:
    """What the dispatcher answers: status, headers and encoded body."""

    status: int
    body: bytes
    media_type: str = "application/json"
    headers: Mapping[str, str] = attrs.field(factory=dict)


def problem(status: int, detail: str, errors: list[dict[str, str]] | None = None,
            headers: Mapping[str, str] | None = None) -> ApiResponse:
    """An RFC 9457 problem document (``type`` about:blank, ``title`` the status's phrase);
    ``errors`` lists each problem with its JSON ``pointer`` (body) or ``parameter`` (query)."""
    document: dict[str, Any] = {"type": "about:blank", "title": _STATUS_TITLES.get(status, "Error"),
                                "status": status, "detail": detail}
    if errors:
        document["errors"] = errors
    return ApiResponse(status, encode(document), PROBLEM_TYPE, dict(headers or {}))


def encode(data: Any) -> bytes:
    """JSON bytes of handler data (Decimal as text, datetimes in ISO 8601, attrs objects)."""
    return json.dumps(jsonable(data), ensure_ascii=False, separators=(",", ":")).encode()


@attrs.frozen
class Mounted:
    """An Endpoint at its place: full path under /api/v1, mounting plugin, compiled matcher."""

    endpoint: Endpoint
    plugin: str | None
    path: str
    segments: tuple[tuple[bool, str], ...]
    body_validator: Any
    query_validator: Any

    def match(self, segments: tuple[str, ...]) -> dict[str, str] | None:
        """The path parameters when the decoded ``segments`` are this endpoint's path."""
        if len(segments) != len(self.segments):
            return None
        params = {}
        for (is_param, text), segment in zip(self.segments, segments):
            if is_param and segment:
                params[text] = segment
            elif is_param or segment != text:
                return None
        return params


_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _compile(path: str) -> tuple[tuple[bool, str], ...]:
    """A route path's segments: ``(True, name)`` for ``{name}``, ``(False, text)`` else."""
    return tuple((True, found.group(1)) if (found := _PARAM.fullmatch(part)) else (False, part)
                 for part in path.split("/"))


def encoded_path(scope: Mapping[str, Any]) -> str:
    """The request's whole path as the client sent it, percent-encoded (from the server's
    ``raw_path``, non-ASCII bytes encoded), so that an encoded ``/`` stays inside its
    segment; the decoded ``path`` encoded again without a raw path, or when the raw path is
    not that path's end."""
    path, raw = scope["path"], scope.get("raw_path")
    if raw:
        raw = raw.split(b"?", 1)[0]  # (some clients' raw path carries the query)
        sent = urllib.parse.quote_from_bytes(raw, safe=string.punctuation)
        try:
            decoded = urllib.parse.unquote_to_bytes(sent).decode("utf-8")
        except UnicodeDecodeError:
            decoded = None
        if decoded and path.endswith(decoded):
            return urllib.parse.quote(path[:len(path) - len(decoded)], safe="/") + sent
    return urllib.parse.quote(path, safe="/")


def route_path(scope: Mapping[str, Any]) -> str:
    """:func:`encoded_path` below the application's ``root_path``, without the leading slash
    (``api/v1/customers/a%2Fb``)."""
    return encoded_path(scope).split("/", scope.get("root_path", "").count("/") + 1)[-1]


def path_segments(path: str) -> tuple[str, ...] | None:
    """The decoded segments of a percent-encoded path: ``a%2Fb/c%20d`` is ``("a/b", "c d")``,
    so a parameter may hold ``/``.  None when a segment is no UTF-8 text once decoded."""
    try:
        return tuple(urllib.parse.unquote_to_bytes(part).decode("utf-8")
                     for part in path.split("/"))
    except UnicodeDecodeError:
        return None


def _route_key(item: Mounted) -> tuple[str, str]:
    return item.endpoint.method, _PARAM.sub("{}", item.path)


def mount(endpoint: Endpoint, plugin: str | None) -> Mounted:
    """Place ``endpoint`` (of ``plugin``, or the core's) and compile its path and schemas."""
    path = endpoint.path if plugin is None else f"{plugin}/{endpoint.path}".rstrip("/")
    where = f"{endpoint.method} {API_PREFIX}/{path}"
    validators = []
    for kind, schema in (("body", endpoint.body_schema), ("query", endpoint.query_schema)):
        if schema is None:
            validators.append(None)
            continue
        check_schema(schema, f"{where} {kind} schema")
        validators.append(schema_validator(schema))
    return Mounted(endpoint, plugin, path, _compile(path), *validators)


class Dispatcher:
    """Routes API requests of one CRM to the endpoints of the core and the enabled plugins.

    The table of endpoints is rebuilt when the enabled plugins change (checked on every
    request), so enabling or disabling a plugin changes the API without a restart.
    """

    def __init__(self, crm, core: Iterable[Endpoint] = (), max_body_bytes: int = MAX_BODY_BYTES):
        self.crm = crm
        self.core = list(core)
        self.max_body_bytes = max_body_bytes
        self._table: list[Mounted] = []
        self._table_key: Any = object()
        self._lock = threading.Lock()

    # -- the table ---------------------------------------------------------------------

    def table(self) -> list[Mounted]:
        """Every mounted endpoint for the plugin state last read (core first)."""
        with self._lock:
            # the hook caller too: another thread may be between setting the state and the hooks
            key = (self.crm.plugins_revision, id(self.crm.hooks))
            if key != self._table_key:
                self._table = self._build()
                self._table_key = key
            return self._table

    def refresh(self) -> list[Mounted]:
        """Read the plugin state from the database, then :meth:`table`."""
        with self.crm.read() as conn:
            self.crm.refresh_plugins(conn)
        return self.table()

    def _build(self) -> list[Mounted]:
        """The core's endpoints, then each enabled plugin's.  A plugin whose routes cannot be
        mounted (its hook fails, an Endpoint is malformed or taken) loses its routes, with
        the reason logged; the rest of the API keeps working."""
        table = [mount(endpoint, None) for endpoint in self.core]
        taken = {_route_key(item): "the core" for item in table}
        for name, _, _ in self.crm.hooks.impls("crmkit_routes"):
            try:
                mounted = self._plugin_routes(name, taken)
            except CRMError as exc:
                log.error("plugin %r: its HTTP routes are not served: %s", name, exc)
                continue
            taken.update((_route_key(item), f"plugin {name!r}") for item in mounted)
            table.extend(mounted)
        return table

    def _plugin_routes(self, name: str, taken: dict[tuple[str, str], str]) -> list[Mounted]:
        mounted: list[Mounted] = []
        for endpoint in self.crm.hooks.call_one(name, "crmkit_routes", None, crm=self.crm) or ():
            if not isinstance(endpoint, Endpoint):
                raise PluginError(f"crmkit_routes must return crmkit.plugin.Endpoint objects, "
                                  f"got {type(endpoint).__name__}")
            item = mount(endpoint, name)
            owner = taken.get(_route_key(item)) or next(
                (f"plugin {name!r}" for other in mounted if _route_key(other) == _route_key(item)),
                None)
            if owner is not None:
                raise PluginError(f"{endpoint.method} {API_PREFIX}/{item.path} is already "
                                  f"declared by {owner}")
            mounted.append(item)
        return mounted

    def match(self, method: str, path: str) -> tuple[Mounted, dict[str, str]]:
        """The endpoint for ``method path`` (HEAD: the GET endpoint) and its decoded path
        parameters; ApiError 404/405, whose ``Allow`` lists HEAD beside GET.  ``path`` is
        percent-encoded, as in the URL (:func:`path_segments`); a path with text no database
        can store names nothing: 404."""
        segments = path_segments(path)
        if segments is None or any(unstorable_text(segment) for segment in segments):
            raise ApiError(404, f"no API route {API_PREFIX}/{path!r}")
        wanted = "GET" if method == "HEAD" else method
        allowed = set()
        for item in self.table():
            found = item.match(segments)
            if found is None:
                continue
            if item.endpoint.method == wanted:
                return item, found
            allowed.add(item.endpoint.method)
        if allowed:
            listed = allow_header(allowed)
            raise ApiError(405, f"{method} is not allowed on {API_PREFIX}/{path} (allowed: "
                           f"{listed})", {"Allow": listed})
        raise ApiError(404, f"no API route {API_PREFIX}/{path}")

    # -- one request -------------------------------------------------------------------

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one request; never raises."""
        try:
            return self._handle(request)
        except ApiError as exc:
            return problem(exc.status, exc.detail, exc.errors, exc.headers)
        except CRMError as exc:
            return self._error(exc, request)
        except Exception:
            log.exception("internal error answering %s %s/%s", request.method, API_PREFIX,
                          request.path)
            return problem(500, "internal error: the server logged the details")

    def _error(self, exc: CRMError, request: ApiRequest) -> ApiResponse:
        status, shown = error_answer(exc, f"{request.method} {API_PREFIX}/{request.path}")
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
        errors = None
        if isinstance(exc, ValidationError) and exc.problems:
            errors = problem_errors(exc.problems, _is_list_body(request.body))
        return problem(status, shown, errors, headers)

    def _handle(self, request: ApiRequest) -> ApiResponse:
        """Read the plugin state, authenticate, answer.  A GET (or HEAD) does it all on one read
        connection (:meth:`crmkit.CRM.snapshot`): one snapshot of the data, one connection
        from the pool instead of one per read.  Other methods share one for the first two
        steps only; their handler runs in a write transaction, and what they read after it
        (a concurrent request's idempotency record) must be read fresh."""
        with self.crm.snapshot():
            self.refresh()
            principal = self.authenticate(request.headers)
            if request.method in READ_METHODS:
                return self.run(principal, request)
        return self.run(principal, request)

    def run(self, principal, request: ApiRequest, via: str = "api") -> ApiResponse:
        """Answer ``request`` for ``principal`` (already authenticated, plugin state already
        read): route, permission, query and body schemas, the customer of a ``{customer}``
        path parameter (:data:`crmkit.web.endpoints.CUSTOMER_PARAMETER`), then the handler
        (every method but GET in a transaction audited as ``"<via> METHOD /api/v1/<path>"``,
        or in those it opens itself, audited so too, with ``Endpoint.own_transactions``).
        Refusals raise ApiError or a crmkit error instead of being answered (:meth:`handle`
        answers them).

        The web app's pages call the API's handlers through this (``via="web"``), so a page
        obeys exactly the API's permissions, row-level rules and validation.
        """
        item, params = self.match(request.method, request.path)
        endpoint = item.endpoint
        self.crm.auth.require(principal, endpoint.permission)
        query = parse_query(item, request.query)
        body = parse_body(item, request.body, request.headers.get("content-type"))
        self.crm.auth.named_customer(principal, params.get(CUSTOMER_PARAMETER))
        headers = {k: v for k, v in request.headers.items() if k != "authorization"}
        call = Call(self.crm, principal, item.plugin, params, query, body, headers)
        if endpoint.method == "GET":
            return reply(endpoint.handler(call), endpoint.status)
        command = f"{via} {endpoint.method} {API_PREFIX}/{item.path}"
        key = request.headers.get(idempotency.HEADER)
        if key is not None and endpoint.method == "POST":
            return self._idempotent(item, call, request, idempotency.checked_key(key), command)
        if endpoint.own_transactions:
            with self.crm.acting_as(principal.handle, command):
                return reply(endpoint.handler(call), endpoint.status)

        def work(tx):
            tx.command = command
            return reply(endpoint.handler(call), endpoint.status)

        return self.crm.run_transaction(work, actor=principal.handle)

    def _idempotent(self, item: Mounted, call: Call, request: ApiRequest, key: str,
                    command: str) -> ApiResponse:
        """Run a POST once per (caller, Idempotency-Key); see :mod:`crmkit.web.idempotency`.
        The response is stored with the handler's writes, in their transaction: the one opened
        for the handler or, with ``own_transactions``, the one its first write opens, held
        until it returns (:meth:`crmkit.CRM.run_in_one_transaction`), so what it checks before
        writing still holds no write lock."""
        endpoint = item.endpoint
        actor = call.principal.handle
        request_hash = idempotency.fingerprint(request.method, request.path, request.query,
                                               request.body)
        with self.crm.read() as conn:
            found = idempotency.stored(conn, actor, key)
        if found is not None:
            return _replayed(found, request_hash, key)

        def answer_and_store() -> ApiResponse:
            answer = reply(endpoint.handler(call), endpoint.status)
            if answer.status < 300:
                with self.crm.transaction() as tx:  # the request's, still open
                    idempotency.store(tx.conn, actor, key, request_hash, answer.status,
                                      answer.body, dict(answer.headers), tx.now())
            return answer

        def work(tx):
            tx.command = command
            found = idempotency.stored(tx.conn, actor, key)  # committed while this one waited
            return found if found is not None else answer_and_store()

        try:
            if endpoint.own_transactions:
                with self.crm.acting_as(actor, command):
                    answer = self.crm.run_in_one_transaction(answer_and_store)
            else:
                answer = self.crm.run_transaction(work, actor=actor)
        except IntegrityError:
            with self.crm.read() as conn:
                found = idempotency.stored(conn, actor, key)
            if found is None:
                raise
            answer = found  # a concurrent request with this key committed first
        return _replayed(answer, request_hash, key) if isinstance(answer, dict) else answer

    def authenticate(self, headers: Mapping[str, str]):
        """The Principal of the request's bearer token (Unauthenticated without a valid one)."""
        scheme, _, secret = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("send an API token as 'Authorization: Bearer TOKEN' "
                                  "(`crmkit tokens create --staff HANDLE`)")
        return self.crm.auth.authenticate_token(secret.strip())


def _replayed(found: dict[str, Any], request_hash: str, key: str) -> ApiResponse:
    if found["request_hash"] != request_hash:
        raise idempotency.mismatch(key)
    return ApiResponse(found["status"], found["response"].encode("utf-8"),
                       headers={**found["headers"], "Idempotent-Replayed": "true"})


def reply(result: Any, status: int) -> ApiResponse:
    """Encode a handler's result (data, or a :class:`Reply` with its own status and headers)."""
    headers: Mapping[str, str] = {}
    if isinstance(result, Reply):
        status, headers, result = result.status, dict(result.headers), result.body
    if status == 204:
        return ApiResponse(204, b"", headers=headers)
    return ApiResponse(status, encode(result), headers=headers)


# -- request parsing ------------------------------------------------------------------------


JSON_MEDIA_TYPES = "application/json or application/*+json, with or without charset=utf-8"
"""The media types of a JSON request body (its ``Content-Type``)."""


def is_json_media_type(content_type: str) -> bool:
    """Whether ``content_type`` (a ``Content-Type`` value) is one of :data:`JSON_MEDIA_TYPES`
    (names compared without regard to case; no parameter but the charset)."""
    media, *parameters = content_type.split(";")
    kind, _, subtype = media.strip().lower().partition("/")
    if kind != "application" or not (subtype == "json" or (
            subtype.endswith("+json") and len(subtype) > len("+json"))):
        return False
    for parameter in filter(str.strip, parameters):
        name, _, value = parameter.partition("=")
        if name.strip().lower() != "charset" or value.strip().strip('"').lower() != "utf-8":
            return False
    return True


def parse_body(item: Mounted, raw: bytes, content_type: str | None) -> Any:
    """The request's JSON body validated against the endpoint's body schema (None if empty);
    a body whose ``content_type`` is not one of :data:`JSON_MEDIA_TYPES` is a 415."""
    if not raw.strip():
        if item.body_validator is not None:
            _raise_schema_errors(item.body_validator, None, "body", item)
        return None
    if item.body_validator is None:
        raise ValidationError(f"{item.endpoint.method} {API_PREFIX}/{item.path} takes no "
                              "request body", [("body", "", "no body is accepted here")])
    if not is_json_media_type(content_type or ""):
        sent = "without a Content-Type" if content_type is None else f"as {content_type!r}"
        message = f"the body is sent {sent} (allowed: {JSON_MEDIA_TYPES})"
        raise ApiError(415, f"{item.endpoint.method} {API_PREFIX}/{item.path} takes a JSON "
                       f"body: {message}", errors=[{"header": "Content-Type", "detail": message}])
    try:
        text = raw.decode("utf-8")
        body = parse_json(text)
    except UnicodeDecodeError as exc:
        raise ApiError(400, f"the request body is not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"the request body is not valid JSON: {exc.msg} at line "
                       f"{exc.lineno} column {exc.colno}") from None
    except DuplicateKeyError as exc:
        raise ValidationError(f"body: {exc}", [("body", exc.pointer, exc.problem)]) from None
    except ValueError as exc:
        raise ApiError(400, f"the request body is not acceptable JSON: {exc}") from None
    if ("\\u0000" in text or "\\ud" in text.lower()) and unstorable_text(body):
        raise ValidationError(f"body: {UNSTORABLE_TEXT}", [("body", "", UNSTORABLE_TEXT)])
    return _raise_schema_errors(item.body_validator, body, "body", item)


def _raise_schema_errors(validator, document: Any, where: str, item: Mounted) -> Any:
    if document is None:
        raise ValidationError("a JSON request body is required",
                              [(where, "", "required: a JSON document")])
    document = fill_defaults(validator.schema, document)
    errors = schema_errors(validator, document, f"{API_PREFIX}/{item.path} {where} schema")
    if errors:
        problems = [(where, *_split_described(describe_error(e))) for e in errors]
        raise ValidationError.from_problems(problems)
    return document


def _split_described(text: str) -> tuple[str, str]:
    """``"/a/b: message"`` → ``("/a/b", "message")`` (describe_error's form)."""
    pointer, _, message = text.partition(": ")
    return ("" if pointer == "/" else pointer), message


def parse_query(item: Mounted, pairs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The query parameters, coerced to their declared types and validated (defaults filled).

    A parameter given twice is refused unless the schema declares it an array.
    """
    schema = item.endpoint.query_schema
    if schema is None:
        if pairs:
            raise ValidationError(f"{API_PREFIX}/{item.path} takes no query parameters",
                                  [("query", pairs[0][0], "unknown parameter (allowed: none)")])
        return {}
    properties = schema.get("properties", {})
    problems: list[tuple[str, str, str]] = []
    query: dict[str, Any] = {}
    for name, text in pairs:
        if unstorable_text(text) or unstorable_text(name):
            problems.append(("query", name, UNSTORABLE_TEXT))
            continue
        declared = properties.get(name, {})
        if declared.get("type") == "array":
            query.setdefault(name, []).append(_coerce(text, declared.get("items", {}), name,
                                                      problems))
        elif name in query:
            problems.append(("query", name, "given more than once"))
        else:
            query[name] = _coerce(text, declared, name, problems)
    if problems:
        raise ValidationError.from_problems(problems)
    query = fill_defaults(schema, query)
    errors = schema_errors(item.query_validator, query, f"{API_PREFIX}/{item.path} query schema")
    if errors:
        found = []
        for error in errors:
            pointer, message = _split_described(describe_error(error))
            found.append(("query", pointer.lstrip("/").split("/")[0], message))
        raise ValidationError.from_problems(found)
    return query


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def _coerce(text: str, schema: dict[str, Any], name: str, problems: list) -> Any:
    kind = schema.get("type")
    if kind == "integer":
        integer = parse_integer(text.strip())
        if integer is None:
            problems.append(("query", name, f"{text!r} is not an integer (ASCII digits, from "
                                            f"{INTEGER_MIN} to {INTEGER_MAX})"))
            return text
        return integer
    if kind == "number":
        try:
            value = float(text.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            problems.append(("query", name, f"{text!r} is not a number"))
            return text
        return value
    if kind == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        problems.append(("query", name, f"{text!r} is not a boolean (true or false)"))
    return text


# -- problems -----------------------------------------------------------------------------


_ROW = re.compile(r"row (\d+)\Z")
_SUB_POINTER = re.compile(r"(/[^:\s]*): (.*)\Z", re.S)


def problem_errors(problems: Iterable[tuple[str, str, str]], list_body: bool
                   ) -> list[dict[str, str]]:
    """The ``errors`` member of a problem document: each ValidationError problem with the JSON
    pointer into the request body (or the query ``parameter``) it is about.

    Problems of the request checks carry their pointer already (``("body", "/a/b", …)``); those
    of the write pipeline name a field of a record (``("", "email", …)`` for a single object,
    ``("row 3", "kind", …)`` for the third element of a list body), and a field's own
    ``/pointer: message`` (attributes, payloads) extends the pointer.
    """
    errors = []
    for where, field, message in problems:
        if where in ("query", "header"):
            errors.append({"parameter" if where == "query" else "header": field,
                           "detail": message})
            continue
        if where == "body":
            errors.append({"pointer": field, "detail": message})
            continue
        row = _ROW.match(where)
        base = json_pointer([str(int(row.group(1)) - 1)]) if row and list_body else ""
        pointer = base if field in ("", "row") else base + json_pointer([field])
        sub = _SUB_POINTER.match(message)
        if sub:
            pointer, message = pointer + ("" if sub.group(1) == "/" else sub.group(1)), sub.group(2)
        errors.append({"pointer": pointer, "detail": message})
    return errors


def _is_list_body(raw: bytes) -> bool:
    return raw.lstrip()[:1] == b"["


__all__ = ["API_PREFIX", "MAX_BODY_BYTES", "PROBLEM_TYPE", "READ_METHODS", "ApiError", "ApiRequest",
           "ApiResponse", "DATABASE_UNAVAILABLE", "Dispatcher", "Mounted", "allow_header",
           "error_answer", "error_status", "mount", "problem", "shown_message",
           "problem_errors", "parse_body", "parse_query", "reply", "encode", "JSON_MEDIA_TYPES",
           "is_json_media_type"]
