"""Who may do what: principals, roles and permissions, API tokens and password sign-in.

A *permission* is a name ``<area>.<action>``: the core's are :data:`CORE_PERMISSIONS`, each
plugin declares its own (``<plugin>.<action>``) through ``crmkit_permissions``.  A *role*
(core config ``roles``) grants a list of permission *patterns*: ``*`` (everything),
``customers.read`` (one permission), ``operational.*`` (every permission of an area),
``*.read`` (one action in every area), each optionally prefixed with ``!`` to exclude what
it matches (an exclusion wins over every grant).  Every staff member has one role.

``crm.auth`` authenticates (an API token, or a handle and password) and answers permission
questions: the role must grant the permission, and no enabled plugin's
``crmkit_permission_allowed`` hook may refuse it (row-level rules; a plugin's
``crmkit_permission_restricted`` says whom its rule may refuse what).  ``crm.tokens``
creates, lists and revokes API tokens; only the SHA-256 of a token's secret is stored.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from typing import Any, Iterable, Mapping, TypeVar

import attrs
from sqlalchemy import bindparam, insert, or_, select, update

from . import tables
from .errors import (ConfigError, ConflictError, NotFound, PermissionDenied, PluginError,
                     Unauthenticated, ValidationError)
from .models import ApiToken
from .services.redaction import command_words
from .types import LINE, clean_text, normal_text, text_limit

K = TypeVar("K")

CORE_PERMISSIONS: dict[str, str] = {
    "customers.read": "see customers, their timelines and interactions' customers",
    "customers.write": "add and change customers",
    "customers.pii": "see customers' personal data (name, email, phone, personal attributes) "
                     "unmasked",
    "customers.merge": "merge duplicate customers",
    "customers.erase": "erase a customer's personal data (privacy request)",
    "customers.export": "export everything stored about a customer",
    "interactions.read": "see interactions",
    "interactions.write": "record interactions",
    "events.read": "read the domain event log",
    "plugins.read": "see the installed plugins and their configuration",
    "plugins.configure": "enable, disable and configure plugins",
    "staff.manage": "add and remove staff, change their roles and the roles, granting no "
                    "more than one's own role",
    "tokens.manage": "list API tokens; create and revoke those of members holding no more "
                     "than one's own role",
    "webhooks.manage": "list and remove webhooks; add those whose deliveries one's own role "
                       "reads in full",
    "audit.read": "read the audit log",
}
"""The core's permissions and what each allows."""

DEFAULT_ROLES: dict[str, list[str]] = {
    "admin": ["*"],
    "manager": ["*", "!staff.manage", "!tokens.manage", "!plugins.configure"],
    "agent": ["customers.pii", "*.read", "*.write", "!audit.read"],
    "viewer": ["*.read", "!audit.read"],
}
"""The roles of a new CRM (core config ``roles``): admin may do everything; manager everything
but staff, token and plugin administration; agent reads and writes customers (personal data
included), interactions and every plugin's data, and reads events and plugins (not the audit
log); viewer only reads, with personal data masked, and not the audit log."""

DEFAULT_ROLE = "agent"
"""The role of a staff member added without one."""

PII_FIELDS: tuple[str, ...] = ("name", "email", "phone")
"""Customer fields that are personal data; :meth:`AuthService.mask_pii` also masks every
attribute whose customer-schema property says ``"x-personal": true``."""

PERSONAL = "x-personal"
"""The customer-schema keyword (``"x-personal": true``) that marks an attribute personal data."""

MASK = "***"
"""What a masked personal value reads."""

HIDDEN_ARGUMENTS = "(arguments hidden)"
"""What stands for the arguments of a recorded command shown masked (:func:`masked_command`)."""

_HTTP_COMMAND = re.compile(r"(?:web|api) [A-Z]+ /\S*")
"""A command the API or the web app records: a method and a route (``web POST /admin/staff``,
``api PATCH /api/v1/customers/{external_id}``), never a value."""

TOKEN_PREFIX = "crmkit_"
"""Every API token secret starts with this (then 32 random bytes, URL-safe base64)."""
TOKEN_NAME_WIDTH = 200
"""The longest token name (lower when the core config's ``max_field_length`` is)."""

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
"""A token's ``last_used_at`` is written at most this often (reads stay cheap)."""

MIN_PASSWORD_LENGTH = 10
"""The shortest password ``crm.staff.set_password`` accepts (characters)."""

MAX_FAILED_SIGN_INS = 5
"""Failed password sign-ins in a row that lock a handle for :data:`LOCKOUT`."""

LOCKOUT = dt.timedelta(minutes=15)
"""How long (by the CRM clock) a handle stays locked after :data:`MAX_FAILED_SIGN_INS`."""

SIGN_IN_REFUSED = (f"sign-in refused: wrong handle or password, or too many failed attempts "
                   f"({MAX_FAILED_SIGN_INS} in a row lock a handle for "
                   f"{LOCKOUT.seconds // 60} minutes)")
"""The one message of every refused password sign-in: it never says whether the handle exists."""

