"""The admin pages over HTTP (no browser): plugins and their generated configuration forms,
staff, roles, API tokens, webhooks, the audit log; permissions, CSRF, no XSS.

Every test runs the app in-process (``api``: ``crmkit.web.create_app`` on the ``crm``
fixture) on SQLite and on PostgreSQL; the browser test is test_browser_admin.py.
"""

from __future__ import annotations

import base64
import html.parser
import json
import re

import pytest
from webhooks.support import (assert_webhook_added, slowly_checked_campaigns,
                              writes_while_checking)

import crmkit_checktest
from crmkit import CRM
from crmkit.errors import PluginError
from crmkit.services.audit import AuditLog
from crmkit.web.signin import CSRF_REFUSED
from web_support import InProcess, PASSWORD, csrf, row_level_api, sign_in

SCRIPT = "<script>window.pwned=1</script>"


def member(crm, site: InProcess, handle: str, role: str):
    """Sign ``handle`` (added with ``role``) in on ``site``; returns the signed-in client."""
    site.token(handle, role)
    crm.staff.set_password(handle, PASSWORD)
    return sign_in(site, handle)


@pytest.fixture
def admin(crm, api):
    """Member ``boss`` (role admin) signed in, loyalty enabled."""
    crm.plugins.enable("loyalty")
    return member(crm, api, "boss", "admin")


@pytest.fixture
def other(crm):
    """A second in-process site (its own cookies) for a second member."""
    site = InProcess(crm)
    yield site
    site.close()


class Inputs(html.parser.HTMLParser):
    """The successful controls of the form posting to ``action``, as a browser sends them."""

    def __init__(self, action: str):
        super().__init__()
        self.action, self.inside, self.values = action, False, {}
        self._textarea = self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside or "disabled" in a:
            return
        if tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.values[a["name"]] = a.get("value", "on")
        elif tag == "textarea":
            self._textarea, self.values[a["name"]] = a["name"], ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a["value"]

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def form_of(page, action: str) -> dict[str, str]:
    parser = Inputs(action)
    parser.feed(page.text)
    assert parser.values, f"no form posting to {action}"
    return parser.values


def field_error(page, field_id: str) -> str:
    """The error text shown at input ``field_id`` (which must point to it)."""
    tag = re.search(rf'<(?:input|select|textarea|fieldset)[^>]*id="{re.escape(field_id)}"[^>]*>',
                    page.text).group(0)
    assert 'aria-invalid="true"' in tag and f"{field_id}-error" in tag, tag
    return re.search(rf'id="{re.escape(field_id)}-error"[^>]*>(.*?)</p>', page.text,
                     re.DOTALL).group(1)


# -- plugins ---------------------------------------------------------------------------------


def test_enabling_a_plugin_whose_requirement_is_off_shows_the_cli_s_refusal(crm, admin):
    page = admin.get("/admin/plugins")
    assert page.status_code == 200
    with pytest.raises(PluginError) as refusal:
        crm.plugins.enable("idic")  # what `crmkit plugins enable idic` prints
    shown = str(refusal.value).replace("'", "&#39;")
    row = re.search(r'<tr data-plugin="idic".*?</tr>', page.text, re.DOTALL).group(0)
    assert "Requires: analytical" in row and shown in row  # the blocker, before trying
    answer = admin.post("/admin/plugins/idic/enable", data={"csrf_token": csrf(page)})
    assert answer.status_code == 409 and shown in answer.text
    assert crm.plugins.kept_config("idic") is None  # nothing changed
    for name in ("analytical", "idic"):
        answer = admin.post(f"/admin/plugins/{name}/enable", data={"csrf_token": csrf(page)})
        assert answer.status_code == 303
        assert re.fullmatch(rf"/admin/plugins\?done=enabled&item={name}&mark=[\w-]{{22}}",
                            answer.headers["location"])
    assert {"analytical", "idic"} <= set(crm.enabled_plugins())
    page = admin.get("/admin/plugins")
    with pytest.raises(PluginError) as refusal:
        crm.plugins.disable("analytical")
    shown = str(refusal.value).replace("'", "&#39;")
    assert shown == "cannot disable &#39;analytical&#39;: idic requires it; disable it first"
    assert shown in re.search(r'<tr data-plugin="analytical".*?</tr>', page.text,
                              re.DOTALL).group(0)
    answer = admin.post("/admin/plugins/analytical/disable", data={"csrf_token": csrf(page)})
    assert answer.status_code == 409 and shown in answer.text
    assert "analytical" in crm.enabled_plugins()
    answer = admin.post("/admin/plugins/idic/disable", data={"csrf_token": csrf(page)})
    assert answer.status_code == 303
    assert "idic" not in crm.enabled_plugins()
    [entry] = AuditLog(crm).list(action="disable")
    assert (entry.actor, entry.record_key, entry.command) == (
        "boss", "idic", "web POST /admin/plugins/idic/disable")


