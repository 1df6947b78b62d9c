"""/openapi.json is valid OpenAPI 3.1 and lists every mounted route; /docs works offline."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

import crmkit_webtest
from crmkit import CRM
from crmkit.devtools import docgen

from web_support import InProcess

UNDOCUMENTED = {("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/docs/{name}")}
"""The description and its page describe the API; they are not part of it."""
PLUGINS_IN_ORDER = sorted(docgen.builtin_plugins(), key=lambda name: name not in ("analytical",))


def mounted_operations(app) -> set[tuple[str, str]]:
    """(method, path) of every route the application answers: its own and the API's (not the
    web app's pages, which are declared outside the schema)."""
    found = set()
    for route in app.routes:
        if (isinstance(route, Route) and route.include_in_schema
                and "{path:path}" not in route.path):
            found.update((method, route.path) for method in route.methods - {"HEAD"})
    for item in app.state.dispatcher.table():
        found.add((item.endpoint.method, f"/api/v1/{item.path}"))
    return found - UNDOCUMENTED


def missing_from(document: dict, app) -> list[str]:
    """Mounted operations the OpenAPI document does not list (and listed ones not mounted)."""
    listed = {(method.upper(), path) for path, operations in document["paths"].items()
              for method in operations}
    mounted = mounted_operations(app)
    return ([f"not in /openapi.json: {m} {p}" for m, p in sorted(mounted - listed)]
            + [f"listed but not mounted: {m} {p}" for m, p in sorted(listed - mounted)])


@pytest.fixture
def everything(crm_url, clock):
    """The API in-process with every built-in plugin and the webtest plugin enabled."""
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"webtest": crmkit_webtest}) as crm:
        for name in [*PLUGINS_IN_ORDER, "webtest"]:
            crm.plugins.enable(name)
        helper = InProcess(crm)
        yield helper
        helper.close()


def test_every_mounted_route_is_in_the_openapi_document(everything):
    document = everything.client().get("/openapi.json").json()
    assert missing_from(document, everything.app) == []
    plugins = {tag for operations in document["paths"].values()
               for operation in operations.values() for tag in operation["tags"]}
    assert "webtest" in plugins
    echo = document["paths"]["/api/v1/webtest/echo/{thing}"]["post"]
    assert echo["x-permission"] == "customers.read"
    assert echo["requestBody"]["content"]["application/json"]["schema"]["required"] == ["name"]
    assert {p["name"]: p["in"] for p in echo["parameters"]} == {
        "thing": "path", "limit": "query", "exact": "query", "tag": "query",
        "Idempotency-Key": "header"}


def test_the_limits_of_the_listings_are_those_the_api_guide_states(everything):
    """The API guide's "Pagination and limits": the core's listings at most 200 (default
    50); operational's and social's lists, and the reports and the listings paged by key
    (campaigns' coupons, collaborative's queues, social's identities, catalogue's products,
    loyalty's statements) a page at a time, at most 1000 (default 100); the other plugins' lists none."""
    document = everything.client().get("/openapi.json").json()
    bounds = {}
    for path, operations in document["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] == "limit":
                schema = parameter["schema"]
                bounds[path] = (schema["minimum"], schema["maximum"], schema["default"])
    plugin_lists = {f"/api/v1/operational/{name}" for name in
                    ("leads", "opportunities", "tasks", "cases")} | {"/api/v1/social/mentions"}
    reports = {"/api/v1/analytical/rfm", "/api/v1/analytical/clv/predictions",
               "/api/v1/catalogue/profit", "/api/v1/catalogue/offers", "/api/v1/idic/groups",
               "/api/v1/idic/due", "/api/v1/analytical/segments/{name}",
               "/api/v1/valuechain/suggestions", "/api/v1/social/referrals",
               "/api/v1/campaigns/campaigns/{name}/coupons",
               "/api/v1/collaborative/queues/{team}", "/api/v1/social/identities",
               "/api/v1/catalogue/products", "/api/v1/loyalty/members/{customer}/statement"}
    assert {path: bound for path, bound in bounds.items()
            if not path.startswith("/api/v1/webtest/")} == {
        **{path: (1, 200, 50) for path in (
            "/api/v1/customers", "/api/v1/customers/{external_id}/timeline",
            "/api/v1/interactions", "/api/v1/events", "/api/v1/webhooks/deliveries")},
        **{path: (1, 1000, 100) for path in plugin_lists | reports}}
    for path in reports:  # answered as pages: items and the next page's cursor
        answer = document["paths"][path]["get"]["responses"]["200"]["content"][
            "application/json"]["schema"]
        assert {"next_cursor"} <= set(answer["properties"]), path
        assert "cursor" in {p["name"] for p in document["paths"][path]["get"]["parameters"]}


def test_the_completeness_check_finds_a_route_left_out(everything):
    document = everything.client().get("/openapi.json").json()
    del document["paths"]["/api/v1/webtest/echo/{thing}"]
    document["paths"]["/api/v1/ghost"] = {"get": {}}
    assert missing_from(document, everything.app) == [
        "not in /openapi.json: POST /api/v1/webtest/echo/{thing}",
        "listed but not mounted: GET /api/v1/ghost"]


def test_openapi_of_a_served_crm_with_every_plugin_is_valid_openapi_3_1(served):
    server = served(plugins=[*PLUGINS_IN_ORDER, "webtest"], local_plugins=["crmkit_webtest"])
    with server.client() as client:
        document = client.get("/openapi.json").json()
        validate(document)  # raises on any violation of the OpenAPI 3.1 schema
        assert document["openapi"] == "3.1.0"
        assert "/api/v1/webtest/echo/{thing}" in document["paths"]
        page = client.get("/docs")
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources)
        for source in sources:
            asset = client.get(f"/{source}")
            assert asset.status_code == 200 and len(asset.content) > 1000, source
        assert client.get("/docs/../../etc/passwd").status_code == 404
