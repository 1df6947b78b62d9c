"""The dispatcher, in-process: routing, authentication, validation, transactions, problems."""

from __future__ import annotations


import pytest
from webhooks.support import slowly_checked_campaigns, writes_while_checking
from sqlalchemy import func, select

import crmkit_checktest
import crmkit_webbroken
import crmkit_webtest
from crmkit import CRM, tables
from crmkit.web.dispatch import problem_errors
from crmkit.web.endpoints import Endpoint

from web_support import InProcess, problem, serialisation_failure_once


@pytest.fixture
def web(crm_url, clock):
    """The API in-process with the webtest plugin enabled; ``web.admin`` is an admin token."""
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"webtest": crmkit_webtest,
                                 "webbroken": crmkit_webbroken}) as crm:
        crm.plugins.enable("webtest")
        helper = InProcess(crm)
        helper.admin = helper.token("root", role="admin")
        yield helper
        helper.close()


def counts(crm) -> tuple[int, int]:
    with crm.read() as conn:
        return (conn.execute(select(func.count()).select_from(tables.customers)).scalar(),
                conn.execute(select(func.count()).select_from(tables.audit_log)).scalar())


def test_a_plugin_endpoint_gets_its_validated_request(web):
    answer = web.client(web.admin).post("/api/v1/webtest/echo/x%20y?limit=3&exact=true"
                                        "&tag=a&tag=b", json={"name": "Ada"})
    assert answer.status_code == 200
    assert answer.json() == {"body": {"name": "Ada", "count": 1},
                             "query": {"limit": 3, "exact": True, "tag": ["a", "b"]},
                             "params": {"thing": "x y"}, "plugin": "webtest",
                             "caller": "root", "credentials_seen": False}


@pytest.mark.parametrize("query, parameter, fragment", [
    ("limit=ten", "limit", "'ten' is not an integer"),
    ("limit=%D9%A1", "limit", "'\u0661' is not an integer (ASCII digits, from "
                              "-9223372036854775808 to 9223372036854775807)"),
    ("limit=1" + "0" * 30, "limit", "is not an integer (ASCII digits"),
    ("limit=%EF%BC%95", "limit", "'５' is not an integer (ASCII digits"),
    ("limit=11", "limit", "11 is greater than the maximum of 10"),
    ("exact=perhaps", "exact", "'perhaps' is not a boolean"),
    ("limit=1&limit=2", "limit", "given more than once"),
    ("colour=red", "colour", "unknown key"),
])
def test_a_bad_query_parameter_is_one_problem_naming_it(web, query, parameter, fragment):
    answer = web.client(web.admin).post(f"/api/v1/webtest/echo/x?{query}", json={"name": "A"})
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422 and problem["title"] == "Unprocessable Content"
    assert len(problem["errors"]) == 1
    assert problem["errors"][0]["parameter"] == parameter
    assert fragment in problem["errors"][0]["detail"]


@pytest.mark.parametrize("body, pointer, fragment", [
    ({"name": 5}, "/name", "5 is not of type 'string'"),
    ({"name": "A", "colour": "red"}, "/colour", "unknown key"),
    ({"name": "A", "nested": {"n": "x"}}, "/nested/n", "'x' is not of type 'integer'"),
    ({"name": "A", "count": 2 ** 70}, "/count", "1180591620717411303424 is out of range"),
    ({"name": "A", "count": 1e30}, "/count", "1e+30 is out of range"),
    ({}, "", "'name' is a required property"),
])
def test_a_body_against_its_schema_is_one_problem_with_its_pointer(web, body, pointer,
                                                                  fragment):
    answer = web.client(web.admin).post("/api/v1/webtest/echo/x", json=body)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert [e["pointer"] for e in errors] == [pointer]
    assert fragment in errors[0]["detail"]


