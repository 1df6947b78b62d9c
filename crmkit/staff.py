"""Staff: the users and agents who own work, grouped in teams."""

from __future__ import annotations

import unicodedata

from sqlalchemy import insert, select, update

from . import tables
from .auth import DEFAULT_ROLE, MIN_PASSWORD_LENGTH, Principal, hash_password
from .customers import EMAIL
from .errors import ConflictError, NotFound, PermissionDenied, ValidationError
from .models import Staff
from .types import IDENTIFIER, clean_text, normal_text, too_long

SYSTEM_ACTOR = "system"
"""The actor of work nobody in particular does (the default ``--actor``); always allowed."""
MAX_HANDLE = 100
"""The longest staff handle, in characters (the width of ``staff.handle``)."""
HANDLE_RULE = f"1 to {MAX_HANDLE} letters, digits and . _ - @, the first not -"
"""What a new staff handle may be, as its refusal says: one word, usable unquoted in a
command (a first ``-`` would read as an option)."""
_HANDLE_SIGNS = frozenset("._-@")


def _handle_problem(handle: str) -> str | None:
    """Why ``handle`` (in NFC) breaks :data:`HANDLE_RULE`; None when it keeps it.  A letter's
    combining marks (accents, Indic vowel signs) are part of it."""
    if len(handle) > MAX_HANDLE:
        return too_long(handle, MAX_HANDLE)
    bad = next((ch for ch in handle if not (ch.isalnum() or ch in _HANDLE_SIGNS
                                            or unicodedata.category(ch).startswith("M"))), None)
    if bad is None and handle == SYSTEM_ACTOR:
        return (f"{handle!r} is the actor of work nobody in particular does (the default "
                "--actor), so the audit log could not tell them apart: choose another")
    what = (f"contains {bad!r}" if bad is not None else
            "starts with -" if handle.startswith("-") else None)
    return None if what is None else f"{handle!r} {what} (allowed: {HANDLE_RULE})"


