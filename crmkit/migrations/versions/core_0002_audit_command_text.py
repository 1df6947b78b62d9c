"""core: audit_log.command becomes TEXT (a recorded command line has no length limit).

Revision ID: core_0002
Revises: core_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0002"
down_revision = "core_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite never enforces a VARCHAR length: only PostgreSQL needs the new type.
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_log", "command", type_=sa.Text(),
                        existing_type=sa.String(length=300), existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("audit_log", "command", type_=sa.String(length=300),
                        existing_type=sa.Text(), existing_nullable=True,
                        postgresql_using="left(command, 300)")