@pytest.fixture
def checktest(crm_url, clock):
    """A CRM with the checktest plugin installed (not enabled) and member ``boss`` (admin)
    signed in to it in-process: ``(crm, boss)``; the plugin's hooks work again afterwards."""
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"checktest": crmkit_checktest}) as crm:
        site = InProcess(crm)
        try:
            yield crm, member(crm, site, "boss", "admin")
        finally:
            site.close()
            crmkit_checktest.FAILING.clear()


def test_a_plugin_hook_failing_is_a_500_naming_plugin_and_hook_but_quoting_nothing(
        checktest, caplog):
    """A configuration hook's unexpected exception is the plugin's bug, not the member's: the
    error page, the plugins page and the configuration form answer 500 naming the plugin and
    the hook; the exception's text (SQL here) is for the server's log; nothing is stored."""
    crm, boss = checktest
    shown = "plugin &#39;checktest&#39; failed in {}: the server&#39;s log has the details"
    crmkit_checktest.FAILING.add("crmkit_config_schema")
    page = boss.get("/admin/plugins/checktest")
    assert page.status_code == 500 and shown.format("crmkit_config_schema") in page.text
    crmkit_checktest.FAILING.clear()
    crmkit_checktest.FAILING.add("crmkit_check_config")
    answer = boss.post("/admin/plugins/checktest/enable",
                       data={"csrf_token": csrf(boss.get("/admin/plugins"))})
    assert answer.status_code == 500 and shown.format("crmkit_check_config") in answer.text
    assert crm.plugins.kept_config("checktest") is None
    crmkit_checktest.FAILING.clear()
    crm.plugins.enable("checktest")
    fields = form_of(boss.get("/admin/plugins/checktest"), "/admin/plugins/checktest")
    crmkit_checktest.FAILING.add("crmkit_check_config")
    form = boss.post("/admin/plugins/checktest", data=fields | {"config/note": "changed"})
    assert form.status_code == 500 and shown.format("crmkit_check_config") in form.text
    assert crm.plugins.config("checktest") == {"note": ""}
    assert all(crmkit_checktest.BUG not in a.text for a in (page, answer, form))
    for where, hook in (("GET /admin/plugins/checktest", "crmkit_config_schema"),
                        ("POST /admin/plugins/checktest/enable", "crmkit_check_config"),
                        ("POST /admin/plugins/checktest", "crmkit_check_config")):
        assert (f"{where}: plugin 'checktest' failed in {hook}: RuntimeError: "
                f"{crmkit_checktest.BUG}") in caplog.text


def test_a_done_notice_is_shown_only_for_the_change_this_session_made(crm, admin, other):
    page = admin.get("/admin/plugins")
    answer = admin.post("/admin/plugins/analytical/enable", data={"csrf_token": csrf(page)})
    location = answer.headers["location"]
    notice = "Plugin analytical was enabled."
    assert notice in admin.get(location).text
    crafted = location.replace("item=analytical", "item=backdoor")
    assert "Plugin backdoor was enabled." not in admin.get(crafted).text
    assert notice not in admin.get(location.split("&mark=")[0]).text  # no mark
    intruder = member(crm, other, "ivy", "admin")  # another session: the link says nothing
    shown = intruder.get(location)
    assert shown.status_code == 200 and notice not in shown.text


def test_the_generated_form_round_trips_and_a_valid_change_is_what_the_cli_shows(
        crm, admin, run_cli):
    before = crm.plugins.config("loyalty")
    page = admin.get("/admin/plugins/loyalty")
    fields = form_of(page, "/admin/plugins/loyalty")
    assert fields["config/expiry_mode"] == '"rolling"'
    assert fields["config/excluded_categories"] == "delivery\ntax\ngift_card"
    assert json.loads(fields["config/tiers"]) == before["tiers"]  # arrays of objects: JSON
    assert 'for="f-lock_days">lock_days</label>' in page.text
    assert ('<p class="hint" id="f-lock_days-help">Days earned purchase points stay locked'
            in page.text)  # the schema's description, the input described by it
    answer = admin.post("/admin/plugins/loyalty", data=fields)
    assert answer.status_code == 303, answer.text
    assert crm.plugins.config("loyalty") == before  # the form as shown changes nothing
    fields |= {"config/lock_days": "14", "config/excluded_categories": "tax\n\nshipping\n",
               "config/expiry_mode": '"calendar"'}
    answer = admin.post("/admin/plugins/loyalty", data=fields)
    assert answer.status_code == 303
    assert re.fullmatch(r"/admin/plugins/loyalty\?done=configured&item=loyalty&mark=[\w-]{22}",
                        answer.headers["location"])
    expected = before | {"lock_days": 14, "excluded_categories": ["tax", "shipping"],
                         "expiry_mode": "calendar"}
    assert crm.plugins.config("loyalty") == expected
    code, out, _ = run_cli("plugins", "config", "loyalty")
    assert code == 0 and json.loads(out) == expected
    entry, unchanged = AuditLog(crm).list(action="configure")  # newest first
    assert (entry.actor, entry.command) == ("boss", "web POST /admin/plugins/loyalty")
    assert entry.changes["new"] == expected


