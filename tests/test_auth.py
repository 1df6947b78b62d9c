"""Authentication and roles: API tokens, passwords and lock-out, role grants, row-level hooks,
masking of personal data, and the roles of staff who existed before roles."""

from __future__ import annotations

import datetime as dt
import re
import types

import pytest
from sqlalchemy import inspect, select, text

import crmkit
from crmkit import CRM, tables
from crmkit.auth import (CORE_PERMISSIONS, DEFAULT_ROLES, LOCKOUT, MAX_FAILED_SIGN_INS,
                         SIGN_IN_REFUSED, TOKEN_PREFIX, Principal, granted_beyond, token_hash)
from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.errors import (ConfigError, ConflictError, NotFound, PermissionDenied, PluginError,
                           Unauthenticated, ValidationError)

UTC = dt.timezone.utc


def database_text(crm) -> str:
    """Every value of every table of the CRM's database, as one text."""
    with crm.connect() as conn:
        parts = []
        for name in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{name}"')):
                parts.append(repr(tuple(row)))
        return "\n".join(parts)


def principal(role: str, handle: str = "ana") -> Principal:
    return Principal(handle, role, frozenset(DEFAULT_ROLES[role]))


# -- tokens --------------------------------------------------------------------------------


def test_tokens_are_created_listed_and_revoked(crm, clock):
    crm.staff.add("ana", "Ana", "sales", role="viewer")
    crm.staff.add("ben", "Ben", "sales")
    token, secret = crm.tokens.create("ana", name="laptop")
    other, _ = crm.tokens.create("ben", expires_at=clock.now() + dt.timedelta(days=30))
    assert secret.startswith(TOKEN_PREFIX) and len(secret) == len(TOKEN_PREFIX) + 43
    assert (token.staff_handle, token.name, token.created_at, token.revoked_at) == (
        "ana", "laptop", clock.now(), None)
    assert [t.id for t in crm.tokens.list()] == [token.id, other.id]
    assert [t.id for t in crm.tokens.list("ben")] == [other.id]
    assert crm.auth.authenticate_token(secret) == principal("viewer")

    clock.advance(hours=1)
    revoked = crm.tokens.revoke(token.id)
    assert revoked.revoked_at == clock.now()
    with pytest.raises(Unauthenticated, match="the API token was revoked"):
        crm.auth.authenticate_token(secret)
    with pytest.raises(ConflictError, match=f"API token {token.id} was already revoked"):
        crm.tokens.revoke(token.id)
    with pytest.raises(NotFound, match="no API token 999"):
        crm.tokens.revoke(999)
    with pytest.raises(NotFound, match="no staff member 'nobody'"):
        crm.tokens.list("nobody")
    with crm.connect() as conn:
        audited = conn.execute(select(tables.audit_log.c.action, tables.audit_log.c.record_key)
                               .where(tables.audit_log.c.table_name == "api_tokens")
                               .order_by(tables.audit_log.c.id)).all()
    assert audited == [("create", str(token.id)), ("create", str(other.id)),
                       ("revoke", str(token.id))]


def test_only_the_hash_of_a_token_is_stored(crm):
    crm.staff.add("ana", "Ana", "sales")
    _, secret = crm.tokens.create("ana")
    stored = database_text(crm)
    assert secret not in stored and secret[len(TOKEN_PREFIX):] not in stored
    assert token_hash(secret) in stored


def test_an_expired_token_is_refused(crm, clock):
    crm.staff.add("ana", "Ana", "sales")
    _, secret = crm.tokens.create("ana", expires_at=clock.now() + dt.timedelta(hours=2))
    clock.advance(hours=1, minutes=59)
    assert crm.auth.authenticate_token(secret).handle == "ana"
    clock.advance(minutes=1)
    with pytest.raises(Unauthenticated, match="the API token expired at 2025-01-01 14:00 UTC"):
        crm.auth.authenticate_token(secret)


