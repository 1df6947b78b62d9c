"""operational: where a lead came from (``operational_leads.source``).

Revision ID: operational_0002
Revises: operational_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "operational_0002"
down_revision = "operational_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operational_leads") as batch:
        batch.add_column(sa.Column("source", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("operational_leads") as batch:
        batch.drop_column("source")