def test_schema_violations_are_shown_at_their_fields_and_nothing_is_stored(crm, admin):
    before = crm.plugins.config("loyalty")
    fields = form_of(admin.get("/admin/plugins/loyalty"), "/admin/plugins/loyalty")
    wrong = fields | {"config/lock_days": "-1", "config/expiry_months": "twelve"}
    answer = admin.post("/admin/plugins/loyalty", data=wrong)
    assert answer.status_code == 422
    assert "-1 is less than the minimum of 0" in field_error(answer, "f-lock_days")
    assert "&#39;twelve&#39; is not of type &#39;integer&#39;" in field_error(
        answer, "f-expiry_months")
    summary = re.search(r'<div class="error-summary".*?</div>', answer.text, re.DOTALL).group(0)
    assert '<a href="#f-lock_days">/lock_days: -1 is less than the minimum of 0' in summary
    assert '<a href="#f-expiry_months">/expiry_months:' in summary
    kept = form_of(answer, "/admin/plugins/loyalty")
    assert (kept["config/lock_days"], kept["config/expiry_months"]) == ("-1", "twelve")
    assert crm.plugins.config("loyalty") == before
    # what only the plugin's crmkit_check_config can say, at the pointer it names
    tiers = json.dumps([{"name": "bronze", "threshold": 0}, {"name": "silver", "threshold": 0}])
    answer = admin.post("/admin/plugins/loyalty", data=fields | {"config/tiers": tiers})
    assert answer.status_code == 422
    assert "/tiers/1/threshold: 0 is not above the previous tier" in answer.text
    assert "is not above the previous tier" in field_error(answer, "f-tiers")
    assert json.loads(form_of(answer, "/admin/plugins/loyalty")["config/tiers"]) == json.loads(
        tiers)
    answer = admin.post("/admin/plugins/loyalty", data=fields | {"config/tiers": "[{"})
    assert answer.status_code == 422
    assert "not valid JSON" in field_error(answer, "f-tiers")
    answer = admin.post("/admin/plugins/loyalty", data=fields | {
        "config/tiers": "[" * 4000 + "]" * 4000, "config/points_per_unit": "9" * 5000})
    assert answer.status_code == 422
    assert "nested deeper than 32 levels (the limit)" in field_error(answer, "f-tiers")
    assert "a number has more than 4300 digits (the limit)" in field_error(
        answer, "f-points_per_unit")
    assert crm.plugins.config("loyalty") == before
    assert AuditLog(crm).list(action="configure") == []


def test_a_post_without_the_csrf_token_changes_nothing(crm, admin):
    before = crm.plugins.config("loyalty")
    fields = form_of(admin.get("/admin/plugins/loyalty"), "/admin/plugins/loyalty")
    del fields["csrf_token"]
    for path, data in (("/admin/plugins/loyalty", fields | {"config/lock_days": "3"}),
                       ("/admin/plugins/loyalty/disable", {}),
                       ("/admin/staff", {"handle": "eve", "name": "Eve", "team": "x"}),
                       ("/admin/tokens", {"staff": "boss"})):
        answer = admin.post(path, data=data)
        assert answer.status_code == 403 and "nothing was changed" in answer.text
    assert crm.plugins.config("loyalty") == before and "loyalty" in crm.enabled_plugins()
    assert [s.handle for s in crm.staff.list()] == ["boss"]
    assert len(crm.tokens.list()) == 1  # boss's own, made by the fixture
    assert CSRF_REFUSED.split(":")[0] in answer.text