@pytest.mark.parametrize("secret, message", [
    ("", "no API token given"),
    ("crmkit_not-a-token", "unknown API token"),
])
def test_missing_and_unknown_tokens_are_refused(crm, secret, message):
    with pytest.raises(Unauthenticated, match=message):
        crm.auth.authenticate_token(secret)


def test_a_removed_members_token_is_refused(crm):
    crm.staff.add("ana", "Ana", "sales")
    _, secret = crm.tokens.create("ana")
    crm.staff.remove("ana")
    with pytest.raises(Unauthenticated, match="staff member was removed"):
        crm.auth.authenticate_token(secret)
    with pytest.raises(ValidationError, match="'ana' was removed"):
        crm.tokens.create("ana")


def test_token_input_is_checked(crm, clock):
    crm.staff.add("ana", "Ana", "sales")
    with pytest.raises(ValidationError) as refused:
        crm.tokens.create("ana", expires_at=clock.now())
    now = clock.now().isoformat()
    assert str(refused.value) == (f"token expiry {now}: is in the past (now is {now}); give a "
                                  "time in the future")
    with pytest.raises(ValidationError, match=r"token expiry 2030-01-01T00:00:00: must be a "
                                              r"time with a UTC offset$"):
        crm.tokens.create("ana", expires_at=dt.datetime(2030, 1, 1))
    with pytest.raises(NotFound, match="no staff member 'nobody'"):
        crm.tokens.create("nobody")
    with pytest.raises(ValidationError, match="^token name: required: 1 to 200 characters$"):
        crm.tokens.create("ana", name=" ")
    with pytest.raises(ValidationError, match="^token name: 201 characters; at most 200$"):
        crm.tokens.create("ana", name="n" * 201)
    assert crm.tokens.list() == []
    assert_keeps_max_field_length(crm, "token name",
                                  lambda name: crm.tokens.create("ana", name=name),
                                  crm.tokens.list)


def test_last_used_is_written_at_most_once_a_minute(crm, clock):
    crm.staff.add("ana", "Ana", "sales")
    token, secret = crm.tokens.create("ana")
    start = clock.now()
    crm.auth.authenticate_token(secret)
    clock.advance(seconds=59)
    crm.auth.authenticate_token(secret)
    assert crm.tokens.get(token.id).last_used_at == start
    clock.advance(seconds=1)
    crm.auth.authenticate_token(secret)
    assert crm.tokens.get(token.id).last_used_at == start + dt.timedelta(minutes=1)


# -- passwords -------------------------------------------------------------------------------


def test_password_sign_in(crm):
    crm.staff.add("ana", "Ana", "sales", role="manager")
    crm.staff.set_password("ana", "correct horse battery")
    assert crm.auth.authenticate_password("ana", "correct horse battery") == principal("manager")
    for handle, password in [("ana", "wrong password!"), ("nobody", "correct horse battery"),
                             ("ana", None)]:
        with pytest.raises(Unauthenticated) as refused:
            crm.auth.authenticate_password(handle, password)
        assert str(refused.value) == SIGN_IN_REFUSED
    stored = database_text(crm)
    assert "correct horse battery" not in stored and "$argon2id$" in stored
    with crm.connect() as conn:
        changes = conn.execute(select(tables.audit_log.c.changes)
                               .where(tables.audit_log.c.record_key == "ana")
                               .order_by(tables.audit_log.c.id.desc())).scalar()
    assert changes == {"password": "changed"}


def test_a_short_password_is_refused(crm):
    crm.staff.add("ana", "Ana", "sales")
    with pytest.raises(ValidationError, match=r"password of 'ana': at least 10 characters are "
                                              r"required \(got 9\)"):
        crm.staff.set_password("ana", "123456789")
    with pytest.raises(NotFound, match="no staff member 'nobody'"):
        crm.staff.set_password("nobody", "long enough password")
    with pytest.raises(Unauthenticated):
        crm.auth.authenticate_password("ana", "123456789")


