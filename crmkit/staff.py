"""Staff: the users and agents who own work, grouped in teams."""

from __future__ import annotations

from sqlalchemy import insert, select

from . import tables
from .errors import ConflictError, NotFound, ValidationError
from .models import Staff
from .types import IDENTIFIER, clean_text, normal_text


class StaffService:
    """``crm.staff``: add and list staff members."""

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

    def get(self, handle: str) -> Staff:
        """One staff member by handle."""
        with self.crm.read() as conn:
            row = conn.execute(select(tables.staff).where(
                tables.staff.c.handle == normal_text(handle))).mappings().first()
        if row is None:
            raise NotFound(f"no staff member {handle!r}")
        return _to_staff(row)

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