def test_members_without_the_permission_see_no_admin_link_and_are_refused(crm, api, other):
    crm.plugins.enable("loyalty")
    roles = crm.core_config["roles"] | {"clerk": ["customers.read"]}
    crm.plugins.configure_core(crm.core_config | {"roles": roles})
    clerk = member(crm, api, "cleo", "clerk")
    page = clerk.get("/customers")
    assert page.status_code == 200 and 'data-nav="admin"' not in page.text
    for path in ("/admin", "/admin/plugins", "/admin/plugins/loyalty", "/admin/audit"):
        assert clerk.get(path).status_code == 403
    agent = member(crm, other, "ann", "agent")
    page = agent.get("/admin/plugins")  # agents read plugins (plugins.read), no controls
    assert page.status_code == 200 and 'data-nav="admin"' in page.text
    assert "/disable" not in page.text and "<button" not in page.text.split("</header>")[1]
    config = agent.get("/admin/plugins/loyalty")
    assert 'method="post" action="/admin/plugins/loyalty"' not in config.text
    assert "data-config" in config.text
    for path in ("/admin/staff", "/admin/roles", "/admin/tokens", "/admin/webhooks",
                 "/admin/audit"):
        assert agent.get(path).status_code == 403, path
    token = csrf(page)
    before = crm.plugins.config("loyalty")
    for path, data in (("/admin/plugins/loyalty", {"config/lock_days": "3"}),
                       ("/admin/plugins/loyalty/disable", {}),
                       ("/admin/staff", {"handle": "eve", "name": "Eve", "team": "x"}),
                       ("/admin/staff/cleo/role", {"role": "admin"}),
                       ("/admin/roles", {"role:agent": "*"}),
                       ("/admin/tokens", {"staff": "ann"}),
                       ("/admin/webhooks", {"url": "https://example.com/h",
                                            "event_types": "customer.created",
                                            "secret": "s" * 20})):
        answer = agent.post(path, data=data | {"csrf_token": token})
        assert answer.status_code == 403, path
        assert "may not" in answer.text
    assert crm.plugins.config("loyalty") == before and "loyalty" in crm.enabled_plugins()
    assert crm.staff.get("cleo").role == "clerk" and crm.auth.roles() == roles
    assert len(crm.tokens.list()) == 2 and crm.webhooks.list() == []


# -- staff, roles, tokens, webhooks, audit ----------------------------------------------------


def test_staff_are_added_given_a_role_and_deactivated_and_a_script_name_is_text(crm, admin):
    page = admin.get("/admin/staff")
    answer = admin.post("/admin/staff", data={
        "csrf_token": csrf(page), "handle": "zed", "name": SCRIPT + "Zed", "team": "sales",
        "email": "", "role": "viewer"})
    assert answer.status_code == 303
    zed = crm.staff.get("zed")
    assert (zed.name, zed.role, zed.email) == (SCRIPT + "Zed", "viewer", None)
    page = admin.get("/admin/staff")
    assert SCRIPT not in page.text and "&lt;script&gt;window.pwned=1&lt;/script&gt;Zed" in page.text
    answer = admin.post("/admin/staff", data={
        "csrf_token": csrf(page), "handle": "zed", "name": "Again", "team": "sales",
        "role": "agent"})
    assert answer.status_code == 409 and "staff handle &#39;zed&#39; already exists" in answer.text
    assert 'value="Again"' in answer.text  # what was entered stays
    answer = admin.post("/admin/staff/zed/role", data={"csrf_token": csrf(page), "role": "boss"})
    assert answer.status_code == 422 and "role &#39;boss&#39; is not defined" in answer.text
    assert admin.post("/admin/staff/zed/role", data={"csrf_token": csrf(page),
                                                     "role": "manager"}).status_code == 303
    assert admin.post("/admin/staff/zed/deactivate",
                      data={"csrf_token": csrf(page)}).status_code == 303
    zed = crm.staff.get("zed")
    assert (zed.role, zed.active) == ("manager", False)
    audit = admin.get("/admin/audit", params={"actor": "boss", "command": "/admin/staff"})
    assert audit.status_code == 200
    assert SCRIPT not in audit.text and "&lt;script&gt;" in audit.text  # the audited name
    assert audit.text.count("data-audit=") == 3


def test_a_handle_of_two_words_is_refused_as_on_the_command_line(crm, admin):
    page = admin.get("/admin/staff")
    answer = admin.post("/admin/staff", data={
        "csrf_token": csrf(page), "handle": "ana maria", "name": "Ana", "team": "sales",
        "role": "agent"})
    assert answer.status_code == 422 and (
        "staff handle: &#39;ana maria&#39; contains &#39; &#39; (allowed: 1 to 100 letters, "
        "digits and . _ - @, the first not -)") in answer.text
    assert 'value="ana maria"' in answer.text  # what was entered stays
    assert [s.handle for s in crm.staff.list()] == ["boss"]


STAFFER = ["staff.manage", "tokens.manage", "customers.read"]
"""A role that manages staff and tokens and holds little else: not an admin."""


@pytest.fixture
def staffer(crm, admin, other):
    """sam (role staffer: :data:`STAFFER`) signed in on ``other``, beside boss (admin, signed
    in as the ``admin`` fixture, with a token) and cy (role reader: customers.read)."""
    roles = crm.core_config["roles"] | {"staffer": STAFFER, "reader": ["customers.read"]}
    crm.plugins.configure_core(crm.core_config | {"roles": roles})
    crm.staff.add("cy", "Cy", "office", role="reader")
    return member(crm, other, "sam", "staffer")


