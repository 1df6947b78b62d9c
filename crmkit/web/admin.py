"""The admin pages of the staff web app, under ``/admin``.

Plugins (enable, disable, what their requirements block; a configuration form generated
from each plugin's JSON Schema by :mod:`crmkit.web.schemaform`), staff, roles, API tokens,
webhooks and the audit log.  Each page needs the permission of the matching API route or
CLI command (``plugins.read`` / ``plugins.configure``, ``staff.manage``, ``tokens.manage``,
``webhooks.manage``, ``audit.read``) and every write goes through the same code as the API
and the CLI (``crm.plugins``, the API's handlers, ``crm.staff``, ``crm.tokens``,
``crm.webhooks``), in a transaction whose audit rows name the signed-in member and the page.
Staff, roles, tokens and webhooks are changed ``by`` the member, who may not grant, or act on
a member holding, more than their own role grants, nor change their own role, nor add a
webhook whose deliveries their role does not let them read in full.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from .. import plugins as plugin_modules
from ..clock import parse_timestamp
from ..errors import CRMError, ValidationError
from ..services.audit import AuditLog
from ..types import UNSTORABLE_TEXT, too_long, unstorable_text
from . import resources, schemaform, webhooks
from .dispatch import error_answer
from .endpoints import Call
from .schemas import record_id
from .signin import signed_in, site_pages

SECTIONS = (("plugins", "plugins.read"), ("staff", "staff.manage"), ("roles", "staff.manage"),
            ("tokens", "tokens.manage"), ("webhooks", "webhooks.manage"),
            ("audit", "audit.read"))
"""Each admin page and the permission it needs (the nav link shows with any of them)."""
PERMISSIONS = tuple(sorted({permission for _, permission in SECTIONS}))
"""The permissions that make the admin link show."""
AUDIT_PAGE = 50
"""Audit-log entries per page."""
AUDIT_BATCH = 500
"""How many audit entries one read fetches while the command filter of a member who sees
commands masked looks for matches."""
AUDIT_SCAN = 10_000
"""How many audit entries that search reads for one page at most (then it offers the next)."""
MAX_AUDIT_FILTER = 200
"""The longest actor or command text the audit log's filters take (characters)."""
RECENT_DELIVERIES = 50
"""How many of the newest webhook deliveries the webhooks page lists."""




def _render(site, request: Request, template: str, principal, status: int = 200,
            **values: Any) -> Response:
    values.setdefault("error", None)
    return site.render(request, template, status, principal=principal,
                       section=template[6:-5],
                       sections=[s for s, p in SECTIONS if site.crm.auth.allowed(principal, p)],
                       **dict(zip(("done", "item"), site.done_notice(request))), **values)


def _write(site, principal, command: str, work: Callable[[], Any],
           own_transactions: bool = False) -> Any:
    """Run ``work`` in a transaction acting as ``principal``, audited as ``web COMMAND``.
    Work whose checks run before its write (plugin administration, as ``crmkit plugins``
    does, while a plugin is broken too; adding a webhook, whose host is resolved) runs with
    ``own_transactions``: in the transactions it opens itself, acting so too, so no write
    lock is held while it checks."""
    if own_transactions:
        with site.crm.acting_as(principal.handle, f"web {command}"):
            return work()

    def run(tx):
        tx.command = f"web {command}"
        return work()

    return site.crm.run_transaction(run, actor=principal.handle)


# -- index ---------------------------------------------------------------------------------


@signed_in
def index(site, request: Request, principal, form) -> Response:
    allowed = [s for s, p in SECTIONS if site.crm.auth.allowed(principal, p)]
    if not allowed:
        site.crm.auth.require(principal, PERMISSIONS[0])
    return _render(site, request, "admin.html", principal)


# -- plugins -------------------------------------------------------------------------------


