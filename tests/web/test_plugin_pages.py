"""Pages a plugin adds to the web app (the ``crmkit_web_pages`` hook) and its My work sections
(``crmkit_my_work``), over HTTP in-process on SQLite and PostgreSQL: pages served under
``/<plugin>/`` only while the plugin is enabled, for signed-in members, with CSRF on POST;
the plugin's templates and files; the navigation link by permission; a failing hook costs
only that plugin its pages or sections; a My work action's notice and refusal.

The plugin ``pagetest`` (tests/web/crmkit_pagetest.py) is written as a vendor would write it.
ann is a manager; rex's role ``reporter`` lacks ``customers.read`` (the hello page's link).
"""

from __future__ import annotations

import re

import pytest

import crmkit_pagetest
import crmkit
from crmkit import CRM
from crmkit.plugin import ConfigError, PluginError, WebPage
from crmkit.web.plugin_pages import NO_PAGE
from web_support import InProcess, PASSWORD, csrf, problem, sign_in



@pytest.fixture
def site(crm_url, clock):
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"pagetest": crmkit_pagetest}) as crm:
        crm.plugins.configure_core({**crm.core_config, "roles": {
            **crm.core_config["roles"], "reporter": ["interactions.read"]}})
        for handle, role in (("ann", "manager"), ("rex", "reporter")):
            crm.staff.add(handle, handle.title(), "sales", role=role)
            crm.staff.set_password(handle, PASSWORD)
        crm.plugins.enable("pagetest")
        api = InProcess(crm)
        try:
            yield api
        finally:
            api.close()


def nav_links(page) -> list[tuple[str, str]]:
    return re.findall(r'<a href="([^"]+)" data-nav="pagetest">([^<]+)</a>', page.text)


def test_a_plugin_page_renders_its_template_in_the_site_s_layout(site):
    page = sign_in(site, "ann").get("/pagetest/hello")
    assert page.status_code == 200
    assert "<h1 data-greeting>&lt;b&gt;hello&lt;/b&gt;</h1>" in page.text  # autoescaped
    assert "<p data-member>ann</p>" in page.text
    assert '<link rel="stylesheet" href="/static/app.css">' in page.text  # base.html
    assert nav_links(page) == [("/pagetest/hello", "Hello page")]
    assert page.headers["cache-control"] == "no-store"


def test_path_parameters_are_converted_and_errors_show_the_api_s_status(site):
    client = sign_in(site, "ann")
    assert client.get("/pagetest/items/41").text == "item 42"
    refused = client.get("/pagetest/items/101")
    assert refused.status_code == 422 and "item 101: at most 100" in refused.text
    assert client.get("/pagetest/items/x").status_code == 404  # {number:int} does not match


def test_the_navigation_link_needs_the_page_s_permission(site):
    page = sign_in(site, "rex").get("/dashboards")
    assert ("/pagetest/hello", "Hello page") not in nav_links(page)
    assert sign_in(site, "rex").get("/pagetest/hello").status_code == 200  # the page checks itself


def test_a_signed_out_visitor_goes_to_sign_in_and_a_post_needs_the_csrf_token(site):
    client = site.client()
    answer = client.get("/pagetest/hello?greeting=hi")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fpagetest%2Fhello%3Fgreeting%3Dhi"
    crmkit_pagetest.SEEN.clear()
    assert client.post("/pagetest/notes", data={"text": "x"}).status_code == 403
    signed = sign_in(site, "ann")
    token = csrf(signed.get("/pagetest/hello"))
    for data in ({"text": "forged"}, {"text": "forged", "csrf_token": "forged"}):
        answer = signed.post("/pagetest/notes", data=data)
        assert answer.status_code == 403
    assert crmkit_pagetest.SEEN == []
    assert signed.post("/pagetest/notes", data={"csrf_token": token, "text": "kept"}).text == "noted"
    assert crmkit_pagetest.SEEN == [("ann", {"csrf_token": token, "text": "kept"})]