def staff_state(crm) -> tuple:
    """Every member's handle, role and status, every token's status, the roles, the audit."""
    return ([(s.handle, s.role, s.active) for s in crm.staff.list(active_only=False)],
            [(t.staff_handle, t.revoked_at) for t in crm.tokens.list()], crm.auth.roles(),
            [(e.actor, e.action, e.record_key) for e in AuditLog(crm).list()])


def test_staff_manage_grants_no_more_than_the_member_s_own_role_on_the_pages(crm, admin,
                                                                             staffer):
    [boss_token] = crm.tokens.list("boss")
    roles_form = form_of(staffer.get("/admin/roles"), "/admin/roles")
    token = roles_form["csrf_token"]
    lacking = " what role staffer does not (customers.write, customers.pii, "
    before = staff_state(crm)
    for path, data, message in (
            ("/admin/staff/sam/role", {"role": "admin"}, "change their own role"),
            ("/admin/staff/cy/role", {"role": "admin"},
             "give &#39;cy&#39; role admin: it grants" + lacking),
            ("/admin/staff", {"handle": "eve", "name": "Eve", "team": "x", "role": "admin"},
             "add &#39;eve&#39; with role admin: it grants" + lacking),
            ("/admin/staff/boss/role", {"role": "reader"},
             "change the role of &#39;boss&#39;: their role admin grants" + lacking),
            ("/admin/staff/boss/deactivate", {},
             "remove &#39;boss&#39;: their role admin grants" + lacking),
            ("/admin/tokens", {"staff": "boss"},
             "create an API token for &#39;boss&#39;: their role admin grants" + lacking),
            (f"/admin/tokens/{boss_token.id}/revoke", {},
             f"revoke API token {boss_token.id} of &#39;boss&#39;: their role admin grants"
             + lacking),
            ("/admin/roles", roles_form | {"role:staffer": "*"},
             "let role staffer grant *: it would grant" + lacking),
            ("/admin/roles", roles_form | {"role:admin": "customers.read"},
             "change role admin: it grants" + lacking)):
        answer = staffer.post(path, data=data | {"csrf_token": token})
        assert answer.status_code == 403, path
        assert "&#39;sam&#39; (role staffer) may not " + message in answer.text, path
    assert 'value="eve"' in staffer.post("/admin/staff", data={  # what was entered stays
        "csrf_token": token, "handle": "eve", "name": "Eve", "team": "x", "role": "admin"}).text
    assert staff_state(crm) == before  # nothing changed, nothing audited
    # within their own role's permissions they may
    for path, data in (("/admin/staff", {"handle": "dan", "name": "Dan", "team": "x",
                                         "role": "reader"}),
                       ("/admin/staff/cy/role", {"role": "staffer"}),
                       ("/admin/staff/dan/deactivate", {}),
                       ("/admin/tokens", {"staff": "cy"}),
                       ("/admin/roles", roles_form | {"role:reader": ""})):
        assert staffer.post(path, data=data | {"csrf_token": token}).status_code in (201, 303)
    assert [(s.handle, s.role, s.active) for s in crm.staff.list(active_only=False)] == [
        ("boss", "admin", True), ("cy", "staffer", True), ("sam", "staffer", True),
        ("dan", "reader", False)]
    assert "reader" not in crm.auth.roles() and len(crm.tokens.list("cy")) == 1
    assert len(AuditLog(crm).list(actor="sam")) == 5


def test_an_admin_still_grants_and_acts_on_anyone_on_the_pages(crm, admin, staffer):
    token = csrf(admin.get("/admin/staff"))
    [sam_token] = crm.tokens.list("sam")
    for path, data in (("/admin/staff", {"handle": "eve", "name": "Eve", "team": "x",
                                         "role": "admin"}),
                       ("/admin/staff/sam/role", {"role": "admin"}),
                       ("/admin/staff/eve/role", {"role": "viewer"}),
                       ("/admin/staff/cy/deactivate", {}),
                       ("/admin/tokens", {"staff": "eve"}),
                       (f"/admin/tokens/{sam_token.id}/revoke", {})):
        assert admin.post(path, data=data | {"csrf_token": token}).status_code in (201, 303)
    assert [(s.handle, s.role, s.active) for s in crm.staff.list(active_only=False)] == [
        ("boss", "admin", True), ("cy", "reader", False), ("sam", "admin", True),
        ("eve", "viewer", True)]
    assert crm.tokens.get(sam_token.id).revoked_at is not None
    answer = admin.post("/admin/staff/boss/role", data={"csrf_token": token, "role": "viewer"})
    assert answer.status_code == 403 and (
        "&#39;boss&#39; (role admin) may not change their own role") in answer.text
    answer = admin.post("/admin/staff/boss/deactivate", data={"csrf_token": token})
    assert answer.status_code == 403 and (
        "&#39;boss&#39; (role admin) may not remove themselves") in answer.text
    assert crm.staff.get("boss").role == "admin" and crm.staff.get("boss").active