def _plugin_rows(crm) -> list[dict[str, Any]]:
    """Every plugin as ``crm.plugins.list()`` shows it, with its ``after`` and what blocks
    enabling or disabling it."""
    rows = []
    for status in crm.plugins.list():
        installed = crm.installed.get(status.name)
        after: tuple[str, ...] = ()
        if installed is not None and not plugin_modules.load(installed).broken:
            after = tuple(installed.info.after)
        blocks_enable, blocks_disable = crm.plugins.blockers(status.name)
        rows.append({"plugin": status, "after": after, "blocks_enable": blocks_enable,
                     "blocks_disable": blocks_disable,
                     "can_enable": not status.enabled and status.status == "disabled",
                     "can_disable": bool(status.enabled)})
    return rows


def _plugins_page(site, request, principal, status: int = 200, error: str | None = None
                  ) -> Response:
    site.crm.auth.require(principal, "plugins.read")
    return _render(site, request, "admin_plugins.html", principal, status,
                   rows=_plugin_rows(site.crm), error=error,
                   can_configure=site.crm.auth.allowed(principal, "plugins.configure"))


@signed_in
def plugin_list(site, request: Request, principal, form) -> Response:
    return _plugins_page(site, request, principal)


def _switch(action: str):
    @signed_in
    def handler(site, request: Request, principal, form) -> Response:
        site.crm.auth.require(principal, "plugins.configure")
        name = request.path_params["name"]
        switch = site.crm.plugins.enable if action == "enable" else site.crm.plugins.disable
        try:
            _write(site, principal, f"POST /admin/plugins/{name}/{action}",
                   lambda: switch(name), own_transactions=True)
        except CRMError as exc:
            return _plugins_page(site, request, principal, *_answer(request, exc))
        return site.done_redirect(request, "/admin/plugins", f"{action}d", name)

    handler.__name__ = f"plugin_{action}"
    return handler


plugin_enable = _switch("enable")
plugin_disable = _switch("disable")


def _installed(site, name: str) -> str:
    """``name`` if it is an installed plugin (the API's rule), else NotFound."""
    return resources.installed_plugin(Call(site.crm, None, None, {"name": name}, {}, None))


def _config_page(site, request, principal, name: str, submitted: dict[str, str] | None = None,
                 problems: list[tuple[str, str]] = (), status: int = 200) -> Response:
    crm = site.crm
    schema = crm.plugins.schema(name)
    enabled = crm.plugin_states().get(name, {}).get("enabled", False)
    stored = crm.plugins.kept_config(name)
    form, summary = schemaform.place(schemaform.fields(schema, stored, submitted, name),
                                     list(problems))
    return _render(site, request, "admin_plugin.html", principal, status, plugin=name,
                   schema=schema, stored=stored, enabled=enabled, form=form, summary=summary,
                   editable=enabled and crm.auth.allowed(principal, "plugins.configure"))


@signed_in
def plugin_page(site, request: Request, principal, form) -> Response:
    site.crm.auth.require(principal, "plugins.read")
    name = _installed(site, request.path_params["name"])
    try:
        return _config_page(site, request, principal, name)
    except CRMError as exc:  # a broken plugin: no schema to show
        return site.refused(request, *_answer(request, exc), principal)


@signed_in
def plugin_configure(site, request: Request, principal, form) -> Response:
    """Store the configuration the form stands for, through the API's PUT handler (the
    plugin's schema, then ``crm.plugins.configure``: crmkit_check_config); on any error
    nothing is stored and the form comes back with the entered values and the errors."""
    crm = site.crm
    crm.auth.require(principal, "plugins.configure")
    name = _installed(site, request.path_params["name"])
    submitted = dict(form or {})
    document, problems = schemaform.document(
        schemaform.fields(crm.plugins.schema(name), None, submitted), submitted)
    status = 422
    if not problems:
        call = Call(crm, principal, None, {"name": name}, {},
                    document if document is not None else {})
        try:
            _write(site, principal, f"POST /admin/plugins/{name}",
                   lambda: resources.put_plugin_config(call), own_transactions=True)
        except CRMError as exc:
            problems, status = schemaform.problems_of(exc), _answer(request, exc)[0]
        else:
            return site.done_redirect(request, f"/admin/plugins/{urllib.parse.quote(name)}",
                                      "configured", name)
    return _config_page(site, request, principal, name, submitted, problems, status)


