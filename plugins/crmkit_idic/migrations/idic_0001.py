"""idic: differentiation runs and groups, dialogues, treatments, members, dismissed pairs.

Revision ID: idic_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import JSONType as JSON_TYPE

revision = "idic_0001"
down_revision = None
branch_labels = ("idic",)
depends_on = None

TIME = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    op.create_table(
        "idic_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("as_of", TIME, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("settings", JSON_TYPE, nullable=False),
        sa.Column("counts", JSON_TYPE, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idic_runs"),
    )
    op.create_index("ix_idic_runs_as_of", "idic_runs", ["as_of"])
    op.create_table(
        "idic_groups",
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("value_group", sa.String(20), nullable=False),
        sa.Column("needs_group", sa.String(100)),
        sa.Column("current_value", sa.BigInteger, nullable=False),
        sa.Column("potential_value", sa.BigInteger, nullable=False),
        sa.Column("cost_to_serve", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("run_id", "customer_id", name="pk_idic_groups"),
        _fk("idic_groups", "run_id", "idic_runs.id"),
        _fk("idic_groups", "customer_id", "customers.id"),
    )
    op.create_index("ix_idic_groups_customer_id", "idic_groups", ["customer_id"])
    op.create_table(
        "idic_dialogues",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("channel", sa.String(40), nullable=False),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("plan_group", sa.String(100)),
        sa.Column("summary", sa.String(2000)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idic_dialogues"),
        _fk("idic_dialogues", "customer_id", "customers.id"),
    )
    op.create_index("ix_idic_dialogues_customer_id", "idic_dialogues", ["customer_id"])
    op.create_table(
        "idic_treatments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("group_name", sa.String(100), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("holdout_share", sa.Float, nullable=False),
        sa.Column("start_at", TIME, nullable=False),
        sa.Column("end_at", TIME),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_idic_treatments"),
        sa.UniqueConstraint("name", name="uq_idic_treatments_name"),
    )
    op.create_table(
        "idic_treatment_members",
        sa.Column("treatment_id", sa.Integer, nullable=False),
        sa.Column("customer_id", sa.Integer, nullable=False),
        sa.Column("holdout", sa.Boolean, nullable=False),
        sa.Column("assigned_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("treatment_id", "customer_id", name="pk_idic_treatment_members"),
        _fk("idic_treatment_members", "treatment_id", "idic_treatments.id"),
        _fk("idic_treatment_members", "customer_id", "customers.id"),
    )
    op.create_index("ix_idic_treatment_members_customer_id", "idic_treatment_members",
                    ["customer_id"])
    op.create_table(
        "idic_dismissed_pairs",
        sa.Column("first_id", sa.Integer, nullable=False),
        sa.Column("second_id", sa.Integer, nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("first_id", "second_id", name="pk_idic_dismissed_pairs"),
        _fk("idic_dismissed_pairs", "first_id", "customers.id"),
        _fk("idic_dismissed_pairs", "second_id", "customers.id"),
    )
    op.create_index("ix_idic_dismissed_pairs_second_id", "idic_dismissed_pairs", ["second_id"])


def downgrade() -> None:
    for name in ("idic_dismissed_pairs", "idic_treatment_members", "idic_treatments",
                 "idic_dialogues", "idic_groups", "idic_runs"):
        op.drop_table(name)