@pytest.mark.parametrize("raw, fragment", [
    (b'{"name": "A",}', "not valid JSON: Expecting property name enclosed in double quotes at "
                        "line 1 column 14"),
    (b"\xff\xfe", "not UTF-8"),
    (b"[" * 40 + b"]" * 40, "nested deeper than 32 levels"),
    (b"[" + b"9" * 5000 + b"]", "not acceptable JSON: a number has more than 4300 digits"),
])
def test_malformed_json_is_a_400_problem(web, raw, fragment):
    answer = web.client(web.admin).post("/api/v1/webtest/echo/x", content=raw,
                                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert fragment in answer.json()["detail"]


def test_a_write_that_fails_leaves_nothing_and_shows_no_stack_trace(web, caplog):
    before = counts(web.crm)
    answer = web.client(web.admin).post("/api/v1/webtest/fail", json={"external_id": "W1"})
    assert answer.status_code == 500
    assert answer.json()["detail"] == "internal error: the server logged the details"
    assert "secret" not in answer.text and "Traceback" not in answer.text
    assert "RuntimeError: a bug with a secret detail" in caplog.text
    assert counts(web.crm) == before
    answer = web.client(web.admin).post("/api/v1/webtest/fail",
                                        json={"external_id": "W1", "fail": "crm"})
    assert answer.status_code == 404
    assert answer.json()["detail"] == "the second step found nothing"
    assert counts(web.crm) == before


def test_a_plugin_hook_failing_in_a_write_names_plugin_and_hook_but_quotes_nothing(web,
                                                                                    caplog):
    """A hook's unexpected exception (here the database's error with its SQL) is a plugin's
    bug, not a conflict the client could resolve: a 500 naming the plugin and the hook and
    quoting nothing; a refusal the plugin raises on purpose still reaches the client in its
    own words."""
    before = counts(web.crm)
    client = web.client(web.admin)
    answer = client.post("/api/v1/customers", json={"external_id": "H1",
                                                    "name": crmkit_webtest.BROKEN})
    assert problem(answer, 500)["detail"] == ("plugin 'webtest' failed in "
                                              "crmkit_validate_customers: the server's log has "
                                              "the details")
    assert "webtest_missing_table" not in answer.text and "SELECT" not in answer.text
    assert "POST /api/v1/customers: plugin 'webtest' failed in crmkit_validate_customers: " in (
        caplog.text)
    assert "SELECT secret_column FROM webtest_missing_table" in caplog.text
    for name, refusal in crmkit_webtest.REFUSALS.items():
        answer = client.post("/api/v1/customers", json={"external_id": "H1", "name": name})
        assert problem(answer, 409)["detail"] == str(refusal)
    assert counts(web.crm) == before


@pytest.mark.postgres
@pytest.mark.parametrize("crm_url", ["postgresql"], indirect=True)
def test_a_plugin_config_put_aborted_by_a_concurrent_transaction_runs_again(crm_url, clock):
    """PUT /api/v1/plugins/NAME/config opens its own transactions (own_transactions); when
    PostgreSQL aborts its write for a concurrent transaction (a serialisation failure, forced
    here once), the write runs again, as an ordinary endpoint's transaction does: stored and
    audited once."""
    from crmkit.services.audit import AuditLog

    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"checktest": crmkit_checktest}) as crm:
        crm.plugins.enable("checktest")
        api = InProcess(crm)
        client = api.client(api.token("root", role="admin"))
        try:
            with serialisation_failure_once(crm.engine, "INSERT INTO plugin_state") as aborted:
                answer = client.put("/api/v1/plugins/checktest/config", json={"note": "changed"})
        finally:
            api.close()
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"note": "changed"} and len(aborted) == 1
        assert crm.plugins.config("checktest") == {"note": "changed"}
        [entry] = AuditLog(crm).list(action="configure")
        assert (entry.record_key, entry.actor, entry.changes["new"]) == (
            "checktest", "root", {"note": "changed"})


def test_a_plugin_write_is_audited_under_the_caller_and_its_reply_kept(web):
    answer = web.client(web.admin).post("/api/v1/webtest/customers", json={"external_id": "P1"})
    assert answer.status_code == 201
    assert answer.headers["X-Plugin"] == "webtest"
    with web.crm.read() as conn:
        row = conn.execute(select(tables.audit_log.c.actor, tables.audit_log.c.command)
                           .where(tables.audit_log.c.record_key == "P1")).one()
    assert row == ("root", "api POST /api/v1/webtest/customers")


def test_routes_methods_and_tokens(web):
    client = web.client(web.admin)
    assert client.get("/api/v1/nothing/here").status_code == 404
    wrong = client.get("/api/v1/webtest/fail")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    anonymous = web.client(None).get("/api/v1/customers")
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in anonymous.json()["detail"]
    assert web.client("not-a-token").get("/api/v1/customers").status_code == 401
    client = web.client(web.admin)
    outside = client.get("/nothing")
    assert outside.status_code == 404
    assert outside.headers["content-type"] == "application/problem+json"
    unknown = client.get("/api/v1/plugins/nosuch/config")
    assert unknown.status_code == 404 and "no plugin named 'nosuch'" in unknown.json()["detail"]