# -- staff and roles -----------------------------------------------------------------------


def _staff_page(site, request, principal, status: int = 200, error: str | None = None,
                entered: dict[str, str] | None = None) -> Response:
    site.crm.auth.require(principal, "staff.manage")
    return _render(site, request, "admin_staff.html", principal, status,
                   staff=site.crm.staff.list(active_only=False),
                   roles=sorted(site.crm.auth.roles()), error=error, entered=entered or {})


@signed_in
def staff_list(site, request: Request, principal, form) -> Response:
    return _staff_page(site, request, principal)


@signed_in
def staff_add(site, request: Request, principal, form) -> Response:
    site.crm.auth.require(principal, "staff.manage")
    entered = {k: (form or {}).get(k, "") for k in ("handle", "name", "team", "email", "role")}
    try:
        member = _write(site, principal, "POST /admin/staff", lambda: site.crm.staff.add(
            entered["handle"], entered["name"], entered["team"], entered["email"] or None,
            entered["role"], by=principal))
    except CRMError as exc:
        return _staff_page(site, request, principal, *_answer(request, exc), entered)
    return site.done_redirect(request, "/admin/staff", "staff-added", member.handle)


@signed_in
def staff_role(site, request: Request, principal, form) -> Response:
    site.crm.auth.require(principal, "staff.manage")
    handle = request.path_params["handle"]
    try:
        _write(site, principal, f"POST /admin/staff/{handle}/role",
               lambda: site.crm.staff.set_role(handle, (form or {}).get("role", ""),
                                               by=principal))
    except CRMError as exc:
        return _staff_page(site, request, principal, *_answer(request, exc))
    return site.done_redirect(request, "/admin/staff", "role-changed", handle)


@signed_in
def staff_deactivate(site, request: Request, principal, form) -> Response:
    site.crm.auth.require(principal, "staff.manage")
    handle = request.path_params["handle"]
    try:
        _write(site, principal, f"POST /admin/staff/{handle}/deactivate",
               lambda: site.crm.staff.remove(handle, by=principal))
    except CRMError as exc:
        return _staff_page(site, request, principal, *_answer(request, exc))
    return site.done_redirect(request, "/admin/staff", "deactivated", handle)


ROLE_FIELD = "role:"
"""The roles form names each role's textarea ``role:NAME`` (one permission pattern a line)."""


def _roles_page(site, request, principal, status: int = 200,
                problems: list[tuple[str, str]] = (), entered: dict[str, str] | None = None
                ) -> Response:
    site.crm.auth.require(principal, "staff.manage")
    roles = site.crm.auth.roles()
    if entered is None:
        entered = {f"{ROLE_FIELD}{role}": "\n".join(patterns) for role, patterns in roles.items()}
        entered.update(new_role="", new_patterns="")
    shown = [(name[len(ROLE_FIELD):], text) for name, text in entered.items()
             if name.startswith(ROLE_FIELD)]
    errors: dict[str, list[str]] = {}
    for pointer, message in problems:
        role = pointer.split("/")[2] if pointer.startswith("/roles/") else ""
        errors.setdefault(role if any(role == r for r, _ in shown) else "", []).append(
            f"{pointer}: {message}" if pointer else message)
    return _render(site, request, "admin_roles.html", principal, status, roles=roles,
                   shown=shown, entered=entered, errors=errors,
                   permissions=site.crm.auth.permissions(), role_field=ROLE_FIELD)


@signed_in
def roles_list(site, request: Request, principal, form) -> Response:
    return _roles_page(site, request, principal)


