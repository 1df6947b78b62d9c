"""valuechain: SSCs, stage completions, network, propositions, lifecycle actions, ratings.

Revision ID: valuechain_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import JSONType as JSON_TYPE

revision = "valuechain_0001"
down_revision = None
branch_labels = ("valuechain",)
depends_on = None

TIME = sa.DateTime(timezone=True)


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                   name=f"fk_{table}_customer_id_customers")


def upgrade() -> None:
    op.create_table(
        "valuechain_ssc",
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("reasons", JSON_TYPE, nullable=False),
        sa.Column("ssc_group", sa.String(100), nullable=False),
        sa.Column("note", sa.String(1000)),
        sa.Column("marked_at", TIME, nullable=False),
        sa.Column("marked_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_valuechain_ssc"),
        _customer_fk("valuechain_ssc"),
    )
    op.create_table(
        "valuechain_stages",
        sa.Column("stage", sa.Integer, nullable=False),
        sa.Column("completed_at", TIME, nullable=False),
        sa.Column("completed_by", sa.String(200), nullable=False),
        sa.Column("evidence", JSON_TYPE, nullable=False),
        sa.PrimaryKeyConstraint("stage", name="pk_valuechain_stages"),
    )
    op.create_table(
        "valuechain_network",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("role", sa.String(1000), nullable=False),
        sa.Column("ssc_group", sa.String(100)),
        sa.Column("customer_id", sa.Integer),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_valuechain_network"),
        _customer_fk("valuechain_network"),
    )
    op.create_index("ix_valuechain_network_customer_id", "valuechain_network", ["customer_id"])
    op.create_table(
        "valuechain_propositions",
        sa.Column("ssc_group", sa.String(100), nullable=False),
        sa.Column("proposition", sa.String(2000), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("ssc_group", name="pk_valuechain_propositions"),
    )
    op.create_table(
        "valuechain_actions",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("ssc_group", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("description", sa.String(2000), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_valuechain_actions"),
    )
    op.create_index("ix_valuechain_actions_ssc_group", "valuechain_actions", ["ssc_group"])
    op.create_table(
        "valuechain_ratings",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("condition", sa.String(40), nullable=False),
        sa.Column("rating", sa.Integer, nullable=False),
        sa.Column("note", sa.String(1000)),
        sa.Column("rated_at", TIME, nullable=False),
        sa.Column("rated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_valuechain_ratings"),
    )
    op.create_index("ix_valuechain_ratings_condition", "valuechain_ratings", ["condition"])


def downgrade() -> None:
    for name in ("valuechain_ratings", "valuechain_actions", "valuechain_propositions",
                 "valuechain_network", "valuechain_stages", "valuechain_ssc"):
        op.drop_table(name)
