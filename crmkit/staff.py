"""Staff: the users and agents who own work, grouped in teams."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from . import tables
from .errors import ConflictError, NotFound, ValidationError
from .models import Staff
from .types import IDENTIFIER, clean_text, normal_text

SYSTEM_ACTOR = "system"
"""The actor of work nobody in particular does (the default ``--actor``); always allowed."""


class StaffService:
    """``crm.staff``: add, list and remove staff members."""

    def __init__(self, crm):
        self.crm = crm

    def add(self, handle: str, name: str, team: str, email: str | None = None) -> Staff:
        """Add a staff member; the handle is unique."""
        for field, value in (("handle", handle), ("name", name), ("team", team)):
            if not isinstance(value, str) or not value.strip():
                raise ValidationError(f"staff {field}: required non-empty text")
        handle = clean_text(handle, "staff handle", IDENTIFIER)
        name, team = clean_text(name, "staff name"), clean_text(team, "staff team")
        if email is not None:
            email = clean_text(email, "staff email")
        with self.crm.transaction() as tx:
            if tx.conn.execute(select(tables.staff.c.id).where(tables.staff.c.handle == handle)).first():
                raise ConflictError(f"staff handle {handle!r} already exists")
            tx.conn.execute(insert(tables.staff), {"handle": handle, "name": name, "team": team,
                                                   "email": email, "active": True,
                                                   "created_at": tx.now()})
            tx.audit("create", "staff", handle, {"name": name, "team": team})
        return self.get(handle)

    def remove(self, handle: str) -> Staff:
        """Deactivate a staff member: no new work is assigned to them; their history stays.

        A removed member is no longer listed (``list(active_only=False)`` shows
        them) and cannot be added again under the same handle.
        """
        member = self.get(handle)
        if not member.active:
            raise ConflictError(f"staff member {handle!r} was already removed")
        with self.crm.transaction() as tx:
            tx.conn.execute(update(tables.staff).where(tables.staff.c.handle == handle)
                            .values(active=False))
            tx.audit("update", "staff", handle, {"active": [True, False]})
        return self.get(handle)

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
                 email=row["email"], active=row["active"])


__all__ = ["SYSTEM_ACTOR", "StaffService"]
