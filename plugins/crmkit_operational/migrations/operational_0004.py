"""operational: lead and firing timestamps written by the driver get the stored form of every other.

Up to operational_0003, ``operational_leads.scored_at`` and
``operational_firings.fired_at`` reached SQLite as naive datetimes stored by
sqlite3's default adapter: without the ``.ffffff`` fraction when it was zero
(``2025-01-01 00:00:00``), which compares below the same instant in the form
``UTCDateTime`` writes (``2025-01-01 00:00:00.000000``).  This pads them.
PostgreSQL stored real timestamps and needs nothing.

Revision ID: operational_0004
Revises: operational_0003
"""

from alembic import op

revision = "operational_0004"
down_revision = "operational_0003"
branch_labels = None
depends_on = None

COLUMNS = (("operational_leads", "scored_at"), ("operational_firings", "fired_at"))


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column in COLUMNS:
        op.execute(f"UPDATE {table} SET {column} = {column} || '.000000' "
                   f"WHERE length({column}) = 19")


def downgrade() -> None:
    """Nothing to undo: the padded form is the one every version reads and writes."""
