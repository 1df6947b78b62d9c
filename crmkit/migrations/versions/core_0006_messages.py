"""core: the outbox of outgoing messages (crmkit.messaging), drained by the worker.

Revision ID: core_0006
Revises: core_0005
"""

import sqlalchemy as sa
from alembic import op

from crmkit.types import BigIdType as BIG_ID, JSONType as JSON_TYPE

revision = "core_0006"
down_revision = "core_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("message_id", sa.String(length=250), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=2000), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("headers", JSON_TYPE, nullable=False),
        sa.Column("meta", JSON_TYPE, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_messages_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_messages_message_id")),
    )
    op.create_index("ix_messages_due", "messages", ["status", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_messages_customer_id"), "messages", ["customer_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_customer_id"), table_name="messages")
    op.drop_index("ix_messages_due", table_name="messages")
    op.drop_table("messages")