def test_a_plugin_whose_routes_cannot_be_mounted_loses_only_its_own(web, caplog):
    web.crm.plugins.enable("webbroken")
    client = web.client(web.admin)
    assert client.get("/api/v1/webbroken/fine").status_code == 404
    assert client.get("/api/v1/customers").status_code == 200
    assert client.post("/api/v1/webtest/echo/x", json={"name": "A"}).status_code == 200
    assert ("plugin 'webbroken': its HTTP routes are not served: POST /api/v1/webbroken/bad "
            "body schema: invalid JSON Schema") in caplog.text


def test_the_app_mounts_inside_another_asgi_app(web):
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from crmkit.web import create_app
    from web_support import InProcessClient

    outer = InProcessClient(Starlette(routes=[Mount("/crm", app=create_app(web.crm))]))
    try:
        outer.headers["Authorization"] = f"Bearer {web.admin}"
        assert outer.get("/crm/api/v1/customers").json() == {"items": [], "next_cursor": None}
        assert outer.post("/crm/api/v1/webtest/echo/x", json={"name": "A"}).json()[
            "params"] == {"thing": "x"}
        assert "/api/v1/customers" in outer.get("/crm/openapi.json").json()["paths"]
    finally:
        outer.close()


def test_disabling_a_plugin_removes_its_routes(web):
    client = web.client(web.admin)
    assert client.post("/api/v1/webtest/echo/x", json={"name": "A"}).status_code == 200
    web.crm.plugins.disable("webtest")
    assert client.post("/api/v1/webtest/echo/x", json={"name": "A"}).status_code == 404
    assert "/api/v1/webtest/echo/{thing}" not in client.get("/openapi.json").json()["paths"]


def test_an_endpoint_declares_a_known_method_and_a_relative_path():
    with pytest.raises(ValueError, match="'FETCH' is not one of GET, POST, PUT, PATCH, DELETE"):
        Endpoint("FETCH", "x", print, "p", "s")
    with pytest.raises(ValueError, match="must be relative to its mount"):
        Endpoint("GET", "/x", print, "p", "s")


def test_pipeline_problems_get_pointers_into_the_body():
    problems = [("row 2", "email", "'x' is not an email address"),
                ("row 1", "attributes", "/size: 'L' is not of type 'integer'"),
                ("customer", "row", "expected a mapping")]
    assert problem_errors(problems, list_body=True) == [
        {"pointer": "/1/email", "detail": "'x' is not an email address"},
        {"pointer": "/0/attributes/size", "detail": "'L' is not of type 'integer'"},
        {"pointer": "", "detail": "expected a mapping"}]
    assert problem_errors([("row 1", "kind", "required")], list_body=False) == [
        {"pointer": "/kind", "detail": "required"}]


def test_core_0004_adds_the_idempotency_keys_with_one_key_per_caller(crm_url, clock):
    import datetime as dt

    from sqlalchemy import insert, inspect
    from sqlalchemy.exc import IntegrityError

    from crmkit import migrate

    with CRM.open(crm_url, clock=clock, create=True) as crm, crm.connect(write=True) as conn:
        migrate.downgrade(conn, "core@core_0003")
        conn.commit()
        assert "idempotency_keys" not in inspect(conn).get_table_names()
    with CRM.open(crm_url, clock=clock, upgrade=True) as crm, crm.connect(write=True) as conn:
        row = {"actor": "ann", "key": "k", "request_hash": "h", "status": 201, "response": "{}",
               "headers": {}, "created_at": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)}
        conn.execute(insert(tables.idempotency_keys), [row, dict(row, actor="bob")])
        with pytest.raises(IntegrityError):
            conn.execute(insert(tables.idempotency_keys), row)