def test_repeated_failures_lock_a_handle_for_15_minutes(crm, clock):
    crm.staff.add("ana", "Ana", "sales")
    crm.staff.set_password("ana", "correct horse battery")
    for _ in range(MAX_FAILED_SIGN_INS):
        with pytest.raises(Unauthenticated):
            crm.auth.authenticate_password("ana", "wrong password!")
    locked_at = clock.now()
    clock.advance(minutes=14, seconds=59)
    with pytest.raises(Unauthenticated) as refused:  # locked: even the right password
        crm.auth.authenticate_password("ana", "correct horse battery")
    assert str(refused.value) == SIGN_IN_REFUSED  # the same words as for an unknown handle
    clock.advance(seconds=1)
    assert crm.auth.authenticate_password("ana", "correct horse battery").handle == "ana"
    with crm.connect() as conn:
        lock = conn.execute(select(tables.audit_log.c.action, tables.audit_log.c.changes)
                            .where(tables.audit_log.c.action == "lock")).one()
    assert lock.changes == {"failed_sign_ins": MAX_FAILED_SIGN_INS,
                            "locked_until": (locked_at + LOCKOUT).isoformat()}


def test_a_success_resets_the_count_of_failures(crm):
    crm.staff.add("ana", "Ana", "sales")
    crm.staff.set_password("ana", "correct horse battery")
    for _ in range(2):
        for _ in range(MAX_FAILED_SIGN_INS - 1):
            with pytest.raises(Unauthenticated):
                crm.auth.authenticate_password("ana", "wrong password!")
        assert crm.auth.authenticate_password("ana", "correct horse battery").handle == "ana"


def test_a_new_password_lifts_a_lock_out(crm):
    crm.staff.add("ana", "Ana", "sales")
    crm.staff.set_password("ana", "correct horse battery")
    for _ in range(MAX_FAILED_SIGN_INS):
        with pytest.raises(Unauthenticated):
            crm.auth.authenticate_password("ana", "wrong password!")
    crm.staff.set_password("ana", "another good password")
    assert crm.auth.authenticate_password("ana", "another good password").handle == "ana"


# -- roles and permissions -------------------------------------------------------------------


def test_default_roles_grant_by_pattern():
    admin, manager, agent, viewer = (principal(r) for r in ("admin", "manager", "agent",
                                                            "viewer"))
    assert all(admin.can(p) for p in CORE_PERMISSIONS) and admin.can("loyalty.redeem")
    assert {p for p in CORE_PERMISSIONS if not manager.can(p)} == {
        "staff.manage", "tokens.manage", "plugins.configure"}
    assert manager.can("loyalty.redeem")
    assert {p for p in CORE_PERMISSIONS if agent.can(p)} == {
        "customers.read", "customers.write", "customers.pii", "interactions.read",
        "interactions.write", "events.read", "plugins.read"}
    assert agent.can("operational.read") and agent.can("operational.write")
    assert not agent.can("loyalty.redeem")
    assert {p for p in CORE_PERMISSIONS if viewer.can(p)} == {
        "customers.read", "interactions.read", "events.read", "plugins.read"}
    assert viewer.can("operational.read") and not viewer.can("operational.write")


def test_configured_roles(crm):
    roles = {**DEFAULT_ROLES, "auditor": ["audit.read", "operational.*", "!operational.erase"]}
    crm.plugins.configure_core({**crm.core_config, "roles": roles})
    crm.staff.add("ida", "Ida", "audit", role="auditor")
    ida = crm.auth.principal("ida")
    assert ida == Principal("ida", "auditor", frozenset(roles["auditor"]))
    assert ida.can("audit.read") and ida.can("operational.close")
    assert not ida.can("operational.erase") and not ida.can("customers.read")
    assert crm.staff.set_role("ida", "viewer").role == "viewer"
    assert crm.auth.principal("ida").role == "viewer"
    with crm.connect() as conn:
        changes = conn.execute(select(tables.audit_log.c.changes)
                               .where(tables.audit_log.c.record_key == "ida")
                               .order_by(tables.audit_log.c.id.desc())).scalar()
    assert changes == {"role": ["auditor", "viewer"]}