def test_a_method_a_plugin_page_does_not_take_is_a_405_listing_those_it_does(site):
    """A GET of a POST-only page was a 404, and any other method a 405 allowing GET and POST
    wherever the path led, a page or not."""
    for client in (sign_in(site, "ann"), site.client()):
        for method, path, allow in (("GET", "/pagetest/notes", "POST"),
                                    ("HEAD", "/pagetest/add", "POST"),
                                    ("PUT", "/pagetest/hello", "GET, HEAD"),
                                    ("DELETE", "/pagetest/items/3", "GET, HEAD")):
            answer = client.request(method, path)
            assert (answer.status_code, answer.headers.get("allow")) == (405, allow), path
            if method != "HEAD":
                assert problem(answer, 405)["detail"] == (
                    f"{method} is not allowed on {path} (allowed: {allow})")
        for method, path in (("PUT", "/pagetest/nope"), ("PUT", "/nosuchplugin/hello"),
                             ("DELETE", "/pagetest/items/x")):
            assert client.request(method, path).status_code == 404, path


def test_static_files_are_served_to_members_and_the_folder_cannot_be_left(site):
    client = sign_in(site, "ann")
    assert client.get("/pagetest/static/note.txt").text == "pagetest static file\n"
    for path in ("/pagetest/static/missing.txt", "/pagetest/static/..%2Ftemplates%2Fpagetest.html",
                 "/pagetest/static/..%2F..%2Fcrmkit_pagetest.py",
                 "/pagetest/static/note.txt%00", "/pagetest/static/" + "n" * 300):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "{% extends" not in answer.text and "hookimpl" not in answer.text


def test_a_visitor_not_signed_in_cannot_tell_an_installed_plugin_from_an_unknown_name(site):
    client = site.client()
    for path in ("/static/note.txt", "/nope", "/static/missing.txt"):
        installed, unknown = client.get(f"/pagetest{path}"), client.get(f"/nosuchplugin{path}")
        assert problem(installed, 404) == problem(unknown, 404), path
    member = sign_in(site, "ann")  # a member is told the plugin serves no such page
    assert NO_PAGE.replace("'", "&#39;") in member.get("/pagetest/nope").text