def test_roles_are_edited_through_the_core_config_validation(crm, admin):
    page = admin.get("/admin/roles")
    fields = form_of(page, "/admin/roles")
    assert fields["role:viewer"] == "*.read\n!audit.read"
    answer = admin.post("/admin/roles", data=fields | {"role:viewer": "*.read\ncustomers.reed"})
    assert answer.status_code == 422
    assert "&#39;customers.reed&#39; is not a core permission" in field_error(
        answer, "role-3-viewer")
    assert form_of(answer, "/admin/roles")["role:viewer"] == "*.read\ncustomers.reed"
    assert crm.auth.roles()["viewer"] == ["*.read", "!audit.read"]
    answer = admin.post("/admin/roles", data=fields | {"role:admin": ""})
    assert answer.status_code == 422 and "role &#39;admin&#39; is used by staff member" in (
        answer.text)
    answer = admin.post("/admin/roles", data=fields | {"new_role": "auditor",
                                                       "new_patterns": "audit.read\n"})
    assert answer.status_code == 303
    assert crm.auth.roles()["auditor"] == ["audit.read"]
    [entry] = AuditLog(crm).list(table="settings")
    assert (entry.actor, entry.command) == ("boss", "web POST /admin/roles")


def test_a_database_error_saving_the_roles_names_no_database_and_is_logged(crm, admin,
                                                                          monkeypatch, caplog):
    from crmkit.errors import DatabaseError
    from crmkit.web.dispatch import DATABASE_UNAVAILABLE

    def unreachable(config, by):
        raise DatabaseError("postgresql://crm@db.internal/crm: connection refused")

    fields = form_of(admin.get("/admin/roles"), "/admin/roles")
    monkeypatch.setattr(crm.plugins, "configure_core", unreachable)
    answer = admin.post("/admin/roles", data=fields | {"role:viewer": "*.read\naudit.read"})
    assert answer.status_code == 503 and "db.internal" not in answer.text
    assert DATABASE_UNAVAILABLE.replace("'", "&#39;") in answer.text
    assert "POST /admin/roles: postgresql://crm@db.internal/crm: connection refused" in (
        caplog.text)


def test_a_token_s_secret_is_shown_once_and_a_revoked_token_stops_working(crm, admin):
    page = admin.get("/admin/tokens")
    answer = admin.post("/admin/tokens", data={"csrf_token": csrf(page), "staff": "boss",
                                               "name": "laptop", "expires": "2025-06-30"})
    assert answer.status_code == 201
    secret = re.search(r'value="(crmkit_[^"]+)" data-secret', answer.text).group(1)
    assert crm.auth.authenticate_token(secret).handle == "boss"
    token = next(t for t in crm.tokens.list() if t.name == "laptop")
    assert token.expires_at.isoformat() == "2025-06-30T00:00:00+00:00"
    listing = admin.get("/admin/tokens")
    assert secret not in listing.text and f'data-token="{token.id}" data-status="active"' in (
        listing.text)
    answer = admin.post("/admin/tokens", data={"csrf_token": csrf(page), "staff": "boss",
                                               "expires": "2024-01-01"})
    assert answer.status_code == 422 and "2024-01-01T00:00:00+00:00: is in the past" in (
        answer.text)
    for malformed in ("9" * 25, "%C2%B2", "%D9%A1"):  # too large, superscript 2, Arabic-Indic 1
        answer = admin.post(f"/admin/tokens/{malformed}/revoke", data={"csrf_token": csrf(page)})
        assert answer.status_code == 404 and "no API token with id" in answer.text, malformed
    assert all(t.revoked_at is None for t in crm.tokens.list())
    answer = admin.post(f"/admin/tokens/{token.id}/revoke", data={"csrf_token": csrf(page)})
    assert answer.status_code == 303
    assert f'data-token="{token.id}" data-status="revoked"' in admin.get("/admin/tokens").text
    assert crm.tokens.get(token.id).revoked_at is not None


