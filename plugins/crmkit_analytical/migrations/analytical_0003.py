"""analytical: a kept CLV fit records what it depends on (``settings``) and the calibration
summary it was fitted on (``summary``), so that ``crmkit analytical clv predict`` reuses both
instead of computing them again.

Revision ID: analytical_0003
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import JSONType as JSON

revision = "analytical_0003"
down_revision = "analytical_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analytical_clv_fits") as batch:
        batch.add_column(sa.Column("settings", JSON, nullable=True))
        batch.add_column(sa.Column("summary", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analytical_clv_fits") as batch:
        batch.drop_column("summary")
        batch.drop_column("settings")