class StaffService:
    """``crm.staff``: add, list and remove staff members; their roles and passwords.

    A change may say ``by`` whom, the member asking through the web app: no one gives a role
    granting more than theirs, or acts on a member whose role does
    (:meth:`crmkit.auth.AuthService.require_within`), and no one changes their own role.
    Without ``by``, the operator (the command line) may do everything."""

    def __init__(self, crm):
        self.crm = crm

    def add(self, handle: str, name: str, team: str, email: str | None = None,
            role: str = DEFAULT_ROLE, by: Principal | None = None) -> Staff:
        """Add a staff member with a role of the core config's ``roles``; the handle is unique
        and keeps :data:`HANDLE_RULE` (handles stored before that rule keep working)."""
        for field, value in (("handle", handle), ("name", name), ("team", team)):
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"staff {field}: required non-empty text")
        handle = clean_text(handle, "staff handle", IDENTIFIER)
        problem = _handle_problem(handle)
        if problem is not None:
            raise ValidationError.from_problems([("", "staff handle", problem)])
        name, team = clean_text(name, "staff name"), clean_text(team, "staff team")
        if email is not None:
            email = clean_text(email, "staff email").strip()
            if not EMAIL.match(email):
                raise ValidationError(f"staff email: {email!r} is not an email address "
                                      "(allowed: name@domain.example)")
        self._check_role(role)
        if by is not None:
            self.crm.auth.require_within(by, self.crm.auth.roles()[role],
                                         f"add {handle!r} with role {role}")
        with self.crm.transaction() as tx:
            if tx.conn.execute(select(tables.staff.c.id).where(tables.staff.c.handle == handle)).first():
                raise ConflictError(f"staff handle {handle!r} already exists")
            tx.conn.execute(insert(tables.staff), {"handle": handle, "name": name, "team": team,
                                                   "email": email, "active": True,
                                                   "created_at": tx.now(), "role": role,
                                                   "failed_logins": 0})
            tx.audit("create", "staff", handle, {"name": name, "team": team, "role": role})
        return self.get(handle)

    def remove(self, handle: str, by: Principal | None = None) -> Staff:
        """Deactivate a staff member: no new work is assigned to them; their history stays.

        A removed member is no longer listed (``list(active_only=False)`` shows
        them) and cannot be added again under the same handle.  ``by``, the member asking
        (the web app), may remove only another member whose role grants nothing theirs does
        not (so the last member who manages staff cannot lock everyone out); None: the
        operator.
        """
        with self.crm.transaction() as tx:
            member = self.get(handle)
            if not member.active:
                raise ConflictError(f"staff member {handle!r} was already removed")
            if by is not None:
                if member.handle == by.handle:
                    raise PermissionDenied(
                        f"{by.handle!r} (role {by.role}) may not remove themselves: another "
                        "member with staff.manage whose role grants all theirs may, or the "
                        f"operator (`crmkit staff remove {by.handle}`)")
                self.crm.auth.require_over(by, member.handle, member.role, "remove")
            tx.conn.execute(update(tables.staff).where(tables.staff.c.handle == handle)
                            .values(active=False))
            tx.audit("update", "staff", handle, {"active": [True, False]})
        return self.get(handle)

    def set_role(self, handle: str, role: str, by: Principal | None = None) -> Staff:
        """Give a staff member another role (one of the core config's ``roles``)."""
        self._check_role(role)
        with self.crm.transaction() as tx:
            member = self.get(handle)  # read in the transaction: the audit shows the real change
            if by is not None:
                self._check_role_change(by, member, role)
            if member.role != role:
                tx.conn.execute(update(tables.staff).where(tables.staff.c.id == member.id)
                                .values(role=role))
                tx.audit("update", "staff", member.handle, {"role": [member.role, role]})
        return self.get(handle)

    def set_password(self, handle: str, password: str) -> None:
        """Set a staff member's sign-in password (stored as an argon2id hash, never as text).

        It must have at least :data:`crmkit.auth.MIN_PASSWORD_LENGTH` characters.  A new
        password also lifts a sign-in lock-out.  The audit row says only that it changed.
        """
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            length = len(password) if isinstance(password, str) else 0
            raise ValidationError(f"password of {handle!r}: at least {MIN_PASSWORD_LENGTH} "
                                  f"characters are required (got {length})")
        clean_text(password, "password")
        member = self.get(handle)
        password_hash = hash_password(password)
        with self.crm.transaction() as tx:
            tx.conn.execute(update(tables.staff).where(tables.staff.c.id == member.id)
                            .values(password_hash=password_hash, failed_logins=0,
                                    locked_until=None))
            tx.audit("update", "staff", member.handle, {"password": "changed"})

    def set_locale(self, handle: str, locale: str | None) -> Staff:
        """Set the web app language of a staff member: a tag of :data:`crmkit.i18n.LOCALES`
        (``"zh-Hans"``), or None to follow the browser's ``Accept-Language``."""
        from .i18n import LOCALES

        if locale is not None and locale not in LOCALES:
            raise ValidationError(f"language {locale!r} of {handle!r}: not available "
                                  f"(available: {', '.join(LOCALES)})")
        with self.crm.transaction() as tx:
            member = self.get(handle)
            if member.locale != locale:
                tx.conn.execute(update(tables.staff).where(tables.staff.c.id == member.id)
                                .values(locale=locale))
                tx.audit("update", "staff", member.handle, {"locale": [member.locale, locale]})
        return self.get(handle)

    def _check_role_change(self, by: Principal, member: Staff, role: str) -> None:
        """Refuse ``by`` giving ``member`` ``role``: their own, a member whose role grants
        more than ``by``'s, or a role that does."""
        if member.handle == by.handle:
            raise PermissionDenied(f"{by.handle!r} (role {by.role}) may not change their own "
                                   "role: another member with staff.manage whose role grants "
                                   f"all theirs may, or the operator (`crmkit staff role "
                                   f"{by.handle} ROLE`)")
        auth = self.crm.auth
        auth.require_over(by, member.handle, member.role, "change the role of")
        auth.require_within(by, auth.roles()[role], f"give {member.handle!r} role {role}")

    def _check_role(self, role: str) -> None:
        roles = self.crm.core_config["roles"]
        if role not in roles:
            raise ValidationError(f"role {role!r} is not defined (roles: "
                                  f"{', '.join(sorted(roles))}; the core config's roles define "
                                  "them)")

    def get(self, handle: str) -> Staff:
        """One staff member by handle."""
        with self.crm.read() as conn:
            row = conn.execute(select(tables.staff).where(
                tables.staff.c.handle == normal_text(handle))).mappings().first()
        if row is None:
            raise NotFound(f"no staff member {handle!r}")
        return _to_staff(row)

    def check_actor(self, actor: str) -> None:
        """Refuse ``actor`` unless it is ``system`` or an active staff handle.

        The core config's ``allow_free_actors`` lets any name act.
        """
        if actor == SYSTEM_ACTOR or self.crm.core_config["allow_free_actors"]:
            return
        with self.crm.read() as conn:
            active = conn.execute(select(tables.staff.c.active)
                                  .where(tables.staff.c.handle == actor)).scalar()
        if not active:
            problem = "an inactive staff member" if active is False else "not a staff handle"
            raise ValidationError(
                f"--actor {actor!r}: {problem}; act as an active staff member (`crmkit staff "
                "list`), as system, or allow any name with `crmkit config --set "
                "allow_free_actors=true`")

    def list(self, team: str | None = None, active_only: bool = True) -> list[Staff]:
        """Staff members in a stable order (by id), optionally of one team."""
        t = tables.staff
        query = select(t).order_by(t.c.id)
        if team is not None:
            query = query.where(t.c.team == team)
        if active_only:
            query = query.where(t.c.active.is_(True))
        with self.crm.read() as conn:
            return [_to_staff(r) for r in conn.execute(query).mappings()]


def _to_staff(row) -> Staff:
    return Staff(id=row["id"], handle=row["handle"], name=row["name"], team=row["team"],
                 email=row["email"], active=row["active"], role=row["role"],
                 locale=row["locale"])


__all__ = ["SYSTEM_ACTOR", "MAX_HANDLE", "HANDLE_RULE", "StaffService"]