def test_webhooks_are_added_through_the_api_s_checks_and_a_script_url_is_text(crm, admin):
    page = admin.get("/admin/webhooks")
    url = "https://example.com/hook?x=" + SCRIPT
    bad = admin.post("/admin/webhooks", data={"csrf_token": csrf(page), "url": url,
                                              "event_types": "customer.creatd",
                                              "secret": "s" * 20})
    assert bad.status_code == 422
    assert "unknown event type &#39;customer.creatd&#39; (did you mean" in bad.text
    assert crm.webhooks.list() == []
    answer = admin.post("/admin/webhooks", data={"csrf_token": csrf(page), "url": url,
                                                 "event_types": "customer.created\n",
                                                 "secret": "s" * 20})
    assert answer.status_code == 303, answer.text
    [hook] = crm.webhooks.list()
    assert (hook.url, hook.event_types) == (url, ("customer.created",))
    crm.customers.add("C1", "Cy")
    page = admin.get("/admin/webhooks")
    assert SCRIPT not in page.text and "?x=&lt;script&gt;window.pwned=1&lt;/script&gt;" in page.text
    assert "s" * 20 not in page.text
    assert re.search(r'data-delivery="\d+">.*?customer\.created.*?pending', page.text,
                     re.DOTALL)
    assert "0 delivered, 1 pending, 0 failed" in page.text
    for malformed in ("9" * 25, "%C2%B2", "%D9%A1"):
        answer = admin.post(f"/admin/webhooks/{malformed}/remove",
                            data={"csrf_token": csrf(page)})
        assert answer.status_code == 404 and "no webhook with id" in answer.text, malformed
    assert crm.webhooks.get(hook.id).active is True
    answer = admin.post(f"/admin/webhooks/{hook.id}/remove", data={"csrf_token": csrf(page)})
    assert answer.status_code == 303
    assert crm.webhooks.get(hook.id).active is False
    answer = admin.post(f"/admin/webhooks/{hook.id}/remove", data={"csrf_token": csrf(page)})
    assert answer.status_code == 409 and "was already removed" in answer.text


def webhooks_written(crm) -> tuple:
    """Every webhook stored, removed ones too, and every audit entry about one."""
    return (crm.webhooks.list(include_removed=True),
            [(e.actor, e.action, e.record_key) for e in AuditLog(crm).list(table="webhooks")])


def test_a_member_adds_on_the_page_only_a_webhook_whose_deliveries_they_may_read(
        crm, admin, other):
    """Deliveries carry every customer unmasked and each event type's data: hal, whose role
    manages webhooks and reads everything masked, is refused a webhook (403, nothing stored
    or audited, what was entered but the secret stays), and so is one of loyalty's events
    for a role without loyalty.read; a manager and an admin add them."""
    roles = crm.core_config["roles"] | {
        "hooker": ["webhooks.manage", "*.read"],
        "unmasked": ["webhooks.manage", "customers.read", "customers.pii", "events.read"]}
    crm.plugins.configure_core(crm.core_config | {"roles": roles})
    hal = member(crm, other, "hal", "hooker")
    token = csrf(hal.get("/admin/webhooks"))
    url = "https://example.com/hook"
    for role, event_types, missing in (("hooker", "customer.created", "customers.pii"),
                                       ("unmasked", "customer.created\ntier.changed",
                                        "loyalty.read")):
        crm.staff.set_role("hal", role)
        answer = hal.post("/admin/webhooks", data={"csrf_token": token, "url": url,
                                                   "event_types": event_types,
                                                   "secret": "s" * 20})
        assert answer.status_code == 403, role
        assert (f"&#39;hal&#39; (role {role}) may not add this webhook: its deliveries would "
                f"let them read what role {role} does not ({missing})") in answer.text
        assert 'value="https://example.com/hook"' in answer.text and "s" * 20 not in (
            answer.text)
        assert webhooks_written(crm) == ([], [])
    max_ = member(crm, other, "max", "manager")
    for client, actor in ((max_, "max"), (admin, "boss")):
        answer = client.post("/admin/webhooks", data={
            "csrf_token": csrf(client.get("/admin/webhooks")), "url": url,
            "event_types": "\n".join(sorted(crm.events.types())), "secret": "s" * 20})
        assert answer.status_code == 303, answer.text
        entry = AuditLog(crm).list(action="create", table="webhooks")[0]
        assert (entry.actor, entry.command) == (actor, "web POST /admin/webhooks")
    assert len(crm.webhooks.list()) == 2


def test_a_member_a_row_level_rule_hides_customers_from_adds_no_webhook_on_the_page(
        crm_url, clock):
    """The webtest plugin's rule hides customer C1 from mia (manager): she may add no
    webhook on the page (403, nothing stored or audited); root (admin) may."""
    url = "https://example.com/hook"
    with row_level_api(crm_url, clock) as site:
        for handle in ("mia", "root"):
            site.crm.staff.set_password(handle, PASSWORD)
        mia = sign_in(site, "mia")
        answer = mia.post("/admin/webhooks", data={
            "csrf_token": csrf(mia.get("/admin/webhooks")), "url": url,
            "event_types": "customer.created", "secret": "s" * 20})
        assert answer.status_code == 403
        assert ("&#39;mia&#39; (role manager) may not add this webhook: its deliveries would "
                "let them read every record, and the row-level rule of plugin &#39;webtest&#39; "
                "hides some from them") in answer.text
        assert webhooks_written(site.crm) == ([], [])
        root = sign_in(site, "root")
        answer = root.post("/admin/webhooks", data={
            "csrf_token": csrf(root.get("/admin/webhooks")), "url": url,
            "event_types": "customer.created", "secret": "s" * 20})
        assert answer.status_code == 303, answer.text
        assert_webhook_added(site.crm, url, "root", "web POST /admin/webhooks")