@signed_in
def roles_save(site, request: Request, principal, form) -> Response:
    """Replace the core config's ``roles`` with the form's (an emptied role is removed),
    through ``crm.plugins.configure_core`` as ``crmkit config`` does."""
    crm = site.crm
    crm.auth.require(principal, "staff.manage")
    entered = {k: v for k, v in (form or {}).items()
               if k.startswith(ROLE_FIELD) or k in ("new_role", "new_patterns")}
    roles: dict[str, list[str]] = {}
    for name, text in entered.items():
        if name.startswith(ROLE_FIELD):
            patterns = [line.strip() for line in text.splitlines() if line.strip()]
            if patterns:
                roles[name[len(ROLE_FIELD):]] = patterns
    if entered.get("new_role", "").strip():
        roles[entered["new_role"].strip()] = [
            line.strip() for line in entered.get("new_patterns", "").splitlines() if line.strip()]
    try:
        _write(site, principal, "POST /admin/roles",
               lambda: crm.plugins.configure_core({**crm.core_config, "roles": roles},
                                                  by=principal),
               own_transactions=True)
    except CRMError as exc:
        return _roles_page(site, request, principal, _answer(request, exc)[0],
                           schemaform.problems_of(exc), entered)
    return site.done_redirect(request, "/admin/roles", "roles-saved")


# -- tokens --------------------------------------------------------------------------------


def _tokens_page(site, request, principal, status: int = 200, error: str | None = None,
                 entered: dict[str, str] | None = None) -> Response:
    site.crm.auth.require(principal, "tokens.manage")
    return _render(site, request, "admin_tokens.html", principal, status,
                   tokens=site.crm.tokens.list(), now=site.crm.clock.now(),
                   staff=site.crm.staff.list(), error=error, entered=entered or {})


@signed_in
def token_list(site, request: Request, principal, form) -> Response:
    return _tokens_page(site, request, principal)


@signed_in
def token_create(site, request: Request, principal, form) -> Response:
    """Create a token; its secret is on this answer only (never stored, never shown again)."""
    site.crm.auth.require(principal, "tokens.manage")
    entered = {k: (form or {}).get(k, "") for k in ("staff", "name", "expires")}
    try:
        expires = entered["expires"].strip()
        expires_at = parse_timestamp(expires, "expires") if expires else None
        token, secret = _write(site, principal, "POST /admin/tokens",
                               lambda: site.crm.tokens.create(
                                   entered["staff"], name=entered["name"].strip() or None,
                                   expires_at=expires_at, by=principal))
    except CRMError as exc:
        return _tokens_page(site, request, principal, *_answer(request, exc),
                            entered)
    return _render(site, request, "admin_token.html", principal, 201, token=token,
                   secret=secret)


@signed_in
def token_revoke(site, request: Request, principal, form) -> Response:
    site.crm.auth.require(principal, "tokens.manage")
    text = request.path_params["token_id"]
    try:
        token_id = record_id(text, "API token")
        _write(site, principal, f"POST /admin/tokens/{token_id}/revoke",
               lambda: site.crm.tokens.revoke(token_id, by=principal))
    except CRMError as exc:
        return _tokens_page(site, request, principal, *_answer(request, exc))
    return site.done_redirect(request, "/admin/tokens", "revoked", text)


# -- webhooks ------------------------------------------------------------------------------


def _webhook_call(site, principal, params=None, query=None, body=None) -> Call:
    return Call(site.crm, principal, None, params or {}, query or {}, body)


def _webhooks_page(site, request, principal, status: int = 200, error: str | None = None,
                   entered: dict[str, str] | None = None) -> Response:
    crm = site.crm
    crm.auth.require(principal, webhooks.PERMISSION)
    hooks = webhooks.list_webhooks(_webhook_call(site, principal,
                                                 query={"include_removed": True}))["items"]
    recent = [webhooks.delivery_document(d)
              for d in crm.webhooks.deliveries(limit=RECENT_DELIVERIES, newest_first=True)]
    return _render(site, request, "admin_webhooks.html", principal, status, hooks=hooks,
                   deliveries=recent, event_types=sorted(crm.events.types()), error=error,
                   entered=entered or {}, shown=RECENT_DELIVERIES)


