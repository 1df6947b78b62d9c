"""core: the base schema (customers, interactions, staff, events, plugin state, settings, audit, consent, privacy requests).

Revision ID: core_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crmkit.types import BigIdType, JSONType as JSON_TYPE

revision = "core_0001"
down_revision = None
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', BigIdType, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('table_name', sa.String(length=100), nullable=False),
    sa.Column('record_key', sa.String(length=200), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('changes', JSON_TYPE, nullable=False),
    sa.Column('command', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index(op.f('ix_audit_log_customer_id'), 'audit_log', ['customer_id'], unique=False)
    op.create_table('customers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('preferred_channel', sa.String(length=40), nullable=True),
    sa.Column('lifecycle_stage', sa.String(length=40), nullable=True),
    sa.Column('tags', JSON_TYPE, nullable=False),
    sa.Column('attributes', JSON_TYPE, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['customers.id'], name=op.f('fk_customers_organisation_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('external_id', name=op.f('uq_customers_external_id'))
    )
    op.create_index(op.f('ix_customers_email'), 'customers', ['email'], unique=False)
    op.create_index(op.f('ix_customers_organisation_id'), 'customers', ['organisation_id'], unique=False)
    op.create_table('events',
    sa.Column('id', BigIdType, nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('payload', JSON_TYPE, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    op.create_index(op.f('ix_events_customer_id'), 'events', ['customer_id'], unique=False)
    op.create_index('ix_events_type_id', 'events', ['type', 'id'], unique=False)
    op.create_table('plugin_state',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('version', sa.String(length=50), nullable=False),
    sa.Column('config', JSON_TYPE, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_plugin_state'))
    )
    op.create_table('privacy_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('details', JSON_TYPE, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_requests'))
    )
    op.create_index(op.f('ix_privacy_requests_customer_id'), 'privacy_requests', ['customer_id'], unique=False)
    op.create_table('settings',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', JSON_TYPE, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_settings'))
    )
    op.create_table('staff',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handle', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('team', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff')),
    sa.UniqueConstraint('handle', name=op.f('uq_staff_handle'))
    )
    op.create_index(op.f('ix_staff_team'), 'staff', ['team'], unique=False)
    op.create_table('consents',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_consents_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', 'channel', name=op.f('pk_consents'))
    )
    op.create_table('interactions',
    sa.Column('id', BigIdType, nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('payload', JSON_TYPE, nullable=True),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_interactions_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_interactions')),
    sa.UniqueConstraint('external_id', name=op.f('uq_interactions_external_id'))
    )
    op.create_index('ix_interactions_customer_occurred', 'interactions', ['customer_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_interactions_customer_occurred', table_name='interactions')
    op.drop_table('interactions')
    op.drop_table('consents')
    op.drop_index(op.f('ix_staff_team'), table_name='staff')
    op.drop_table('staff')
    op.drop_table('settings')
    op.drop_index(op.f('ix_privacy_requests_customer_id'), table_name='privacy_requests')
    op.drop_table('privacy_requests')
    op.drop_table('plugin_state')
    op.drop_index('ix_events_type_id', table_name='events')
    op.drop_index(op.f('ix_events_customer_id'), table_name='events')
    op.drop_table('events')
    op.drop_index(op.f('ix_customers_organisation_id'), table_name='customers')
    op.drop_index(op.f('ix_customers_email'), table_name='customers')
    op.drop_table('customers')
    op.drop_index(op.f('ix_audit_log_customer_id'), table_name='audit_log')
    op.drop_table('audit_log')