_NAME = r"[A-Za-z0-9_-]+"
_PATTERN = re.compile(rf"!?(\*|(\*|{_NAME})\.(\*|{_NAME}))")
_PERMISSION = re.compile(rf"{_NAME}\.{_NAME}")
_CORE_AREAS = frozenset(name.split(".")[0] for name in CORE_PERMISSIONS)
_TOKEN_OWNER = (select(tables.api_tokens.c.id, tables.api_tokens.c.expires_at,
                       tables.api_tokens.c.revoked_at, tables.api_tokens.c.last_used_at,
                       tables.staff.c.handle, tables.staff.c.role, tables.staff.c.active)
                .join(tables.staff, tables.staff.c.id == tables.api_tokens.c.staff_id)
                .where(tables.api_tokens.c.token_hash == bindparam("hash")))
"""The token whose hash is the parameter ``hash``, with its staff member: read for every API
request, built once."""

ROLES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "default": DEFAULT_ROLES,
    "propertyNames": {"pattern": "^[A-Za-z0-9_-]{1,100}$"},
    "additionalProperties": {"type": "array", "items": {"type": "string", "minLength": 1}},
    "description": "Roles and the permission patterns each grants: * (everything), "
                   "customers.read (one permission), operational.* (an area), *.read (an "
                   "action in every area); !pattern excludes what it matches.",
}
"""The JSON Schema of the core config's ``roles`` (:func:`check_roles` checks the patterns)."""


def _matches(pattern: str, permission: str) -> bool:
    if pattern == "*":
        return True
    wanted, parts = pattern.split("."), permission.split(".")
    return len(wanted) == len(parts) and all(w in ("*", p) for w, p in zip(wanted, parts))


def grants(patterns: Iterable[str], permission: str) -> bool:
    """Whether role ``patterns`` grant ``permission``: one pattern matches it and no ``!``
    pattern does."""
    granted = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if _matches(pattern[1:], permission):
                return False
        elif _matches(pattern, permission):
            granted = True
    return granted


def granted_beyond(patterns: Iterable[str], held: Iterable[str]) -> list[str]:
    """What role ``patterns`` grant that role ``held`` does not, whoever declares it: each
    core permission by name, then what a plugin may declare as a pattern with ``*`` for a
    name neither role mentions (``*.read``: reading in such an area; ``operational.*``: such
    an action of operational).  Empty when ``held`` grants every permission ``patterns``
    grant, now and whatever plugin is enabled later.

    Whether a role grants ``area.action`` depends only on which of the names its patterns
    mention each part equals, so one permission per combination of the mentioned names (and
    ``*`` for any other) decides it; a core area has only its :data:`CORE_PERMISSIONS`."""
    patterns, held = list(patterns), list(held)
    areas, actions = {"*"}, {"*"}
    for pattern in patterns + held:
        area, _, action = pattern.lstrip("!").partition(".")
        areas.add(area)
        actions.add(action or "*")
    plugin_kinds = [f"{area}.{action}" for area, action in sorted(
        ((area, action) for area in areas - _CORE_AREAS for action in actions),
        key=lambda kind: (kind[0] == "*", kind[0], kind[1] == "*", kind[1]))]
    return [permission for permission in (*CORE_PERMISSIONS, *plugin_kinds)
            if grants(patterns, permission) and not grants(held, permission)]


@attrs.frozen
class Principal:
    """Who is acting: a staff handle, their role and the role's permission patterns."""

    handle: str
    role: str
    permissions: frozenset[str]

    def can(self, permission: str) -> bool:
        """Whether the role grants ``permission`` (patterns expanded; no plugin is asked)."""
        return grants(self.permissions, permission)


def check_roles(roles: Mapping[str, list[str]], staff_roles: Mapping[str, str] | None = None
                ) -> None:
    """Raise ConfigError unless every pattern of ``roles`` is well formed and every role in
    ``staff_roles`` (handle → role) is defined."""
    for role, patterns in roles.items():
        for index, pattern in enumerate(patterns):
            where = f"core config /roles/{role}/{index}"
            if not _PATTERN.fullmatch(pattern):
                raise ConfigError(
                    f"{where}: {pattern!r} is not a permission pattern (allowed: *, a "
                    "permission such as customers.read, an area such as operational.*, an "
                    "action in every area such as *.read; ! before one excludes it)")
            name = pattern.lstrip("!")
            area, _, action = name.partition(".")
            if area in _CORE_AREAS and action != "*" and name not in CORE_PERMISSIONS:
                known = ", ".join(p for p in CORE_PERMISSIONS if p.startswith(area + "."))
                raise ConfigError(f"{where}: {name!r} is not a core permission (allowed in "
                                  f"{area}: {known})")
    for handle, role in sorted((staff_roles or {}).items()):
        if role not in roles:
            raise ConfigError(f"core config /roles: role {role!r} is used by staff member "
                              f"{handle!r}; give them another role first (`crmkit staff role "
                              f"{handle} ROLE`) or keep it (roles: {', '.join(sorted(roles))})")


