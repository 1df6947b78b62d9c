"""operational: scoring hits (the capped most recent matches per customer and rule) and their coverage.

Revision ID: operational_0002
Revises: operational_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "operational_0002"
down_revision = "operational_0001"
branch_labels = None
depends_on = None

ID_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('operational_score_hits',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('interaction_id', ID_TYPE, nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_operational_score_hits_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', 'rule', 'occurred_at', 'interaction_id', name=op.f('pk_operational_score_hits')),
    sqlite_with_rowid=False
    )
    op.create_table('operational_score_coverage',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('first_id', ID_TYPE, nullable=False),
    sa.Column('last_id', ID_TYPE, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operational_score_coverage'))
    )
    op.create_index('ix_operational_score_coverage_fingerprint', 'operational_score_coverage', ['fingerprint', 'last_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_operational_score_coverage_fingerprint', table_name='operational_score_coverage')
    op.drop_table('operational_score_coverage')
    op.drop_table('operational_score_hits')