def test_a_disabled_plugin_s_pages_files_and_links_are_gone(site):
    client = sign_in(site, "ann")
    site.crm.plugins.disable("pagetest")
    for path in ("/pagetest/hello", "/pagetest/static/note.txt"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert NO_PAGE.replace("'", "&#39;") in answer.text
    for path in ("/nosuchplugin/hello", "/api/v2/customers"):  # nobody's: the API's 404
        problem(client.get(path), 404)
    assert nav_links(client.get("/customers")) == []
    site.crm.plugins.enable("pagetest")
    assert client.get("/pagetest/hello").status_code == 200


def test_a_plugin_disabled_by_another_process_leaves_my_work_and_the_navigation_at_once(
        site, crm_url, clock):
    client = sign_in(site, "ann")
    assert 'data-section="pagetest-calls"' in client.get("/my-work").text
    with CRM.open(crm_url, clock=clock, extra_plugins={"pagetest": crmkit_pagetest}) as admin:
        admin.plugins.disable("pagetest")  # as `crmkit plugins disable` would, beside the server
    page = client.get("/my-work")
    assert page.status_code == 200
    assert "pagetest" not in page.text  # no section, no problem in its place, no link
    assert nav_links(page) == []


def test_a_hook_that_answers_something_else_costs_only_that_plugin_its_pages(site, monkeypatch,
                                                                             caplog):
    monkeypatch.setattr(crmkit_pagetest, "crmkit_web_pages",
                        crmkit.hookimpl(lambda crm: ["not WebPages"]))
    with CRM.open(site.crm.url, extra_plugins={"pagetest": crmkit_pagetest}) as crm:
        other = InProcess(crm)
        try:
            client = sign_in(other, "ann")
            page = client.get("/customers")
            assert page.status_code == 200 and nav_links(page) == []
            assert client.get("/pagetest/hello").status_code == 404
        finally:
            other.close()
    assert "its web pages are not served" in caplog.text


def test_a_plugin_s_my_work_sections_and_action(site):
    client = sign_in(site, "ann")
    page = client.get("/my-work")
    assert re.findall(r'data-section="([\w-]+)"', page.text) == ["pagetest-calls",
                                                               "pagetest-empty"]
    item = " ".join(re.search(r"<li data-call>.*?</li>", page.text, re.S).group(0).split())
    assert item.startswith("<li data-call>&lt;i&gt;Ring&lt;/i&gt; Ada — "
                           '<a href="/customers/ADA">ADA</a>')
    assert "Due in 2 h 5 min (Jan 1, 2025, 2:05 PM)" in item  # the core's macros, CRM clock
    assert "<p class=\"hint\">Ring them today.</p>" in page.text
    assert "<p class=\"empty\">No letters.</p>" in page.text
    token = csrf(page)
    answer = client.post("/pagetest/add", data={"csrf_token": token, "customer": "ADA"})
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/my-work?done=pagetest.added&mark=")
    assert site.crm.customers.get("ADA").external_id == "ADA"
    assert "✓ </span>Customer added." in client.get(answer.headers["location"]).text
    refused = client.post("/pagetest/add", data={"csrf_token": token, "customer": "ADA"})
    assert refused.status_code == 409  # the API's conflict, on My work
    assert "data-change-error" in refused.text and "ADA" in refused.text
    assert 'data-section="pagetest-calls"' in refused.text


def test_my_work_shows_a_plugin_s_error_in_place_of_its_sections(site, caplog):
    assert 'data-section="pagetest-calls"' not in sign_in(site, "rex").get("/my-work").text
    client = sign_in(site, "ann")  # (the in-process clients share their cookies)
    try:
        crmkit_pagetest.BROKEN.append(ConfigError("pagetest: no call list configured"))
        page = client.get("/my-work")
        assert page.status_code == 200
        assert "⚠ </span>pagetest: no call list configured</p>" in page.text
        crmkit_pagetest.BROKEN[0] = RuntimeError("a bug")
        page = client.get("/my-work")
        assert "this plugin&#39;s work could not be shown (the server logged why)" in page.text
        assert "a bug" not in page.text and "its My work sections failed" in caplog.text
    finally:
        crmkit_pagetest.BROKEN.clear()
    crmkit_pagetest.TEMPLATE[0] = "missing.html"  # a template the plugin does not have
    try:
        page = client.get("/my-work")
        assert page.status_code == 200
        assert "this plugin&#39;s work could not be shown (the server logged why)" in page.text
        assert "its My work sections could not be rendered" in caplog.text
    finally:
        crmkit_pagetest.TEMPLATE[0] = "pagetest_item.html"


def test_head_asks_for_a_plugin_page_as_get_does(site):
    client = sign_in(site, "ann")
    answer = client.request("HEAD", "/pagetest/hello")
    assert answer.status_code == 200 and answer.text == ""


@pytest.mark.parametrize("path", ["hello", "/", "/static", "/static/x.js"])
def test_a_page_path_that_could_not_be_served_is_refused(path):
    with pytest.raises(PluginError, match="must be '/' and a name"):
        WebPage(path, crmkit_pagetest.hello)


def test_the_web_app_offers_plugins_every_method_of_the_declared_site():
    """``crmkit.plugin.Site`` is what plugin pages may call: the app's Pages has each method,
    taking the same parameters (a rename in the app fails here, not in a vendor's plugin)."""
    import inspect

    from crmkit.plugin import Site
    from crmkit.web.pages import Pages

    declared = {name: member for name, member in vars(Site).items()
                if callable(member) and not name.startswith("_")}
    assert set(declared) == {"render", "api", "customer_names", "refused", "done_redirect",
                             "done_notice", "my_work_action"}
    for name, member in declared.items():
        assert list(inspect.signature(getattr(Pages, name)).parameters) == list(
            inspect.signature(member).parameters), name
    assert "crm" in Site.__annotations__
