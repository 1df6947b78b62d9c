"""loyalty: a lot use may be negative (an expiry give-back returning points to a lot).

Revision ID: loyalty_0002
Revises: loyalty_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import DatabaseError

revision = "loyalty_0002"
down_revision = "loyalty_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_lot_uses") as batch:
        batch.drop_constraint("ck_loyalty_lot_uses_points_positive", type_="check")
        batch.create_check_constraint("ck_loyalty_lot_uses_points_not_zero", "points <> 0")


def downgrade() -> None:
    """Refused, changing nothing, once a give-back exists: loyalty_0001 holds no negative lot
    use, and folding a give-back into the expiry it answers would update and delete rows of
    the append-only ledger (the release before takes any row of positive points, a
    give-back too, for a lot)."""
    given_back = op.get_bind().execute(
        sa.text("SELECT count(*) FROM loyalty_lot_uses WHERE points < 0")).scalar()
    if given_back:
        raise DatabaseError(
            f"loyalty: cannot downgrade to loyalty_0001: the ledger holds {given_back} expiry "
            "give-back(s) (expire rows returning points to a lot as a negative lot use, which "
            "loyalty_0001 does not allow) and the ledger is append-only, so they cannot be "
            "rewritten; nothing was changed")
    with op.batch_alter_table("loyalty_lot_uses") as batch:
        batch.drop_constraint("ck_loyalty_lot_uses_points_not_zero", type_="check")
        batch.create_check_constraint("ck_loyalty_lot_uses_points_positive", "points > 0")
