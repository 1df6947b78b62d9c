"""loyalty: members carry an upgrade ceiling; the ledger's customer index is narrow again.

The covering ``(customer_id, at, source, points, owed_change)`` index let tier
qualification sum every purchaser's window from the index alone, but each
purchase wrote a 50-byte entry at a random place in it: at a million purchases
a 50k-row batch dirtied nearly all of its pages.  Members now carry an upper
bound of their qualifying points (``qualifying_ceiling``, valid for windows
starting at or after ``ceiling_from``), so only members who may have reached
their next tier have their window summed; a ``(customer_id)`` index is enough
for that.  Existing members start with an unknown (NULL) ceiling.

Revision ID: loyalty_0003
Revises: loyalty_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "loyalty_0003"
down_revision = "loyalty_0002"
branch_labels = None
depends_on = None

WIDE, NARROW = "ix_loyalty_ledger_customer_window", "ix_loyalty_ledger_customer_id"


def upgrade() -> None:
    op.add_column("loyalty_members", sa.Column("qualifying_ceiling", sa.BigInteger))
    op.add_column("loyalty_members", sa.Column("ceiling_from", sa.DateTime(timezone=True)))
    op.create_index(NARROW, "loyalty_ledger", ["customer_id"])
    op.drop_index(WIDE, table_name="loyalty_ledger")


def downgrade() -> None:
    op.create_index(WIDE, "loyalty_ledger", ["customer_id", "at", "source", "points", "owed_change"])
    op.drop_index(NARROW, table_name="loyalty_ledger")
    with op.batch_alter_table("loyalty_members") as batch:
        batch.drop_column("ceiling_from")
        batch.drop_column("qualifying_ceiling")