@pytest.mark.parametrize("roles, message", [
    ({"agent": [""]}, "core config: /roles/agent/0: ''"),
    ({"agent": ["*"], "bad role": ["*"]}, "core config: /roles: 'bad role' does not match"),
    ({"agent": ["customers.read", "customers..read"]},
     "core config /roles/agent/1: 'customers..read' is not a permission pattern"),
    ({"agent": ["customers.raed"]},
     "core config /roles/agent/0: 'customers.raed' is not a core permission (allowed in "
     "customers: customers.read, "),
    ({"admin": ["*"]}, "core config /roles: role 'agent' is used by staff member 'ana'"),
])
def test_bad_roles_are_refused(crm, roles, message):
    crm.staff.add("ana", "Ana", "sales")
    before = crm.core_config
    with pytest.raises(ConfigError) as refused:
        crm.plugins.configure_core({**crm.core_config, "roles": roles})
    assert message in str(refused.value)
    assert crm.core_config == before
    with CRM.open(crm.url) as other:
        assert other.core_config == before


def test_a_running_crm_sees_roles_another_process_configured(crm):
    """A server's CRM object picks up a role added by the CLI (another CRM object) at its
    next read of plugin state, without a restart."""
    crm.staff.add("ida", "Ida", "audit")
    with CRM.open(crm.url) as server:
        assert server.auth.principal("ida").role == "agent"
        crm.plugins.configure_core({**crm.core_config, "roles": {
            **DEFAULT_ROLES, "auditor": ["audit.read"]}})
        crm.staff.set_role("ida", "auditor")
        with server.read() as conn:
            server.refresh_plugins(conn)
        ida = server.auth.principal("ida")
        assert ida == Principal("ida", "auditor", frozenset(["audit.read"]))


def test_an_unknown_role_is_refused(crm):
    with pytest.raises(ValidationError, match=r"role 'boss' is not defined \(roles: admin, "
                                              r"agent, manager, viewer"):
        crm.staff.add("ana", "Ana", "sales", role="boss")
    assert crm.staff.list() == []
    crm.staff.add("ana", "Ana", "sales")
    with pytest.raises(ValidationError, match="role 'boss' is not defined"):
        crm.staff.set_role("ana", "boss")
    assert crm.staff.get("ana").role == "agent"


def test_principal_of_an_unknown_or_removed_member(crm):
    with pytest.raises(Unauthenticated, match="'nobody' is not an active staff member"):
        crm.auth.principal("nobody")
    crm.staff.add("ana", "Ana", "sales")
    crm.staff.remove("ana")
    with pytest.raises(Unauthenticated, match="'ana' is not an active staff member"):
        crm.auth.principal("ana")


# -- granting: no one gives, or acts on, more than their own role grants ---------------------


STAFFER = ["staff.manage", "tokens.manage", "customers.read", "interactions.read"]
"""A role that manages staff and tokens and holds little else: not an admin."""