def permissions_problem(plugin: str, declared: Any) -> str | None:
    """What is wrong with what ``plugin``'s ``crmkit_permissions`` returned, or None."""
    if not isinstance(declared, dict):
        return "crmkit_permissions must return {permission: description}"
    for name, description in declared.items():
        if (not isinstance(name, str) or not _PERMISSION.fullmatch(name)
                or name.split(".")[0] != plugin or not isinstance(description, str)
                or not description.strip()):
            return (f"crmkit_permissions declares {name!r}; each must be named "
                    f"{plugin}.<action> and map to a one-line description")
    return None


def masked_changes(table_name: str, changes: Any, personal: Iterable[str]) -> Any:
    """The ``changes`` of an audit entry of ``table_name`` without customers' personal data.

    For a customer record (table ``customers``: create, update, merge, erase) every value
    under a :data:`PII_FIELDS` key, at any depth (``{"email": [old, new]}``, a merge's
    ``fields`` and ``duplicate_profile``), reads :data:`MASK`, and so does every
    ``personal`` attribute inside an ``attributes`` value; the keys (which fields changed)
    and every other value stay.  Empty values stay empty.  Other tables' entries are
    returned as they are: their writers keep personal values out of them."""
    if table_name != "customers":
        return changes
    return _masked_tree(changes, frozenset(personal))


def _masked_tree(value: Any, personal: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {key: (_masked_value(item) if key in PII_FIELDS
                      else _masked_attributes(item, personal) if key == "attributes"
                      else _masked_tree(item, personal))
                for key, item in value.items()}
    if isinstance(value, list):
        return [_masked_tree(item, personal) for item in value]
    return value


def _masked_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_masked_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _masked_value(item) for key, item in value.items()}
    return value if value in (None, "") else MASK


def _masked_attributes(value: Any, personal: frozenset[str]) -> Any:
    if isinstance(value, list):
        return [_masked_attributes(item, personal) for item in value]
    if isinstance(value, dict):
        return {key: _masked_value(item) if key in personal else item
                for key, item in value.items()}
    return value


def masked_payload(payload: dict[str, Any], personal: Iterable[str] | None) -> dict[str, Any]:
    """An event's payload without personal data: the value under each ``personal`` key (the
    keys its type declares, :class:`crmkit.models.EventType`) reads :data:`MASK`, wholly
    (a list or object within it too); ``personal=None``, a type nobody declares now (a
    disabled plugin's), masks every value.  The keys and empty values stay."""
    if personal is None:
        return _masked_value(payload)
    personal = frozenset(personal)
    return {key: _masked_value(value) if key in personal else value
            for key, value in payload.items()}


def masked_interaction(interaction: dict[str, Any]) -> dict[str, Any]:
    """An interaction (a dict: the API's document, a timeline entry's details) without
    personal data: its ``payload``, free-form JSON that often holds a message's text or an
    address, reads :data:`MASK` as a whole (an empty one stays empty); its kind, channel,
    direction, amount and times stay."""
    payload = interaction.get("payload")
    if payload in (None, {}):
        return dict(interaction)
    return {**interaction, "payload": MASK}


def masked_command(command: str | None) -> str | None:
    """A recorded command without its arguments, which may be personal data
    (``crmkit customers add C1 --email …`` reads ``crmkit customers add (arguments
    hidden)``): the command words are kept (:func:`crmkit.services.redaction.command_words`).
    What the API and the web app record (a method and a route) holds no value and stays."""
    if not command or _HTTP_COMMAND.fullmatch(command):
        return command
    shown = " ".join(command_words(command))
    if shown == command:
        return command
    return f"{shown} {HIDDEN_ARGUMENTS}" if shown else HIDDEN_ARGUMENTS


def token_hash(secret: str) -> str:
    """The stored form of a token secret: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@functools.cache
def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the RFC 9106 low-memory parameters


@functools.cache
def _decoy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (what ``staff.password_hash`` stores)."""
    return _hasher().hash(password)


