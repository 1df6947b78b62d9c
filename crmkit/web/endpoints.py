"""Declared HTTP endpoints, framework-neutral: what the core and every plugin mount under /api/v1.

A plugin returns a list of :class:`Endpoint` from its ``crmkit_routes(crm)`` hook; they are
mounted under ``/api/v1/<plugin>/``.  The core's own resources are Endpoint lists too.  The
dispatcher (:mod:`crmkit.web.dispatch`) authenticates the caller, checks ``permission``,
validates the query and the body against their JSON Schemas, runs the handler (inside
``crm.run_transaction(..., actor=principal.handle)`` for every method but GET) and turns
crmkit errors into RFC 9457 problem documents.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping

import attrs

if TYPE_CHECKING:  # pragma: no cover
    from ..app import CRM
    from ..auth import Principal

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
"""The HTTP methods an Endpoint may declare."""
CUSTOMER_PARAMETER = "customer"
"""The path parameter that names a customer by external id (``members/{customer}``): the
dispatcher answers an unknown customer, and one a plugin's row-level rule hides from the
caller, with the same 404 before the handler runs (``crm.auth.named_customer``)."""


def _check_method(instance, attribute, value) -> None:
    if value not in METHODS:
        raise ValueError(f"Endpoint method {value!r} is not one of {', '.join(METHODS)}")


def _check_path(instance, attribute, value) -> None:
    if not isinstance(value, str) or value.startswith("/") or "//" in value:
        raise ValueError(f"Endpoint path {value!r} must be relative to its mount "
                         "(\"leads/{external_id}\", no leading or double slash)")


@attrs.frozen
class Endpoint:
    """One HTTP operation: method, path (relative to its mount), handler, permission, schemas.

    ``handler(call)`` returns JSON-able data (sent with ``status``) or a :class:`Reply`.
    A ``{customer}`` path parameter is a customer's external id, checked before the handler
    runs (:data:`CUSTOMER_PARAMETER`).
    ``body_schema`` and ``query_schema`` are JSON Schemas (Draft 2020-12) checked before the
    handler runs; query values are coerced to the integer/number/boolean types the query
    schema declares.  ``response_schema`` documents the success body in ``/openapi.json``.
    """

    method: str = attrs.field(validator=_check_method)
    path: str = attrs.field(validator=_check_path)
    handler: Callable[["Call"], Any]
    permission: str
    summary: str
    body_schema: dict | None = None
    query_schema: dict | None = None
    response_schema: dict | None = None
    status: int = 200
    own_transactions: bool = False
    """True: the handler opens its own write transactions (acting as the caller), instead of
    running in one: plugin administration, whose checks must not hold the write lock.  Each
    should be ``crm.run_transaction``'s, which runs one PostgreSQL aborts for a concurrent
    transaction again (as the one opened for an ordinary handler does); the dispatcher cannot
    run the handler again, whose earlier transactions may have committed.  A POST with an
    ``Idempotency-Key`` is the exception: the transactions its handler opens are one, opened
    by the first (``crm.run_in_one_transaction``), which stores the response with the writes
    and commits when the handler returns; what the handler does before its first write still
    holds no write lock, and the dispatcher runs it again from the start when PostgreSQL
    aborts that transaction."""


@attrs.frozen
class Reply:
    """A handler's answer when it needs its own status or headers (``ETag``, ``Location``)."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = attrs.field(factory=lambda: MappingProxyType({}))


@attrs.frozen
class Call:
    """What a handler receives: the CRM, who is calling, and the validated request."""

    crm: "CRM"
    principal: "Principal"
    plugin: str | None
    """The plugin that mounted the endpoint (``"operational"``); None for the core's routes."""
    path_params: dict[str, str]
    query: dict[str, Any]
    """The query parameters, validated against the endpoint's query schema (defaults filled)."""
    body: Any
    """The request body, parsed and validated against the endpoint's body schema, or None."""
    headers: Mapping[str, str] = attrs.field(factory=lambda: MappingProxyType({}))
    """The request headers (lower-case names), without the caller's credentials."""

    def api(self) -> Any:
        """The public API of the mounting plugin (``crm.plugin(call.plugin)``)."""
        if self.plugin is None:
            raise ValueError("a core endpoint has no plugin API")
        return self.crm.plugin(self.plugin)

    def require(self, permission: str, resource: dict | None = None) -> None:
        """Raise PermissionDenied (or NotFound for a row the caller may not see) unless the
        caller holds ``permission`` (on ``resource``): ``crm.auth.require(principal, …)``."""
        self.crm.auth.require(self.principal, permission, resource)


__all__ = ["METHODS", "CUSTOMER_PARAMETER", "Endpoint", "Reply", "Call"]