def test_a_plugins_row_level_rule_hides_core_customers_as_if_missing(web):
    admin = web.client(web.admin)
    admin.post("/api/v1/customers", json={"external_id": "C1", "tags": ["secret"]})
    admin.post("/api/v1/customers", json={"external_id": "C2", "name": "Open"})
    manager = web.client(web.token("mia", role="manager"))
    before = counts(web.crm)
    for method, path, body in (("GET", "/api/v1/customers/C1", None),
                               ("GET", "/api/v1/customers/C1/timeline", None),
                               ("PATCH", "/api/v1/customers/C1", {"name": "Seen"}),
                               ("POST", "/api/v1/customers/C2/merge", {"duplicate": "C1"}),
                               ("GET", "/api/v1/customers/C9", None)):
        answer = manager.request(method, path, json=body)
        assert answer.status_code == 404, path
        assert answer.json()["detail"] in ("no customer 'C1'", "no customer 'C9'")
    assert [c["external_id"] for c in manager.get("/api/v1/customers").json()["items"]] == [
        "C2"]
    assert counts(web.crm) == before
    assert web.client(web.admin).get("/api/v1/customers/C1").status_code == 200


def test_a_body_over_the_limit_is_refused_also_without_a_content_length(web):
    before = counts(web.crm)

    async def chunks():
        for _ in range(3):
            yield b" " * 400_000

    answer = web.client(web.admin).post("/api/v1/webtest/customers", content=chunks(),
                                        headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["detail"] == "the request body is larger than 1048576 bytes (the limit)"
    assert counts(web.crm) == before


def test_a_content_length_that_is_no_number_is_not_trusted(web):
    answer = web.client(web.admin).post(  # "²", which str.isdigit() accepts and int() does not
        "/api/v1/webtest/customers", content=b'{"external_id": "L1"}',
        headers={"Content-Type": "application/json", "Content-Length": b"\xb2"})
    assert answer.status_code == 201, answer.text


def test_a_bad_idempotency_key_is_one_problem_naming_the_header(web):
    answer = web.client(web.admin).post("/api/v1/webtest/customers", json={"external_id": "I1"},
                                        headers={"Idempotency-Key": "x" * 201})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"header": "Idempotency-Key",
                                        "detail": "201 characters; at most 200"}]


