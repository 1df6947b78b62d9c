"""campaigns: the tables take the plugin's prefix (campaigns_campaigns, campaigns_variants,
campaigns_recipients), as ``crmkit plugins check`` requires of every plugin table.

The rows stay where they are (ALTER TABLE … RENAME; the foreign keys of the other tables
follow on both databases).  The recipients' customer index is renamed too; on PostgreSQL the
named unique and check constraints and the primary keys are renamed to what the naming
convention gives the new tables (SQLite keeps a constraint's name only in the table's
CREATE text, where it has no effect).

Revision ID: campaigns_0003
Revises: campaigns_0002
"""

from alembic import op

revision = "campaigns_0003"
down_revision = "campaigns_0002"
branch_labels = None
depends_on = None

TABLES = [("campaigns", "campaigns_campaigns"), ("campaign_variants", "campaigns_variants"),
          ("campaign_recipients", "campaigns_recipients")]
"""(old name, new name) of each renamed table."""

INDEX = ("ix_campaign_recipients_customer_id", "ix_campaigns_recipients_customer_id")

CONSTRAINTS = [  # (new table, old name, new name): PostgreSQL only
    ("campaigns_campaigns", "campaigns_pkey", "pk_campaigns_campaigns"),
    ("campaigns_campaigns", "uq_campaigns_name", "uq_campaigns_campaigns_name"),
    ("campaigns_campaigns", "ck_campaigns_holdout_fraction",
     "ck_campaigns_campaigns_holdout_fraction"),
    ("campaigns_campaigns", "ck_campaigns_cost_fixed_not_negative",
     "ck_campaigns_campaigns_cost_fixed_not_negative"),
    ("campaigns_campaigns", "ck_campaigns_cost_per_message_not_negative",
     "ck_campaigns_campaigns_cost_per_message_not_negative"),
    ("campaigns_campaigns", "ck_campaigns_status", "ck_campaigns_campaigns_status"),
    ("campaigns_variants", "campaign_variants_pkey", "pk_campaigns_variants"),
    ("campaigns_variants", "ck_campaign_variants_share", "ck_campaigns_variants_share"),
    ("campaigns_recipients", "campaign_recipients_pkey", "pk_campaigns_recipients"),
    ("campaigns_recipients", "uq_campaign_recipients_campaign",
     "uq_campaigns_recipients_campaign"),
    ("campaigns_recipients", "ck_campaign_recipients_status", "ck_campaigns_recipients_status"),
]


def upgrade() -> None:
    for old, new in TABLES:
        op.rename_table(old, new)
    _rename_index("campaigns_recipients", *INDEX)
    if op.get_bind().dialect.name == "postgresql":
        for table, old, new in CONSTRAINTS:
            op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT "{old}" TO "{new}"')


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, old, new in CONSTRAINTS:
            op.execute(f'ALTER TABLE {table} RENAME CONSTRAINT "{new}" TO "{old}"')
    _rename_index("campaigns_recipients", *reversed(INDEX))
    for old, new in TABLES:
        op.rename_table(new, old)


def _rename_index(table: str, old: str, new: str) -> None:
    """PostgreSQL renames an index in place; SQLite has no such statement (drop and create)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER INDEX "{old}" RENAME TO "{new}"')
    else:
        op.drop_index(old, table_name=table)
        op.create_index(new, table, ["customer_id"])
