"""core: staff roles, passwords and sign-in lock-out; API tokens (stored as hashes).

Revision ID: core_0003
Revises: core_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "core_0003"
down_revision = "core_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Staff who exist before roles keep doing everything they could: they become admins.
    op.add_column("staff", sa.Column("role", sa.String(length=100), nullable=False,
                                     server_default="admin"))
    op.add_column("staff", sa.Column("password_hash", sa.String(length=300), nullable=True))
    op.add_column("staff", sa.Column("failed_logins", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("staff", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    # The defaults only fill the existing rows: crmkit always writes a new member's role.
    # (SQLite cannot drop a column default without copying the table; it keeps them.)
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("staff", "role", server_default=None,
                        existing_type=sa.String(length=100), existing_nullable=False)
        op.alter_column("staff", "failed_logins", server_default=None,
                        existing_type=sa.Integer(), existing_nullable=False)
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_api_tokens_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_index(op.f('ix_api_tokens_staff_id'), 'api_tokens', ['staff_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_api_tokens_staff_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    with op.batch_alter_table("staff") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
        batch.drop_column("password_hash")
        batch.drop_column("role")
