"""social: mentions carry their detected language; a mention no analyser handles is unscored.

``sentiment`` may now be NULL, with ``unscored_reason`` saying why (no text,
or no sentiment analyser for the language).  Mentions imported before keep
their score and have no language until their text changes.

Revision ID: social_0002
Revises: social_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "social_0002"
down_revision = "social_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("social_mentions") as batch:
        batch.add_column(sa.Column("language", sa.String(10), nullable=True))
        batch.add_column(sa.Column("unscored_reason", sa.String(200), nullable=True))
        batch.alter_column("sentiment", existing_type=sa.Float(), nullable=True)


def downgrade() -> None:
    op.execute(sa.text("UPDATE social_mentions SET sentiment = 0.0 WHERE sentiment IS NULL"))
    with op.batch_alter_table("social_mentions") as batch:
        batch.alter_column("sentiment", existing_type=sa.Float(), nullable=False)
        batch.drop_column("unscored_reason")
        batch.drop_column("language")