@signed_in
def webhook_list(site, request: Request, principal, form) -> Response:
    return _webhooks_page(site, request, principal)


@signed_in
def webhook_add(site, request: Request, principal, form) -> Response:
    """Add a webhook through the API's handler (the same checks as ``POST /api/v1/webhooks``)."""
    site.crm.auth.require(principal, webhooks.PERMISSION)
    entered = {k: (form or {}).get(k, "") for k in ("url", "event_types", "secret")}
    body = {"url": entered["url"], "secret": entered["secret"],
            "event_types": [t.strip() for t in entered["event_types"].splitlines() if t.strip()]}
    try:
        answer = _write(site, principal, "POST /admin/webhooks", lambda: webhooks.add_webhook(
            _webhook_call(site, principal, body=body)), own_transactions=True)
    except CRMError as exc:
        return _webhooks_page(site, request, principal, *_answer(request, exc),
                              {**entered, "secret": ""})
    return site.done_redirect(request, "/admin/webhooks", "webhook-added", str(answer.body["id"]))


@signed_in
def webhook_remove(site, request: Request, principal, form) -> Response:
    site.crm.auth.require(principal, webhooks.PERMISSION)
    params = {"webhook_id": request.path_params["webhook_id"]}
    try:
        _write(site, principal, f"POST /admin/webhooks/{params['webhook_id']}/remove",
               lambda: webhooks.remove_webhook(_webhook_call(site, principal, params)))
    except CRMError as exc:
        return _webhooks_page(site, request, principal, *_answer(request, exc))
    return site.done_redirect(request, "/admin/webhooks", "webhook-removed", params["webhook_id"])


# -- audit log -----------------------------------------------------------------------------


@signed_in
def audit(site, request: Request, principal, form) -> Response:
    """The audit log, newest first, :data:`AUDIT_PAGE` entries a page (``?before=`` the
    cursor of the last entry shown), filtered by actor and command text, as ``principal``
    may see it (:func:`_audit_page`): no entry about a customer a plugin's row-level rule
    hides; without ``customers.pii`` (on the entry's customer) no personal value and no
    command's arguments, and the command filter matches only the command as shown."""
    site.crm.auth.require(principal, "audit.read")
    actor = request.query_params.get("actor", "").strip()
    command = request.query_params.get("command", "").strip()
    cursor = request.query_params.get("before", "")
    error, status, entries, following, scanned = None, 200, [], None, None
    try:
        for name, value in (("actor", actor), ("command", command)):
            if len(value) > MAX_AUDIT_FILTER:
                raise ValidationError(f"{name}: {too_long(value, MAX_AUDIT_FILTER)}")
            if unstorable_text(value):
                raise ValidationError(f"{name}: {UNSTORABLE_TEXT}")
        before = None
        if cursor:
            position = resources.decode_cursor(cursor)
            if not isinstance(position, list):
                raise ValidationError(f"before: {cursor!r} is not a page of this log")
            before = (parse_timestamp(str(position[0]), "before"), position[1])
        entries, following, scanned = _audit_page(site.crm, principal, actor or None,
                                                  command or None, before)
    except CRMError as exc:
        status, error = _answer(request, exc)
    return _render(site, request, "admin_audit.html", principal, status,
                   entries=[(e, json.dumps(e.changes, ensure_ascii=False, sort_keys=True))
                            for e in entries], actor=actor, command=command, error=error,
                   following=following, first_page=not cursor, scanned=scanned,
                   personal=site.crm.auth.allowed(principal, "customers.pii"))