def test_the_audit_log_pages_newest_first_and_filters_by_actor_and_command(crm, admin, clock):
    for number in range(60):
        clock.advance(seconds=1)
        crm.customers.add(f"C{number:02d}", f"Customer {number}")
    page = admin.get("/admin/audit", params={"actor": "system", "command": ""})
    keys = re.findall(r"<td class=\"token\" data-label=\"Record\">customers (C\d\d)</td>",
                      page.text)
    assert keys == [f"C{n:02d}" for n in range(59, 9, -1)]  # 50, newest first
    older = re.search(r'href="(/admin/audit\?[^"]+)" rel="next"', page.text).group(1)
    page = admin.get(older.replace("&amp;", "&"))
    keys = re.findall(r"<td class=\"token\" data-label=\"Record\">customers (C\d\d)</td>",
                      page.text)
    assert keys == [f"C{n:02d}" for n in range(9, -1, -1)] and 'rel="next"' not in page.text
    assert admin.get("/admin/audit", params={"actor": "nobody"}).text.count("data-audit=") == 0
    assert admin.get("/admin/audit", params={"before": "garbage"}).status_code == 422
    for name in ("actor", "command"):  # PostgreSQL answered a NUL with a 500
        answer = admin.get("/admin/audit", params={name: "a\x00b"})
        assert answer.status_code == 422 and "NUL character" in answer.text
    for position in ('["2026-01-01", 1' + "0" * 31 + "]", "[" * 4000 + "]" * 4000):
        before = base64.urlsafe_b64encode(position.encode()).decode()
        answer = admin.get("/admin/audit", params={"before": before})
        assert answer.status_code == 422 and "is not a cursor this API handed out" in answer.text


BUILT_IN = ("analytical", "assessment", "catalogue", "collaborative", "idic", "loyalty",
            "operational", "social", "valuechain")


def test_every_built_in_plugin_s_form_sends_back_its_stored_configuration(crm, admin):
    for name in BUILT_IN:
        if name not in crm.enabled_plugins():
            crm.plugins.enable(name)
    for name in BUILT_IN:
        before = crm.plugins.config(name)
        page = admin.get(f"/admin/plugins/{name}")
        assert page.status_code == 200, name
        answer = admin.post(f"/admin/plugins/{name}",
                            data=form_of(page, f"/admin/plugins/{name}"))
        assert answer.status_code == 303, (name, answer.text)
        assert crm.plugins.config(name) == before, name


def test_a_configuration_the_plugin_checks_slowly_holds_no_write_lock(tmp_path, clock,
                                                                      slow_resolver):
    """The configure page stores through crm.plugins, which lets the plugin check the
    configuration (campaigns resolving webhook.url) before any write transaction opens: on
    SQLite another writer completes while the check waits; the change is audited as the page."""
    hook = "https://hooks.example.test/hook"
    with slowly_checked_campaigns(tmp_path / "crm.db", clock) as crm:
        site = InProcess(crm)
        try:
            boss = member(crm, site, "boss", "admin")
            fields = form_of(boss.get("/admin/plugins/campaigns"), "/admin/plugins/campaigns")
            answer = slow_resolver("hooks.example.test").while_held(
                lambda: boss.post("/admin/plugins/campaigns",
                                  data=fields | {"config/webhook/url": hook}),
                lambda: writes_while_checking(crm))
        finally:
            site.close()
        assert answer.status_code == 303, answer.text
        assert crm.plugins.config("campaigns")["webhook"]["url"] == hook
        entry = AuditLog(crm).list(action="configure")[0]  # newest first
        assert (entry.actor, entry.command) == ("boss", "web POST /admin/plugins/campaigns")


def test_a_webhook_added_on_its_page_holds_no_write_lock_while_its_host_is_resolved(
        tmp_path, clock, slow_resolver):
    """The webhooks page adds through crm.webhooks, which resolves the host before any
    write transaction opens: on SQLite another writer completes while the lookup waits; the
    webhook is audited as the page."""
    url = "https://hooks.example.test/in"
    with slowly_checked_campaigns(tmp_path / "crm.db", clock) as crm:
        site = InProcess(crm)
        try:
            boss = member(crm, site, "boss", "admin")
            token = csrf(boss.get("/admin/webhooks"))
            answer = slow_resolver("hooks.example.test").while_held(
                lambda: boss.post("/admin/webhooks", data={
                    "csrf_token": token, "url": url, "event_types": "customer.created",
                    "secret": "s" * 16}),
                lambda: writes_while_checking(crm))
        finally:
            site.close()
        assert answer.status_code == 303, answer.text
        assert_webhook_added(crm, url, "boss", "web POST /admin/webhooks")
