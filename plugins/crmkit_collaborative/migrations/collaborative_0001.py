"""collaborative: work items, hand-offs, history, outbound contacts.

Revision ID: collaborative_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import BigIdType as INTERACTION_ID

revision = "collaborative_0001"
down_revision = None
branch_labels = ("collaborative",)
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "collaborative_work_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", INTERACTION_ID, nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_collaborative_work_items_customer_id_customers")),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"],
                                name=op.f("fk_collaborative_work_items_interaction_id_interactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collaborative_work_items")),
        sa.UniqueConstraint("interaction_id", name=op.f("uq_collaborative_work_items_interaction_id")),
    )
    op.create_index(op.f("ix_collaborative_work_items_customer_id"), "collaborative_work_items",
                    ["customer_id"])
    op.create_index("ix_collaborative_work_items_team_state", "collaborative_work_items",
                    ["team", "state"])

    op.create_table(
        "collaborative_handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("from_team", sa.String(100), nullable=False),
        sa.Column("to_team", sa.String(100), nullable=False),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("ack_due_at", WHEN, nullable=True),
        sa.Column("acknowledged_at", WHEN, nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("escalated_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["work_item_id"], ["collaborative_work_items.id"],
                                name=op.f("fk_collaborative_handoffs_work_item_id_collaborative_work_items")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_collaborative_handoffs_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collaborative_handoffs")),
    )
    op.create_index(op.f("ix_collaborative_handoffs_work_item_id"), "collaborative_handoffs",
                    ["work_item_id"])
    op.create_index(op.f("ix_collaborative_handoffs_customer_id"), "collaborative_handoffs",
                    ["customer_id"])
    op.create_index("ix_collaborative_handoffs_pending", "collaborative_handoffs",
                    ["escalated_at", "acknowledged_at", "ack_due_at"])

    op.create_table(
        "collaborative_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=True),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("team", sa.String(100), nullable=False),
        sa.Column("assignee", sa.String(100), nullable=True),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["work_item_id"], ["collaborative_work_items.id"],
                                name=op.f("fk_collaborative_history_work_item_id_collaborative_work_items")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_collaborative_history_customer_id_customers")),
        sa.ForeignKeyConstraint(["handoff_id"], ["collaborative_handoffs.id"],
                                name=op.f("fk_collaborative_history_handoff_id_collaborative_handoffs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collaborative_history")),
    )
    op.create_index(op.f("ix_collaborative_history_work_item_id"), "collaborative_history",
                    ["work_item_id"])
    op.create_index(op.f("ix_collaborative_history_customer_id"), "collaborative_history",
                    ["customer_id"])

    op.create_table(
        "collaborative_contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("interaction_id", INTERACTION_ID, nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("preferred_channel", sa.String(40), nullable=True),
        sa.Column("override_reason", sa.String(1000), nullable=True),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_collaborative_contacts_customer_id_customers")),
        sa.ForeignKeyConstraint(["interaction_id"], ["interactions.id"],
                                name=op.f("fk_collaborative_contacts_interaction_id_interactions")),
        sa.ForeignKeyConstraint(["work_item_id"], ["collaborative_work_items.id"],
                                name=op.f("fk_collaborative_contacts_work_item_id_collaborative_work_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collaborative_contacts")),
    )
    op.create_index(op.f("ix_collaborative_contacts_customer_id"), "collaborative_contacts",
                    ["customer_id"])


def downgrade() -> None:
    op.drop_table("collaborative_contacts")
    op.drop_table("collaborative_history")
    op.drop_table("collaborative_handoffs")
    op.drop_table("collaborative_work_items")