def test_granted_beyond_names_what_a_role_grants_that_another_does_not():
    assert granted_beyond(["*.read", "!audit.read"], STAFFER) == [
        "events.read", "plugins.read", "*.read"]  # *.read: reading in a plugin's area
    assert granted_beyond(["*"], ["*"]) == granted_beyond(["staff.manage"], STAFFER) == []
    assert granted_beyond(DEFAULT_ROLES["agent"], DEFAULT_ROLES["manager"]) == []
    assert granted_beyond(DEFAULT_ROLES["viewer"], DEFAULT_ROLES["agent"]) == []
    assert granted_beyond(DEFAULT_ROLES["agent"], DEFAULT_ROLES["viewer"]) == [
        "customers.write", "customers.pii", "interactions.write", "*.write"]
    # a core area has only its permissions; a plugin may declare more later
    customers = [p for p in CORE_PERMISSIONS if p.startswith("customers.")]
    assert granted_beyond(["customers.*"], customers) == []
    assert granted_beyond(["loyalty.*"], ["loyalty.read", "loyalty.redeem"]) == ["loyalty.*"]
    assert granted_beyond(["loyalty.redeem"], ["*", "!loyalty.redeem"]) == ["loyalty.redeem"]
    assert granted_beyond(["*", "!staff.manage"], ["*"]) == []


@pytest.fixture
def staffer(crm):
    """The Principal of sam (role staffer: :data:`STAFFER`), beside boss (admin), cy (role
    reader: customers.read) and a token of boss."""
    roles = {**DEFAULT_ROLES, "staffer": STAFFER, "reader": ["customers.read"]}
    crm.plugins.configure_core({**crm.core_config, "roles": roles})
    for handle, role in (("sam", "staffer"), ("boss", "admin"), ("cy", "reader")):
        crm.staff.add(handle, handle.title(), "office", role=role)
    crm.tokens.create("boss", name="laptop")
    return crm.auth.principal("sam")


def roles_with(crm, **changed) -> dict:
    """The core config with its roles changed so (a role given None is removed)."""
    roles = {**crm.core_config["roles"], **changed}
    return {**crm.core_config, "roles": {k: v for k, v in roles.items() if v is not None}}


def test_staff_manage_grants_no_more_than_the_member_s_own_role(crm, staffer):
    [boss_token] = crm.tokens.list("boss")
    refused = "'sam' (role staffer) may not "
    lacking = "what role staffer does not (customers.write, customers.pii, "
    attempts = [
        (lambda: crm.staff.set_role("sam", "admin", by=staffer),
         refused + "change their own role: another member with staff.manage whose role "
         "grants all theirs may, or the operator (`crmkit staff role sam ROLE`)"),
        (lambda: crm.staff.set_role("cy", "admin", by=staffer),
         refused + "give 'cy' role admin: it grants " + lacking),
        (lambda: crm.staff.add("eve", "Eve", "office", role="admin", by=staffer),
         refused + "add 'eve' with role admin: it grants " + lacking),
        (lambda: crm.staff.set_role("boss", "reader", by=staffer),
         refused + "change the role of 'boss': their role admin grants " + lacking),
        (lambda: crm.staff.remove("boss", by=staffer),
         refused + "remove 'boss': their role admin grants " + lacking),
        (lambda: crm.tokens.create("boss", by=staffer),
         refused + "create an API token for 'boss': their role admin grants " + lacking),
        (lambda: crm.tokens.revoke(boss_token.id, by=staffer),
         refused + f"revoke API token {boss_token.id} of 'boss': their role admin grants "
         + lacking),
        (lambda: crm.plugins.configure_core(roles_with(crm, staffer=["*"]), by=staffer),
         refused + "let role staffer grant *: it would grant " + lacking),
        (lambda: crm.plugins.configure_core(roles_with(crm, admin=["customers.read"]),
                                            by=staffer),
         refused + "change role admin: it grants " + lacking),
        (lambda: crm.plugins.configure_core(roles_with(crm, manager=None), by=staffer),
         refused + "remove role manager: it grants " + lacking),
    ]
    before = database_text(crm)
    for attempt, message in attempts:
        with pytest.raises(PermissionDenied) as refusal:
            attempt()
        assert str(refusal.value).startswith(message), str(refusal.value)
    assert database_text(crm) == before  # nothing changed, nothing audited
    # within their own permissions they may
    assert crm.staff.add("dan", "Dan", "office", role="reader", by=staffer).role == "reader"
    assert crm.staff.set_role("cy", "staffer", by=staffer).role == "staffer"
    assert not crm.staff.remove("dan", by=staffer).active
    token, _ = crm.tokens.create("cy", by=staffer)
    assert crm.tokens.revoke(token.id, by=staffer).revoked_at is not None
    crm.plugins.configure_core(roles_with(crm, reader=["customers.read", "interactions.read"],
                                          clerk=["customers.read"]), by=staffer)
    assert crm.auth.roles()["clerk"] == ["customers.read"]


