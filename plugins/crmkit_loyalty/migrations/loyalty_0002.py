"""loyalty: the ledger's per-customer index also carries source, points and owed_change.

Tier qualification sums a member's points over a window for every purchaser of
a batch; with the values in the index that sum reads the index alone instead
of one table row per ledger entry (at a million purchases, 190k random page
reads per 50k-row batch became a walk through the index in customer order).

Revision ID: loyalty_0002
Revises: loyalty_0001
"""

from alembic import op

revision = "loyalty_0002"
down_revision = "loyalty_0001"
branch_labels = None
depends_on = None

OLD, NEW = "ix_loyalty_ledger_customer_at", "ix_loyalty_ledger_customer_window"


def upgrade() -> None:
    op.create_index(NEW, "loyalty_ledger", ["customer_id", "at", "source", "points", "owed_change"])
    op.drop_index(OLD, table_name="loyalty_ledger")


def downgrade() -> None:
    op.create_index(OLD, "loyalty_ledger", ["customer_id", "at"])
    op.drop_index(NEW, table_name="loyalty_ledger")