def _verify(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class AuthService:
    """``crm.auth``: authenticate staff and decide what they may do."""

    def __init__(self, crm):
        self.crm = crm
        self._personal: tuple[Any, frozenset[str]] = (None, frozenset())

    # -- permissions -----------------------------------------------------------------------

    def roles(self) -> dict[str, list[str]]:
        """Every role and its permission patterns (core config ``roles``)."""
        return self.crm.core_config["roles"]

    def permissions(self) -> dict[str, str]:
        """Every known permission and its description: the core's, then each enabled
        plugin's ``crmkit_permissions`` (each must be named ``<plugin>.<action>``)."""
        known = dict(CORE_PERMISSIONS)
        for plugin in self.crm.enabled_plugins():
            declared = self.crm.hooks.call_one(plugin, "crmkit_permissions", None) or {}
            problem = permissions_problem(plugin, declared)
            if problem:
                raise PluginError(f"plugin {plugin!r}: {problem}")
            known.update(declared)
        return known

    def principal(self, handle: str) -> Principal:
        """The Principal of an active staff member (Unauthenticated for an unknown or removed
        one: they may not act)."""
        with self.crm.read() as conn:
            row = conn.execute(select(tables.staff.c.handle, tables.staff.c.role,
                                      tables.staff.c.active)
                               .where(tables.staff.c.handle == _handle(handle))).first()
        if row is None or not row.active:
            raise Unauthenticated(f"{handle!r} is not an active staff member")
        return self._principal(row.handle, row.role)

    def _principal(self, handle: str, role: str) -> Principal:
        patterns = self.roles().get(role)
        if patterns is None:
            raise ConfigError(f"staff member {handle!r} has role {role!r}, which the core "
                              f"config's roles do not define (roles: "
                              f"{', '.join(sorted(self.roles()))})")
        return Principal(handle, role, frozenset(patterns))

    def allowed(self, principal: Principal, permission: str,
                resource: dict | None = None) -> bool:
        """Whether ``principal`` may ``permission`` (on ``resource``): the role grants it and
        no enabled plugin's ``crmkit_permission_allowed`` returns False."""
        return principal.can(permission) and self._plugins_allow(principal, permission, resource)

    def _plugins_allow(self, principal: Principal, permission: str,
                       resource: dict | None) -> bool:
        verdicts = self.crm.hooks.call("crmkit_permission_allowed", None, crm=self.crm,
                                       principal=principal, permission=permission,
                                       resource=resource)
        return all(verdict is not False for _, verdict in verdicts)

    def require(self, principal: Principal, permission: str, resource: dict | None = None
                ) -> None:
        """Raise PermissionDenied unless :meth:`allowed`; when the role grants the permission
        but a plugin refuses it on ``resource``, raise NotFound instead (a row the principal
        may not see does not exist for them)."""
        if not principal.can(permission):
            raise PermissionDenied(f"{principal.handle!r} (role {principal.role}) may not "
                                   f"{permission}: the role does not grant it")
        if not self._plugins_allow(principal, permission, resource):
            if resource is not None:
                raise NotFound("not found")
            raise PermissionDenied(f"{principal.handle!r} (role {principal.role}) may not "
                                   f"{permission}")

    def restricted_by(self, principal: Principal, permissions: Iterable[str]) -> list[str]:
        """The enabled plugins, by name, whose row-level rule may refuse ``principal`` one of
        ``permissions`` on some record (:meth:`allowed`), now or on a record added later:
        those whose ``crmkit_permission_restricted`` says so for one, and those with a rule
        (``crmkit_permission_allowed``) that do not implement that hook.  Empty: whatever
        their role grants of ``permissions``, they are refused no record."""
        hooks = self.crm.hooks
        found = ({plugin for plugin, *_ in hooks.impls("crmkit_permission_allowed")}
                 - {plugin for plugin, *_ in hooks.impls("crmkit_permission_restricted")})
        for permission in permissions:
            found.update(plugin for plugin, restricted in hooks.call(
                "crmkit_permission_restricted", None, crm=self.crm, principal=principal,
                permission=permission) if restricted)
        return sorted(found)

    def reads_unrestricted(self, principal: Principal, permissions: Iterable[str]) -> bool:
        """Whether ``principal``'s role grants every one of ``permissions`` and no plugin's
        row-level rule may refuse them one on some record (:meth:`restricted_by`): what
        reading a plugin's area where no record is asked about (all of its events and
        timeline entries, else those about a record :meth:`allowed`) takes, ``<plugin>.read``
        given."""
        needed = list(permissions)
        return not needed or (all(map(principal.can, needed))
                              and not self.restricted_by(principal, needed))

    def require_within(self, principal: Principal, patterns: Iterable[str], doing: str,
                       granting: str = "it grants") -> None:
        """Raise PermissionDenied, saying ``principal`` may not ``doing`` and naming what is
        missing (:func:`granted_beyond`), unless their role grants every permission role
        ``patterns`` grant: no one gives, or acts on, more than they hold."""
        missing = granted_beyond(patterns, principal.permissions)
        if missing:
            raise PermissionDenied(f"{principal.handle!r} (role {principal.role}) may not "
                                   f"{doing}: {granting} what role {principal.role} does not "
                                   f"({', '.join(missing)})")

    def require_over(self, principal: Principal, handle: str, role: str, doing: str) -> None:
        """:meth:`require_within` for an action on staff member ``handle``, whose role is
        ``role``: it may grant nothing ``principal``'s does not (a role no longer defined
        grants nothing)."""
        self.require_within(principal, self.roles().get(role, ()), f"{doing} {handle!r}",
                            f"their role {role} grants")

    def require_roles_change(self, principal: Principal, before: Mapping[str, list[str]],
                             after: Mapping[str, list[str]]) -> None:
        """:meth:`require_within` for ``principal`` changing the roles ``before`` (role →
        patterns) to ``after``: each role added, changed or removed may grant nothing their
        role does not, before the change or after it (so no one makes a role, theirs too,
        grant more, nor narrows one that grants more than theirs)."""
        for role in sorted(before.keys() | after.keys()):
            old, new = before.get(role), after.get(role)
            if old == new:
                continue
            if old is not None:
                self.require_within(principal, old, f"{'remove' if new is None else 'change'} "
                                    f"role {role}")
            if new is not None:
                self.require_within(principal, new, f"let role {role} grant {', '.join(new)}",
                                    "it would grant")

    def personal_attributes(self) -> frozenset[str]:
        """Customer attributes marked ``"x-personal": true`` in the customer schema."""
        key = (self.crm.plugins_revision, repr(self.crm.core_config["customer_attributes"]))
        if self._personal[0] != key:
            properties = self.crm.customers.attribute_schema().get("properties", {})
            personal = frozenset(name for name, sub in properties.items()
                                 if isinstance(sub, dict) and sub.get(PERSONAL) is True)
            self._personal = (key, personal)
        return self._personal[1]

    def mask_pii(self, principal: Principal, customer: dict) -> dict:
        """A copy of ``customer`` (a customer as a dict) with its personal values (the
        :data:`PII_FIELDS` and personal attributes) replaced by ``"***"``, unless
        ``principal`` is allowed ``customers.pii`` on it.  Empty values stay empty."""
        if self.allowed(principal, "customers.pii", customer):
            return dict(customer)
        return self.masked_customer(customer)

    def masked_customer(self, customer: dict) -> dict:
        """A copy of ``customer`` (a customer as a dict) with its personal values replaced by
        ``"***"``, whoever asks (:meth:`mask_pii` decides whether to)."""
        masked = {key: MASK if key in PII_FIELDS and value not in (None, "") else value
                  for key, value in customer.items()}
        attributes = customer.get("attributes")
        personal = self.personal_attributes() if isinstance(attributes, dict) else ()
        if personal:
            masked["attributes"] = {key: MASK if key in personal and value is not None else value
                                    for key, value in attributes.items()}
        return masked

    def mask_audit(self, principal: Principal, entry):
        """An audit-log entry (:class:`crmkit.services.audit.AuditEntry`) as ``principal``
        may see it: unchanged with ``customers.pii``; else the personal values of a customer
        record's changes masked (:func:`masked_changes`) and the command without its
        arguments (:func:`masked_command`).  Who, when, the action, the record and which
        fields changed stay."""
        return self.audit_masker(principal)(entry)

    def audit_masker(self, principal: Principal,
                     access: Mapping[int | None, bool] | None = None):
        """:meth:`mask_audit` for many entries of one principal: a function of an entry,
        the permission asked once.  With ``access`` (:meth:`customer_access`, by internal
        customer id), an entry about a customer in it is shown as ``access`` says (a rule
        may refuse ``customers.pii`` on that customer alone), the others as ``access[None]``."""
        if access is None:
            access = {None: self.allowed(principal, "customers.pii")}
        if all(access.values()):
            return lambda entry: entry
        personal = self.personal_attributes()

        def mask(entry):
            if access.get(entry.customer_id, access[None]):
                return entry
            return attrs.evolve(entry, command=masked_command(entry.command),
                                changes=masked_changes(entry.table_name, entry.changes, personal))

        return mask

    def customer_access(self, principal: Principal, customers: Mapping[K, dict]
                        ) -> dict[K | None, bool]:
        """What ``principal`` may see of the rows of ``customers`` (customer documents,
        ``crm.customers.documents``, keyed as the caller likes) in a list: a customer a
        plugin's row-level rule refuses ``customers.read`` is absent (leave its rows out:
        the rules are asked whether or not the role grants ``customers.read``, so a list of
        another permission's rows, such as the events, hides it too); every other maps to
        whether its personal data is shown (``customers.pii`` on it), and None to whether
        personal data about no customer is (``customers.pii`` without a resource).  Each
        rule is asked once per customer; nothing is read from the database."""
        access: dict[K | None, bool] = {None: self.allowed(principal, "customers.pii")}
        for key, customer in customers.items():
            if self._plugins_allow(principal, "customers.read", customer):
                access[key] = self.allowed(principal, "customers.pii", customer)
        return access

    def access_by_external_id(self, principal: Principal, external_ids: Iterable[str]
                              ) -> dict[str | None, bool]:
        """:meth:`customer_access` for the customers of ``external_ids``, keyed by external
        id: their full documents read in two queries (the customers, their organisations),
        however many rows name them; an unknown customer is absent."""
        customers = self.crm.customers
        return self.customer_access(
            principal, customers.documents(customers.by_external_id(external_ids)))

    def rows_as_seen(self, principal: Principal, rows: Iterable[dict],
                     personal: Iterable[str] = (),
                     key: str | tuple[str, ...] = "customer") -> list[dict]:
        """The rows of a list (dicts naming a customer's external id under ``key``, or None;
        a tuple of keys for rows about several customers, such as a referral's referrer and
        referee) as ``principal`` may see them, the rules asked once per customer
        (:meth:`access_by_external_id`): a row naming a customer a plugin's row-level rule
        hides is left out, and the ``personal`` fields of the others read ``***`` (an empty
        one stays empty) unless the caller may see the personal data of every customer it
        names (a row of no customer: ``customers.pii`` of the role)."""
        rows, personal = list(rows), frozenset(personal)
        keys = (key,) if isinstance(key, str) else key
        access = self.access_by_external_id(
            principal, {row[k] for row in rows for k in keys if row[k] is not None})
        shown = []
        for row in rows:
            if all(row[k] in access for k in keys):
                full = not personal or all(access[row[k]] for k in keys)
                shown.append(row if full else {k: MASK if k in personal and v not in (None, "")
                                               else v for k, v in row.items()})
        return shown

    def named_customer(self, principal: Principal, external_id: str | None,
                       missing: str | None = None) -> str | None:
        """``external_id``, the customer a request names (a list's ``?customer=``, None when
        it names none; a route's ``{customer}``; a write's body), once checked that
        ``principal`` may see its rows (:meth:`customer_access`): an unknown customer and one
        a plugin's row-level rule hides raise the same NotFound (:meth:`unknown_customer`).
        For the customer of a record the request names by its own id (a task, a case), give
        ``missing``, the message of an unknown record: the NotFound says that instead."""
        if external_id is not None:
            customers = self.crm.customers
            try:
                customer = customers.get(external_id)
            except NotFound:
                customer = None
            if customer is None or customer.id not in self.customer_access(
                    principal, customers.documents({customer.id: customer})):
                if missing is not None:
                    raise NotFound(missing)
                raise self.unknown_customer(principal, external_id)
        return external_id

    def unknown_customer(self, principal: Principal, external_id: str) -> NotFound:
        """The NotFound telling ``principal`` that ``external_id`` names no customer they may
        see (an unknown one, or one a plugin's row-level rule hides): ``crm.customers.get``'s,
        which names the customer it was merged into, unless a rule hides that one from them
        too (:meth:`hidden_customers`)."""
        customers = self.crm.customers
        with self.crm.read() as conn:
            merged = customers.merged_into(conn, [external_id]).get(external_id)
        if merged is not None and self.hidden_customers(principal, [merged[0]]):
            return NotFound(f"no customer {external_id!r}")
        with self.crm.read() as conn:
            return NotFound(customers.missing_message(conn, external_id))

    def hidden_customers(self, principal: Principal, external_ids: Iterable[str]) -> set[str]:
        """Those of ``external_ids`` that are customers a plugin's row-level rule hides from
        ``principal`` (:meth:`customer_access`), or were merged into one, in Unicode NFC as
        the write pipeline compares them: a batch write answers each as an unknown customer.
        Two queries, however many (two more when some are not customers)."""
        customers = self.crm.customers
        refs = set(map(normal_text, external_ids))
        found = customers.by_external_id(refs)
        merged: dict[str, tuple[str, dt.datetime]] = {}
        if len(found) < len(refs):
            with self.crm.read() as conn:
                merged = customers.merged_into(conn, refs - found.keys())
            found.update(customers.by_external_id(keep for keep, _ in merged.values()))
        hidden = set(found) - set(self.customer_access(principal, customers.documents(found)))
        return {ref for ref in refs
                if ref in hidden or (ref in merged and merged[ref][0] in hidden)}

    def event_masker(self, access: Mapping[int | None, bool]):
        """A function of a stored event (:class:`crmkit.models.Event`) giving it as a member
        may see it: unchanged when ``access`` (:meth:`customer_access`, by internal customer
        id) shows them its customer's personal data; else its payload without the personal
        values its type declares (:func:`masked_payload`, ``crm.events.declared()``)."""
        personal = {name: declared.personal
                    for name, declared in self.crm.events.declared().items()}
        return lambda event: event if access.get(event.customer_id) else attrs.evolve(
            event, payload=masked_payload(event.payload, personal.get(event.type)))

    # -- authentication ----------------------------------------------------------------------

    def authenticate_token(self, secret: str) -> Principal:
        """The Principal of an API token's staff member; Unauthenticated for a missing,
        unknown, revoked or expired token, or one whose member was removed."""
        if not isinstance(secret, str) or not secret:
            raise Unauthenticated("no API token given")
        t = tables.api_tokens
        with self.crm.read() as conn:
            row = conn.execute(_TOKEN_OWNER, {"hash": token_hash(secret)}).first()
        now = self.crm.clock.now()
        if row is None:
            raise Unauthenticated("unknown API token")
        if row.revoked_at is not None:
            raise Unauthenticated("the API token was revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise Unauthenticated(f"the API token expired at {row.expires_at:%Y-%m-%d %H:%M} UTC")
        if not row.active:
            raise Unauthenticated("the API token's staff member was removed")
        principal = self._principal(row.handle, row.role)
        stale = now - LAST_USED_RESOLUTION
        if row.last_used_at is None or row.last_used_at <= stale:
            self._write(update(t).where(t.c.id == row.id).where(
                or_(t.c.last_used_at.is_(None), t.c.last_used_at <= stale))
                .values(last_used_at=now))
        return principal

    def authenticate_password(self, handle: str, password: str) -> Principal:
        """The Principal of a staff member signing in with their password.

        Every refusal is Unauthenticated with :data:`SIGN_IN_REFUSED`, whatever the reason
        (unknown or removed handle, no password set, wrong password, locked): the message
        never tells whether the handle exists.  :data:`MAX_FAILED_SIGN_INS` failures in a row
        lock the handle for :data:`LOCKOUT` by the CRM clock, even for the right password;
        the lock-out is audited.
        """
        s = tables.staff
        handle = _handle(handle)
        password = password if isinstance(password, str) else ""
        with self.crm.read() as conn:
            row = conn.execute(select(s.c.handle, s.c.role, s.c.active, s.c.password_hash,
                                      s.c.failed_logins, s.c.locked_until)
                               .where(s.c.handle == handle)).first()
        if row is None or not row.active or row.password_hash is None:
            _verify(_decoy_hash(), password)  # as slow as a real attempt: no timing tell
            raise Unauthenticated(SIGN_IN_REFUSED)
        correct = _verify(row.password_hash, password)
        if row.locked_until is not None and row.locked_until > self.crm.clock.now():
            raise Unauthenticated(SIGN_IN_REFUSED)
        if (correct and not row.failed_logins and row.locked_until is None
                and not _hasher().check_needs_rehash(row.password_hash)):
            return self._principal(row.handle, row.role)  # nothing to record

        def record(tx) -> Principal | None:
            now = tx.now()
            current = tx.conn.execute(select(s).where(s.c.handle == handle).with_for_update()
                                      ).mappings().one()
            if current["locked_until"] is not None and current["locked_until"] > now:
                return None
            if correct:
                changes: dict[str, Any] = {}
                if current["failed_logins"] or current["locked_until"] is not None:
                    changes.update(failed_logins=0, locked_until=None)
                if _hasher().check_needs_rehash(current["password_hash"]):
                    changes["password_hash"] = hash_password(password)
                if changes:
                    tx.conn.execute(update(s).where(s.c.id == current["id"]).values(**changes))
                return self._principal(current["handle"], current["role"])
            failures = (0 if current["locked_until"] is not None else current["failed_logins"]) + 1
            if failures < MAX_FAILED_SIGN_INS:
                tx.conn.execute(update(s).where(s.c.id == current["id"])
                                .values(failed_logins=failures, locked_until=None))
                return None
            until = now + LOCKOUT
            tx.conn.execute(update(s).where(s.c.id == current["id"])
                            .values(failed_logins=0, locked_until=until))
            tx.audit("lock", "staff", handle, {"failed_sign_ins": failures,
                                               "locked_until": until.isoformat()})
            return None

        with self.crm.transaction(require_plugins=False) as tx:
            principal = record(tx)
        if principal is None:
            raise Unauthenticated(SIGN_IN_REFUSED)
        return principal

    def _write(self, statement) -> None:
        """Execute one bookkeeping statement: in the open transaction, or committed alone."""
        active = self.crm.current_transaction()
        if active is not None:
            active.conn.execute(statement)
            return
        with self.crm.connect(write=True) as conn:
            conn.execute(statement)
            conn.commit()


class TokenService:
    """``crm.tokens``: API tokens of staff members (the secret is shown once, stored hashed)."""

    def __init__(self, crm):
        self.crm = crm

    def create(self, staff_handle: str, name: str | None = None,
               expires_at: dt.datetime | None = None, by: Principal | None = None
               ) -> tuple[ApiToken, str]:
        """Create a token for an active staff member; return it and its secret (shown once).

        ``expires_at`` (aware) must be in the future; without it the token lasts until revoked.
        ``by``, the member asking (the web app's), may create one only for a member whose role
        grants nothing theirs does not (:meth:`AuthService.require_over`): the token acts as
        that member.  None: the operator (the command line), who may do everything.
        """
        if name is not None:
            name = clean_text(name, "token name", LINE).strip()
            problem = ("required: 1 to 200 characters" if not name
                       else text_limit(self.crm, TOKEN_NAME_WIDTH).problem(name))
            if problem is not None:
                raise ValidationError(f"token name: {problem}")
        if expires_at is not None:
            now = self.crm.clock.now()
            if expires_at.tzinfo is None or expires_at.utcoffset() is None:
                raise ValidationError(f"token expiry {expires_at.isoformat()}: must be a time "
                                      "with a UTC offset")
            if expires_at <= now:
                raise ValidationError(f"token expiry {expires_at.isoformat()}: is in the past "
                                      f"(now is {now.isoformat(timespec='seconds')}); give a "
                                      "time in the future")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)

        def work(tx) -> int:
            staff_id, role = _active_staff(tx.conn, staff_handle)
            if by is not None:
                self.crm.auth.require_over(by, _handle(staff_handle), role,
                                           "create an API token for")
            token_id = tx.conn.execute(insert(tables.api_tokens).values(
                staff_id=staff_id, name=name, token_hash=token_hash(secret),
                created_at=tx.now(), expires_at=expires_at)).inserted_primary_key[0]
            tx.audit("create", "api_tokens", str(token_id), {
                "staff": _handle(staff_handle), "name": name,
                "expires_at": expires_at.isoformat() if expires_at else None})
            return token_id

        token_id = self.crm.run_transaction(work)
        return self.get(token_id), secret

    def get(self, token_id: int) -> ApiToken:
        """One token by id (never its secret)."""
        [token] = self._select(id=token_id) or [None]
        if token is None:
            raise NotFound(f"no API token {token_id}")
        return token

    def list(self, staff_handle: str | None = None) -> list[ApiToken]:
        """Every token (revoked and expired ones included) by id, optionally of one member."""
        if staff_handle is not None:
            with self.crm.read() as conn:
                if conn.execute(select(tables.staff.c.id).where(
                        tables.staff.c.handle == _handle(staff_handle))).first() is None:
                    raise NotFound(f"no staff member {staff_handle!r}")
        return self._select(handle=staff_handle)

    def revoke(self, token_id: int, by: Principal | None = None) -> ApiToken:
        """Revoke a token: it authenticates nobody from now on (kept for the record).  ``by``,
        the member asking, may revoke only a token of a member whose role grants nothing
        theirs does not (:meth:`AuthService.require_over`); None: the operator."""
        t, s = tables.api_tokens, tables.staff

        def work(tx) -> None:
            row = tx.conn.execute(select(t.c.revoked_at, s.c.handle, s.c.role)
                                  .join(s, s.c.id == t.c.staff_id).where(t.c.id == token_id)
                                  .with_for_update(of=t)).first()
            if row is None:
                raise NotFound(f"no API token {token_id}")
            if by is not None:
                self.crm.auth.require_over(by, row.handle, row.role,
                                           f"revoke API token {token_id} of")
            if row.revoked_at is not None:
                raise ConflictError(f"API token {token_id} was already revoked at "
                                    f"{row.revoked_at:%Y-%m-%d %H:%M} UTC")
            tx.conn.execute(update(t).where(t.c.id == token_id).values(revoked_at=tx.now()))
            tx.audit("revoke", "api_tokens", str(token_id), {"revoked_at": tx.now().isoformat()})

        self.crm.run_transaction(work)
        return self.get(token_id)

    def _select(self, id: int | None = None, handle: str | None = None) -> list[ApiToken]:
        t, s = tables.api_tokens, tables.staff
        query = (select(t.c.id, s.c.handle, t.c.name, t.c.created_at, t.c.expires_at,
                        t.c.revoked_at, t.c.last_used_at)
                 .join(s, s.c.id == t.c.staff_id).order_by(t.c.id))
        if id is not None:
            query = query.where(t.c.id == id)
        if handle is not None:
            query = query.where(s.c.handle == _handle(handle))
        with self.crm.read() as conn:
            return [ApiToken(id=r.id, staff_handle=r.handle, name=r.name,
                             created_at=r.created_at, expires_at=r.expires_at,
                             revoked_at=r.revoked_at, last_used_at=r.last_used_at)
                    for r in conn.execute(query)]


def _handle(handle: Any) -> str:
    return normal_text(handle) if isinstance(handle, str) else ""


def _active_staff(conn, handle: str) -> tuple[int, str]:
    """The id and role of active staff member ``handle``."""
    row = conn.execute(select(tables.staff.c.id, tables.staff.c.role, tables.staff.c.active)
                       .where(tables.staff.c.handle == _handle(handle))).first()
    if row is None:
        raise NotFound(f"no staff member {handle!r}")
    if not row.active:
        raise ValidationError(f"staff member {handle!r} was removed: they may not have tokens")
    return row.id, row.role


def database_secret(crm, setting: str) -> bytes:
    """A random 32-byte key generated once per database and kept in the ``settings`` row
    ``setting``: never in the repository or a configuration file, the same for every process
    of one database (the web app's session key, the tracking links' key)."""
    from sqlalchemy.exc import IntegrityError

    s = tables.settings
    with crm.read() as conn:
        value = conn.execute(select(s.c.value).where(s.c.name == setting)).scalar()
    if value is not None:
        return bytes.fromhex(value["key"])
    try:
        with crm.transaction(require_plugins=False) as tx:
            tx.conn.execute(insert(s).values(name=setting, value={"key": secrets.token_hex(32)},
                                             updated_at=tx.now()))
    except IntegrityError:
        pass  # another process stored it first
    with crm.read() as conn:
        return bytes.fromhex(conn.execute(select(s.c.value).where(s.c.name == setting))
                             .scalar_one()["key"])


__all__ = [
    "database_secret",
    "CORE_PERMISSIONS", "DEFAULT_ROLES", "DEFAULT_ROLE", "PII_FIELDS", "PERSONAL", "MASK",
    "TOKEN_PREFIX", "LAST_USED_RESOLUTION", "MIN_PASSWORD_LENGTH", "MAX_FAILED_SIGN_INS",
    "LOCKOUT", "SIGN_IN_REFUSED", "ROLES_SCHEMA", "HIDDEN_ARGUMENTS", "grants", "granted_beyond",
    "Principal", "check_roles", "permissions_problem", "masked_changes", "masked_command",
    "masked_payload", "masked_interaction", "token_hash", "hash_password", "AuthService",
    "TokenService",
]