def test_text_no_database_can_store_is_refused_before_any_query(web):
    client = web.client(web.admin)
    for params in ({"kind": "\x00"}, {"\x00": "x"}):
        answer = client.get("/api/v1/interactions", params=params)
        assert answer.status_code == 422, params        # PostgreSQL refused it with a 500
        assert "contains a NUL character (U+0000) or a lone surrogate" in answer.text
    assert client.get("/api/v1/customers/a%00b").status_code == 404
    answer = client.post("/api/v1/customers", content=b'{"external_id": "C1", "attributes": '
                         b'{"note": "a\\u0000b"}}', headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and "NUL character" in answer.text
    assert counts(web.crm)[0] == 0


def test_head_answers_as_get_without_a_body_on_core_and_plugin_routes(web):
    web.crm.plugins.enable("catalogue")
    client = web.client(web.admin)
    client.post("/api/v1/customers", json={"external_id": "C1", "name": "Ada"})
    client.post("/api/v1/catalogue/products", json=[{"sku": "T1", "name": "Tea"}])
    for path in ("/api/v1/customers/C1", "/api/v1/customers?limit=5",
                 "/api/v1/catalogue/products", "/api/v1/customers/C9"):
        got, head = client.get(path), client.request("HEAD", path)
        assert (head.status_code, head.headers) == (got.status_code, got.headers), path
        assert int(head.headers["content-length"]) == len(got.content) > 0
        assert head.content == b""
    assert client.request("HEAD", "/api/v1/webtest/fail").headers["allow"] == "POST"
    assert web.client(None).request("HEAD", "/api/v1/customers").status_code == 401


def test_a_405_lists_head_wherever_get_is_allowed(web):
    web.crm.plugins.enable("catalogue")
    client = web.client(web.admin)
    for path, allow in (("/api/v1/customers/C1", "GET, HEAD, PATCH"),
                        ("/api/v1/catalogue/products", "GET, HEAD, POST")):
        answer = client.delete(path)
        assert answer.status_code == 405 and answer.headers["allow"] == allow
        assert answer.json()["detail"] == f"DELETE is not allowed on {path} (allowed: {allow})"


def test_a_body_is_taken_as_json_only_else_a_415_naming_what_was_sent(web):
    client = web.client(web.admin)
    for n, content_type in enumerate((
            "application/json", "application/json; charset=utf-8",
            "Application/JSON;Charset=UTF-8", 'application/json; charset="utf-8"',
            "application/merge-patch+json", "application/vnd.api+json; charset=utf-8")):
        answer = client.post("/api/v1/webtest/customers", content=b'{"external_id": "J%d"}' % n,
                             headers={"Content-Type": content_type})
        assert answer.status_code == 201, content_type
    before = counts(web.crm)
    allowed = "(allowed: application/json or application/*+json, with or without charset=utf-8)"
    for content_type, sent in (
            (None, "without a Content-Type"), ("text/plain", "as 'text/plain'"),
            ("application/x-www-form-urlencoded", "as 'application/x-www-form-urlencoded'"),
            ("multipart/form-data; boundary=x", "as 'multipart/form-data; boundary=x'"),
            ("application/json; charset=latin-1", "as 'application/json; charset=latin-1'"),
            ("application/json; version=2", "as 'application/json; version=2'"),
            ("text/json", "as 'text/json'"), ("application/+json", "as 'application/+json'")):
        headers = {} if content_type is None else {"Content-Type": content_type}
        answer = client.post("/api/v1/webtest/customers", content=b'{"external_id": "K1"}',
                             headers=headers)
        assert problem(answer, 415)["detail"] == (
            f"POST /api/v1/webtest/customers takes a JSON body: the body is sent {sent} "
            f"{allowed}")
        assert answer.json()["errors"] == [{"header": "Content-Type",
                                            "detail": f"the body is sent {sent} {allowed}"}]
    assert counts(web.crm) == before


def test_a_key_given_twice_in_one_body_object_is_a_422_naming_its_pointer(web):
    web.crm.plugins.enable("loyalty")
    client = web.client(web.admin)
    before, config = counts(web.crm), client.get("/api/v1/plugins/loyalty/config").json()
    twice = "the key {!r} is given more than once (allowed: each key once)"
    for path, method, raw, pointer, key in (
            ("/api/v1/customers", "POST",
             b'{"external_id": "C1", "attributes": {"a": 1, "a": 2}}', "/attributes/a", "a"),
            ("/api/v1/interactions", "POST",
             b'[{"customer": "C1"}, {"customer": "C1", "customer": "C2"}]', "/1/customer",
             "customer"),
            ("/api/v1/webtest/echo/x", "POST", b'{"name": "A", "nested": {"n~/": 1, "n~/": 1}}',
             "/nested/n~0~1", "n~/"),
            ("/api/v1/plugins/loyalty/config", "PUT",
             b'{"points_per_unit": 2, "points_per_unit": 0}', "/points_per_unit",
             "points_per_unit")):
        answer = client.request(method, path, content=raw,
                                headers={"Content-Type": "application/json"})
        assert problem(answer, 422)["errors"] == [{"pointer": pointer,
                                                   "detail": twice.format(key)}], path
        assert answer.json()["detail"] == f"body: {pointer}: {twice.format(key)}"
    assert counts(web.crm) == before
    assert client.get("/api/v1/plugins/loyalty/config").json() == config


def test_a_plugin_config_put_holds_no_write_lock_while_the_plugin_checks_it(tmp_path, clock,
                                                                            slow_resolver):
    """PUT /api/v1/plugins/NAME/config lets the plugin check the configuration (campaigns
    resolving webhook.url) before any write transaction opens: on SQLite, which has one writer
    at a time, another writer completes while the check waits; the change is then stored and
    audited under the caller and the request."""
    from crmkit.services.audit import AuditLog

    hook = "https://hooks.example.test/hook"
    with slowly_checked_campaigns(tmp_path / "crm.db", clock) as crm:
        body = {**crm.plugin_config("campaigns"), "webhook": {"url": hook}}
        api = InProcess(crm)
        try:
            client = api.client(api.token("root", role="admin"))
            answer = slow_resolver("hooks.example.test").while_held(
                lambda: client.put("/api/v1/plugins/campaigns/config", json=body),
                lambda: writes_while_checking(crm))
        finally:
            api.close()
        assert answer.status_code == 200, answer.text
        assert crm.plugins.config("campaigns")["webhook"]["url"] == hook
        entry = AuditLog(crm).list(action="configure")[0]  # newest first
        assert (entry.actor, entry.command) == ("root",
                                                "api PUT /api/v1/plugins/{name}/config")
