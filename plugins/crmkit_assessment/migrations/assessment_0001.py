"""assessment: the assessments taken.

Revision ID: assessment_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import JSONType as JSON_TYPE

revision = "assessment_0001"
down_revision = None
branch_labels = ("assessment",)
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assessment_runs",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("taken_at", TIME, nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("answers", JSON_TYPE, nullable=False),
        sa.Column("scores", JSON_TYPE, nullable=False),
        sa.Column("band", sa.String(20), nullable=False),
        sa.Column("evidence", JSON_TYPE, nullable=False),
        sa.Column("note", sa.String(2000)),
        sa.PrimaryKeyConstraint("id", name="pk_assessment_runs"),
    )
    op.create_index("ix_assessment_runs_taken_at", "assessment_runs", ["taken_at"])


def downgrade() -> None:
    op.drop_table("assessment_runs")
