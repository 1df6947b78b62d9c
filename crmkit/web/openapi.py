"""The OpenAPI 3.1 description of the API, generated from the mounted Endpoints' schemas.

OpenAPI 3.1 schemas are JSON Schema 2020-12, the dialect of crmkit's configuration schemas,
so an Endpoint's ``body_schema``, ``query_schema`` and ``response_schema`` go in unchanged;
a schema with its own ``$defs`` gets an ``$id`` so that its local ``#/$defs/...`` references
resolve inside it rather than against the OpenAPI document.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from .. import __version__
from .dispatch import API_PREFIX, PROBLEM_TYPE, Mounted

PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"},
        "status": {"type": "integer"}, "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "pointer": {"type": "string", "description": "JSON pointer into the request body"},
            "parameter": {"type": "string", "description": "the query parameter"},
            "detail": {"type": "string"}}}},
    },
}
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


def _embedded(schema: dict[str, Any], name: str) -> dict[str, Any]:
    if "$defs" in schema and "$id" not in schema:
        return {"$id": f"urn:crmkit:api:{name}", **schema}
    return schema


def operation(item: Mounted) -> dict[str, Any]:
    """The OpenAPI operation object of one mounted endpoint."""
    endpoint = item.endpoint
    operation_id = _NOT_WORD.sub("_", f"{endpoint.method.lower()} {item.path}").strip("_")
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(item.path)]
    query = endpoint.query_schema or {}
    for name, schema in query.get("properties", {}).items():
        parameters.append({"name": name, "in": "query",
                           "required": name in query.get("required", ()),
                           "schema": _embedded(schema, f"{operation_id}:query:{name}")})
    if endpoint.method == "POST":
        parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": {"type": "string", "maxLength": 200},
                           "description": "a retried request with the same key returns the "
                                          "first response and writes nothing twice"})
    if endpoint.method == "PATCH":
        parameters.append({"name": "If-Match", "in": "header", "required": False,
                           "schema": {"type": "string"},
                           "description": "the ETag last read: a stale one is refused with 412"})
    success: dict[str, Any] = {"description": endpoint.summary}
    if endpoint.status != 204:
        success["content"] = {"application/json": {"schema": _embedded(
            endpoint.response_schema or {}, f"{operation_id}:response")}}
    document: dict[str, Any] = {
        "operationId": operation_id,
        "summary": endpoint.summary,
        "description": f"Requires the permission `{endpoint.permission}`.",
        "tags": [item.plugin or item.path.split("/")[0]],
        "x-permission": endpoint.permission,
        "parameters": parameters,
        "responses": {str(endpoint.status): success, "default": {
            "description": "a problem (RFC 9457)",
            "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
    }
    if endpoint.body_schema is not None:
        document["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": _embedded(endpoint.body_schema, f"{operation_id}:body")}}}
    return document


def openapi_document(table: Iterable[Mounted]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every mounted endpoint (core first, then each plugin's)."""
    paths: dict[str, dict[str, Any]] = {
        "/health": {"get": {"operationId": "health", "summary": "Whether the server is up.",
                            "security": [], "tags": ["server"],
                            "responses": {"200": {"description": "the server is up"}}}}}
    for item in table:
        path = f"{API_PREFIX}/{item.path}"
        paths.setdefault(path, {})[item.endpoint.method.lower()] = operation(item)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "crmkit API", "version": __version__,
                 "description": "The HTTP API of a crmkit CRM: the core's resources and every "
                                "enabled plugin's routes. Authenticate with "
                                "`Authorization: Bearer TOKEN` (`crmkit tokens create`)."},
        "paths": paths,
        "components": {"schemas": {"Problem": PROBLEM_SCHEMA},
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


__all__ = ["PROBLEM_SCHEMA", "openapi_document", "operation"]