def test_an_admin_grants_and_acts_on_anyone_but_changes_no_own_role(crm, staffer):
    boss = crm.auth.principal("boss")
    assert crm.staff.add("eve", "Eve", "office", role="admin", by=boss).role == "admin"
    assert crm.staff.set_role("sam", "admin", by=boss).role == "admin"
    assert crm.staff.set_role("eve", "viewer", by=boss).role == "viewer"
    [token] = crm.tokens.list("boss")
    assert crm.tokens.revoke(token.id, by=boss).revoked_at is not None
    crm.tokens.create("sam", by=boss)
    crm.plugins.configure_core(roles_with(crm, staffer=["*"], manager=None), by=boss)
    assert not crm.staff.remove("sam", by=boss).active
    with pytest.raises(PermissionDenied, match=r"^'boss' \(role admin\) may not change their "
                                               "own role"):
        crm.staff.set_role("boss", "viewer", by=boss)
    assert crm.staff.get("boss").role == "admin"


# -- plugins' permissions and row-level rules --------------------------------------------------


def owned_leads_plugin(declared=None) -> types.ModuleType:
    """A plugin whose agents may reach only the leads they own."""
    module = types.ModuleType("ownership")
    module.PLUGIN = crmkit.PluginInfo(name="ownership", description="leads have owners")
    module.crmkit_permissions = crmkit.hookimpl(lambda: declared or {
        "ownership.read": "see leads", "ownership.write": "change leads"})

    def crmkit_permission_allowed(principal, permission, resource):
        if permission.startswith("ownership.") and principal.role == "agent":
            return resource is not None and resource["owner"] == principal.handle
        return None

    module.crmkit_permission_allowed = crmkit.hookimpl(crmkit_permission_allowed)
    return module


@pytest.fixture
def ownership_crm(crm_url, clock):
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"ownership": owned_leads_plugin()}) as crm:
        crm.plugins.enable("ownership")
        yield crm


def test_a_plugin_refuses_a_row_as_not_found(ownership_crm):
    crm = ownership_crm
    ana, manager, viewer = principal("agent"), principal("manager"), principal("viewer")
    own, others = {"id": 1, "owner": "ana"}, {"id": 2, "owner": "ben"}
    crm.auth.require(ana, "ownership.write", own)
    assert crm.auth.allowed(ana, "ownership.read", own)
    assert not crm.auth.allowed(ana, "ownership.read", others)
    with pytest.raises(NotFound, match="not found"):
        crm.auth.require(ana, "ownership.read", others)
    with pytest.raises(PermissionDenied, match=r"'ana' \(role agent\) may not ownership.read$"):
        crm.auth.require(ana, "ownership.read")
    crm.auth.require(manager, "ownership.read", others)  # the hook has no opinion on managers
    with pytest.raises(PermissionDenied, match="may not ownership.write: the role does not "
                                               "grant it"):
        crm.auth.require(viewer, "ownership.write", others)  # the role refuses first: 403
    assert crm.auth.permissions() == {**CORE_PERMISSIONS, "ownership.read": "see leads",
                                      "ownership.write": "change leads"}


def test_a_row_level_rule_that_fails_refuses(crm_url, clock):
    plugin = owned_leads_plugin()
    plugin.crmkit_permission_allowed = crmkit.hookimpl(
        lambda principal, permission, resource: "yes")
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"ownership": plugin}) as crm:
        crm.plugins.enable("ownership")
        with pytest.raises(PluginError, match="plugin 'ownership': crmkit_permission_allowed "
                                              "must return True, False or None, got str"):
            crm.auth.require(principal("agent"), "ownership.read", {"owner": "ana"})


