"""loyalty: a lot use may be negative (an expiry give-back returning points to a lot).

Revision ID: loyalty_0002
Revises: loyalty_0001
"""

from alembic import op

revision = "loyalty_0002"
down_revision = "loyalty_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_lot_uses") as batch:
        batch.drop_constraint("ck_loyalty_lot_uses_points_positive", type_="check")
        batch.create_check_constraint("ck_loyalty_lot_uses_points_not_zero", "points <> 0")


def downgrade() -> None:
    with op.batch_alter_table("loyalty_lot_uses") as batch:
        batch.drop_constraint("ck_loyalty_lot_uses_points_not_zero", type_="check")
        batch.create_check_constraint("ck_loyalty_lot_uses_points_positive", "points > 0")
