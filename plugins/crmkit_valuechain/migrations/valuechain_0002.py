"""valuechain: a completed stage's evidence no longer names customers.

Stage 2's evidence listed its least complete SSCs by external id; those are now
audited one entry per customer, and erasure could not reach them in the stage
row.  Downgrading keeps the evidence as it is (the ids are not restored).

Revision ID: valuechain_0002
Revises: valuechain_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import JSONType as JSON_TYPE

revision = "valuechain_0002"
down_revision = "valuechain_0001"
branch_labels = None
depends_on = None

stages = sa.table("valuechain_stages", sa.column("stage", sa.Integer),
                  sa.column("evidence", JSON_TYPE))


def upgrade() -> None:
    conn = op.get_bind()
    for stage, evidence in conn.execute(sa.select(stages.c.stage, stages.c.evidence)).all():
        if "least_complete" in evidence:
            kept = {key: value for key, value in evidence.items() if key != "least_complete"}
            conn.execute(sa.update(stages).where(stages.c.stage == stage).values(evidence=kept))


def downgrade() -> None:
    pass