def _audit_page(crm, principal, actor: str | None, command: str | None, before
                ) -> tuple[list, str | None, int | None]:
    """One page of the audit log as ``principal`` may see it: the entries, the cursor of the
    next page (None: no older entry matches) and, when the page stopped after reading
    :data:`AUDIT_SCAN` entries without filling up, how many it read (else None).

    The log is read in batches of :data:`AUDIT_BATCH` until the page is full: an entry
    about a customer a plugin's row-level rule hides is left out, and each is masked
    (:func:`_shown_entries`).  The command filter is a substring search of the stored
    commands; an entry matches only when its command as shown contains the text too (else
    it would tell, a character at a time, what the masks hide)."""
    audit_log = AuditLog(crm)
    needle, shown, read = (command or "").casefold(), [], 0
    while True:
        batch = audit_log.list(actor=actor, command=command, before=before, limit=AUDIT_BATCH)
        read += len(batch)
        for entry in _shown_entries(crm, principal, batch):
            if needle not in (entry.command or "").casefold():
                continue
            if len(shown) == AUDIT_PAGE:
                return shown, _audit_cursor(shown[-1]), None
            shown.append(entry)
        if len(batch) < AUDIT_BATCH:
            return shown, None, None
        before = (batch[-1].at, batch[-1].id)
        if read >= AUDIT_SCAN:
            return shown, _audit_cursor(batch[-1]), read


def _shown_entries(crm, principal, entries: list) -> list:
    """``entries`` as ``principal`` may see them: an entry about a customer a plugin's
    row-level rule hides (``crm.auth.customer_access``) left out, the others masked by
    ``crm.auth.audit_masker`` on their customer (without ``customers.pii`` on it, no
    personal value and no command's arguments)."""
    customers = crm.customers.documents(
        crm.customers.by_id({e.customer_id for e in entries if e.customer_id is not None}))
    access = crm.auth.customer_access(principal, customers)
    mask = crm.auth.audit_masker(principal, access)
    return [mask(e) for e in entries if e.customer_id not in customers or e.customer_id in access]


def _audit_cursor(entry) -> str:
    return resources.encode_cursor([entry.at.isoformat(), entry.id])


def _answer(request: Request, exc: CRMError) -> tuple[int, str]:
    """The status and message of a refusal shown on an admin page (logged when the message
    leaves something out: :func:`crmkit.web.dispatch.error_answer`)."""
    return error_answer(exc, f"{request.method} {request.url.path}")


def routes(site) -> list[BaseRoute]:
    """The admin pages of ``site`` (a :class:`crmkit.web.pages.Pages`)."""
    return site_pages(
        site,
        ("GET", "/admin", index),
        ("GET", "/admin/plugins", plugin_list),
        ("GET", "/admin/plugins/{name}", plugin_page),
        ("POST", "/admin/plugins/{name}", plugin_configure),
        ("POST", "/admin/plugins/{name}/enable", plugin_enable),
        ("POST", "/admin/plugins/{name}/disable", plugin_disable),
        ("GET", "/admin/staff", staff_list),
        ("POST", "/admin/staff", staff_add),
        ("POST", "/admin/staff/{handle}/role", staff_role),
        ("POST", "/admin/staff/{handle}/deactivate", staff_deactivate),
        ("GET", "/admin/roles", roles_list),
        ("POST", "/admin/roles", roles_save),
        ("GET", "/admin/tokens", token_list),
        ("POST", "/admin/tokens", token_create),
        ("POST", "/admin/tokens/{token_id}/revoke", token_revoke),
        ("GET", "/admin/webhooks", webhook_list),
        ("POST", "/admin/webhooks", webhook_add),
        ("POST", "/admin/webhooks/{webhook_id}/remove", webhook_remove),
        ("GET", "/admin/audit", audit),
    )


__all__ = ["routes", "SECTIONS", "PERMISSIONS", "AUDIT_PAGE", "RECENT_DELIVERIES", "ROLE_FIELD"]
