"""operational: scoring hits move into the lead rows; coverage is one mark per rules' fingerprint.

The ``operational_score_hits`` table kept each customer's capped most recent
matches as rows keyed by customer: every batch inserted about one row per
interaction at random places of it, trimmed it, and summed a hundred thousand
of its rows again.  Each lead now carries its hits packed in
``operational_leads.hits`` and a batch adds its own matches in memory.
Existing leads start with unknown (NULL) hits, which are computed from their
interactions when they are next scored.

Revision ID: operational_0003
Revises: operational_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "operational_0003"
down_revision = "operational_0002"
branch_labels = None
depends_on = None

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("operational_leads", sa.Column("hits", sa.LargeBinary()))
    op.drop_index("ix_operational_score_coverage_fingerprint", table_name="operational_score_coverage")
    op.drop_table("operational_score_coverage")
    op.drop_table("operational_score_hits")
    op.create_table("operational_score_coverage",
                    sa.Column("fingerprint", sa.String(length=64), nullable=False),
                    sa.Column("through_id", ID_TYPE, nullable=False),
                    sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_operational_score_coverage")))


def downgrade() -> None:
    op.drop_table("operational_score_coverage")
    op.create_table("operational_score_hits",
                    sa.Column("customer_id", sa.Integer(), nullable=False),
                    sa.Column("rule", sa.Integer(), nullable=False),
                    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
                    sa.Column("interaction_id", ID_TYPE, nullable=False),
                    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                            name=op.f("fk_operational_score_hits_customer_id_customers")),
                    sa.PrimaryKeyConstraint("customer_id", "rule", "occurred_at", "interaction_id",
                                            name=op.f("pk_operational_score_hits")),
                    sqlite_with_rowid=False)
    op.create_table("operational_score_coverage",
                    sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("first_id", ID_TYPE, nullable=False),
                    sa.Column("last_id", ID_TYPE, nullable=False),
                    sa.Column("fingerprint", sa.String(length=64), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_score_coverage")))
    op.create_index("ix_operational_score_coverage_fingerprint", "operational_score_coverage",
                    ["fingerprint", "last_id"])
    with op.batch_alter_table("operational_leads") as batch:
        batch.drop_column("hits")
