"""operational: automation messages go to the core outbox (``messages``); drop ``operational_outbox``.

Its rows named a template and nothing sent them: they hold no message to move.

Revision ID: operational_0003
Revises: operational_0002
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import BigIdType as ID_TYPE

revision = "operational_0003"
down_revision = "operational_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_operational_outbox_customer_id"), table_name="operational_outbox")
    op.drop_table("operational_outbox")


def downgrade() -> None:
    op.create_table(
        "operational_outbox",
        sa.Column("id", ID_TYPE, nullable=False),
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(40), nullable=True),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(300), nullable=True),
        sa.Column("rule", sa.String(100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_operational_outbox_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_outbox")))
    op.create_index(op.f("ix_operational_outbox_customer_id"), "operational_outbox",
                    ["customer_id"], unique=False)
