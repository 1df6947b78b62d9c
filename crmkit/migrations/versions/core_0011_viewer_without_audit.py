"""core: the built-in ``viewer`` role no longer reads the audit log.

A stored core configuration keeps every role, the built-in ones too, so one whose ``viewer``
still grants what the built-in one granted (``*.read``) gets the built-in's new patterns
(``*.read``, ``!audit.read``); a ``viewer`` changed otherwise is the operator's and stays.

Revision ID: core_0011
Revises: core_0010
"""

import sqlalchemy as sa
from alembic import op

from crmkit.types import JSONType

revision = "core_0011"
down_revision = "core_0010"
branch_labels = None
depends_on = None

OLD_VIEWER = ["*.read"]
NEW_VIEWER = ["*.read", "!audit.read"]

settings = sa.table("settings", sa.column("name", sa.String()), sa.column("value", JSONType))


def _replace_viewer(old: list[str], new: list[str]) -> None:
    conn = op.get_bind()
    core = conn.execute(sa.select(settings.c.value).where(settings.c.name == "core")).scalar()
    if isinstance(core, dict) and isinstance(core.get("roles"), dict) and (
            core["roles"].get("viewer") == old):
        value = {**core, "roles": {**core["roles"], "viewer": new}}
        conn.execute(sa.update(settings).where(settings.c.name == "core").values(value=value))


def upgrade() -> None:
    _replace_viewer(OLD_VIEWER, NEW_VIEWER)


def downgrade() -> None:
    _replace_viewer(NEW_VIEWER, OLD_VIEWER)