def test_the_plugins_whose_row_level_rule_may_refuse_a_principal_are_named(crm_url, clock):
    """crm.auth.restricted_by: a plugin's crmkit_permission_restricted says whom its rule may
    refuse what; a plugin with a rule that does not say is taken to refuse anyone anything."""
    ownership = owned_leads_plugin()
    ownership.crmkit_permission_restricted = crmkit.hookimpl(
        lambda principal, permission: permission.startswith("ownership.")
        and principal.role == "agent")
    silent = types.ModuleType("silent")
    silent.PLUGIN = crmkit.PluginInfo(name="silent", description="a rule saying nothing more")
    silent.crmkit_permission_allowed = crmkit.hookimpl(
        lambda principal, permission, resource: None)
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"ownership": ownership, "silent": silent}) as crm:
        crm.plugins.enable("ownership")
        agent = principal("agent")
        assert crm.auth.restricted_by(agent, ["customers.read", "ownership.read"]) == [
            "ownership"]
        assert crm.auth.restricted_by(agent, ["customers.read", "customers.pii"]) == []
        assert crm.auth.restricted_by(principal("manager"), ["ownership.read"]) == []
        crm.plugins.enable("silent")
        assert crm.auth.restricted_by(principal("admin"), ["customers.read"]) == ["silent"]
        assert crm.auth.restricted_by(agent, ["ownership.write"]) == ["ownership", "silent"]


def test_a_permission_outside_the_plugins_name_is_refused(crm_url, clock):
    plugin = owned_leads_plugin({"customers.delete": "delete customers"})
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"ownership": plugin}) as crm:
        crm.plugins.enable("ownership")
        with pytest.raises(PluginError, match="crmkit_permissions declares 'customers.delete'; "
                                              "each must be named ownership.<action>"):
            crm.auth.permissions()


@pytest.fixture
def hiding_crm(crm_url, clock):
    """A CRM whose "hiding" plugin hides the customers tagged "secret" from every role but
    admin (it refuses ``customers.read`` on them): C1 is secret, C3 was merged into C2."""
    plugin = types.ModuleType("hiding")
    plugin.PLUGIN = crmkit.PluginInfo(name="hiding", description="hides secret customers")
    plugin.crmkit_permission_allowed = crmkit.hookimpl(
        lambda principal, permission, resource: False if (
            principal.role != "admin" and permission == "customers.read"
            and resource is not None and "secret" in resource["tags"]) else None)
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins={"hiding": plugin}) as crm:
        crm.plugins.enable("hiding")
        crm.customers.add_many([{"external_id": ref, "tags": tags} for ref, tags in (
            ("C1", ["secret"]), ("C2", []), ("C3", []))])
        crm.customers.merge("C2", "C3")
        yield crm


def test_a_customer_a_rule_hides_is_named_as_if_unknown(hiding_crm):
    crm = hiding_crm
    agent = principal("agent")
    assert crm.auth.named_customer(agent, None) is None
    assert crm.auth.named_customer(agent, "C2") == "C2"
    assert crm.auth.named_customer(principal("admin"), "C1") == "C1"
    for ref in ("C1", "C9"):
        with pytest.raises(NotFound, match=f"^no customer '{ref}'$"):
            crm.auth.named_customer(agent, ref)
    with pytest.raises(NotFound) as merged:
        crm.customers.get("C3")
    assert "C2" in str(merged.value)
    with pytest.raises(NotFound, match=f"^{re.escape(str(merged.value))}$"):
        crm.auth.named_customer(agent, "C3")


def test_a_record_of_a_customer_a_rule_hides_is_missing_and_a_batch_knows_whom_it_hides(
        hiding_crm):
    crm = hiding_crm
    agent = principal("agent")
    assert crm.auth.named_customer(agent, "C2", "no task with id 7") == "C2"
    for ref in ("C1", "C9"):
        with pytest.raises(NotFound, match="^no task with id 7$"):
            crm.auth.named_customer(agent, ref, "no task with id 7")
    assert crm.auth.hidden_customers(agent, ["C1", "C2", "C9", "C1"]) == {"C1"}
    assert crm.auth.hidden_customers(principal("admin"), ["C1", "C2"]) == set()


# -- personal data ------------------------------------------------------------------------------


def test_personal_data_is_masked_without_customers_pii(crm):
    crm.plugins.configure_core({**crm.core_config, "customer_attributes": {
        "type": "object", "properties": {"birthday": {"type": "string", "x-personal": True},
                                         "segment": {"type": "string"}}}})
    customer = crmkit.models.jsonable(crm.customers.add(
        "C1", "Ada Lovelace", email="ada@example.com",
        attributes={"birthday": "1815-12-10", "segment": "gold"}))
    assert crm.auth.mask_pii(principal("agent"), customer) == customer
    masked = crm.auth.mask_pii(principal("viewer"), customer)
    assert masked == {**customer, "name": "***", "email": "***", "phone": None,
                      "attributes": {"birthday": "***", "segment": "gold"}}
    assert customer["name"] == "Ada Lovelace"  # the caller's dict is left alone


# -- upgrading a database from before roles ----------------------------------------------------


def test_existing_staff_become_admins_on_upgrade(crm_url, clock):
    from crmkit import migrate

    with CRM.open(crm_url, clock=clock, create=True) as crm, crm.connect(write=True) as conn:
        migrate.downgrade(conn, "core@core_0002")
        conn.execute(text("INSERT INTO staff (handle, name, team, active, created_at) "
                          "VALUES ('old', 'Old Timer', 'sales', :yes, :at)"),
                     {"yes": True, "at": clock.now()})
        conn.commit()
    with CRM.open(crm_url, clock=clock, upgrade=True) as crm:
        assert crm.staff.get("old").role == "admin"
        assert crm.auth.principal("old").can("staff.manage")
        assert crm.staff.add("new", "New Hire", "sales").role == "agent"
        _, secret = crm.tokens.create("old")
        assert crm.auth.authenticate_token(secret).handle == "old"


def test_a_hash_with_outdated_parameters_is_renewed_at_sign_in(crm):
    from argon2 import PasswordHasher
    from sqlalchemy import update

    crm.staff.add("ana", "Ana", "sales")
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("correct horse")
    with crm.connect(write=True) as conn:
        conn.execute(update(tables.staff).values(password_hash=weak))
        conn.commit()
    assert crm.auth.authenticate_password("ana", "correct horse").handle == "ana"
    with crm.connect() as conn:
        renewed = conn.execute(select(tables.staff.c.password_hash)).scalar()
    assert renewed != weak and not PasswordHasher().check_needs_rehash(renewed)
    assert crm.auth.authenticate_password("ana", "correct horse").handle == "ana"


def test_concurrent_failures_are_all_counted(crm):
    from concurrent.futures import ThreadPoolExecutor

    crm.staff.add("ana", "Ana", "sales")
    crm.staff.set_password("ana", "correct horse battery")

    def attempt(_) -> str:
        try:
            crm.auth.authenticate_password("ana", "wrong password!")
        except Unauthenticated as refused:
            return str(refused)
        return "signed in"

    with ThreadPoolExecutor(MAX_FAILED_SIGN_INS) as pool:
        outcomes = list(pool.map(attempt, range(MAX_FAILED_SIGN_INS)))
    assert outcomes == [SIGN_IN_REFUSED] * MAX_FAILED_SIGN_INS
    with pytest.raises(Unauthenticated):  # every failure counted: the handle is locked
        crm.auth.authenticate_password("ana", "correct horse battery")
