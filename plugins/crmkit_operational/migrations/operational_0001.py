"""operational: leads, opportunities, stage history, assignment, tasks, cases, automation, outbox.

Revision ID: operational_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import BigIdType as ID_TYPE, JSONType as JSON_TYPE

revision = "operational_0001"
down_revision = None
branch_labels = ("operational",)
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table("operational_assignments",
    sa.Column("id", ID_TYPE, nullable=False),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("team", sa.String(100), nullable=False),
    sa.Column("assignee", sa.String(100), nullable=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("at", TIME, nullable=False),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_assignments_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_assignments"))
    )
    op.create_index(op.f("ix_operational_assignments_customer_id"), "operational_assignments", ["customer_id"], unique=False)
    op.create_table("operational_cases",
    sa.Column("id", sa.Integer, nullable=False),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("priority", sa.String(10), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("source", sa.String(100), nullable=True),
    sa.Column("interaction_id", ID_TYPE, nullable=True),
    sa.Column("assignee", sa.String(100), nullable=True),
    sa.Column("opened_at", TIME, nullable=False),
    sa.Column("first_response_due", TIME, nullable=False),
    sa.Column("resolution_due", TIME, nullable=False),
    sa.Column("first_response_at", TIME, nullable=True),
    sa.Column("resolved_at", TIME, nullable=True),
    sa.Column("closed_at", TIME, nullable=True),
    sa.Column("first_response_breached_at", TIME, nullable=True),
    sa.Column("resolution_breached_at", TIME, nullable=True),
    sa.Column("updated_at", TIME, nullable=False),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_cases_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_cases")),
    sa.UniqueConstraint("interaction_id", name=op.f("uq_operational_cases_interaction_id"))
    )
    op.create_index(op.f("ix_operational_cases_assignee"), "operational_cases", ["assignee"], unique=False)
    op.create_index(op.f("ix_operational_cases_customer_id"), "operational_cases", ["customer_id"], unique=False)
    op.create_index("ix_operational_cases_status", "operational_cases", ["status"], unique=False)
    op.create_table("operational_cursors",
    sa.Column("team", sa.String(100), nullable=False),
    sa.Column("last_handle", sa.String(100), nullable=True),
    sa.Column("current", JSON_TYPE, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.PrimaryKeyConstraint("team", name=op.f("pk_operational_cursors"))
    )
    op.create_table("operational_firings",
    sa.Column("id", ID_TYPE, nullable=False),
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("trigger_type", sa.String(100), nullable=False),
    sa.Column("trigger_kind", sa.String(20), nullable=False),
    sa.Column("trigger_id", ID_TYPE, nullable=False),
    sa.Column("customer_id", sa.Integer, nullable=True),
    sa.Column("chain_depth", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("triggered_at", TIME, nullable=False),
    sa.Column("due_at", TIME, nullable=False),
    sa.Column("fired_at", TIME, nullable=True),
    sa.Column("actions", JSON_TYPE, nullable=False),
    sa.Column("outcome", sa.Text, nullable=True),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_firings_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_firings")),
    sa.UniqueConstraint("rule", "trigger_kind", "trigger_id", name="uq_operational_firings_key")
    )
    op.create_index(op.f("ix_operational_firings_customer_id"), "operational_firings", ["customer_id"], unique=False)
    op.create_index("ix_operational_firings_rule_customer", "operational_firings", ["rule", "customer_id", "fired_at"], unique=False)
    op.create_index("ix_operational_firings_status_due", "operational_firings", ["status", "due_at"], unique=False)
    op.create_table("operational_leads",
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("scored_at", TIME, nullable=True),
    sa.Column("owner", sa.String(100), nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.Column("hits", sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_leads_customer_id_customers")),
    sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_operational_leads"))
    )
    op.create_index("ix_operational_leads_stage", "operational_leads", ["stage"], unique=False)
    op.create_table("operational_opportunities",
    sa.Column("id", sa.Integer, nullable=False),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("stage", sa.String(40), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("owner", sa.String(100), nullable=True),
    sa.Column("expected_close", sa.Date, nullable=True),
    sa.Column("renewal_of", sa.Integer, nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("updated_at", TIME, nullable=False),
    sa.Column("closed_at", TIME, nullable=True),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_opportunities_customer_id_customers")),
    sa.ForeignKeyConstraint(["renewal_of"], ["operational_opportunities.id"], name=op.f("fk_operational_opportunities_renewal_of_operational_opportunities")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_opportunities"))
    )
    op.create_index(op.f("ix_operational_opportunities_customer_id"), "operational_opportunities", ["customer_id"], unique=False)
    op.create_table("operational_outbox",
    sa.Column("id", ID_TYPE, nullable=False),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("channel", sa.String(40), nullable=True),
    sa.Column("template", sa.String(200), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("reason", sa.String(300), nullable=True),
    sa.Column("rule", sa.String(100), nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_outbox_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_outbox"))
    )
    op.create_index(op.f("ix_operational_outbox_customer_id"), "operational_outbox", ["customer_id"], unique=False)
    op.create_table("operational_stage_history",
    sa.Column("id", ID_TYPE, nullable=False),
    sa.Column("entity", sa.String(20), nullable=False),
    sa.Column("record_id", sa.Integer, nullable=False),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("from_stage", sa.String(40), nullable=True),
    sa.Column("to_stage", sa.String(40), nullable=False),
    sa.Column("at", TIME, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_stage_history_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_stage_history"))
    )
    op.create_index(op.f("ix_operational_stage_history_customer_id"), "operational_stage_history", ["customer_id"], unique=False)
    op.create_index("ix_operational_stage_history_record", "operational_stage_history", ["entity", "record_id", "at"], unique=False)
    op.create_table("operational_tasks",
    sa.Column("id", sa.Integer, nullable=False),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("assignee", sa.String(100), nullable=True),
    sa.Column("due_at", TIME, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("source", sa.String(200), nullable=True),
    sa.Column("created_at", TIME, nullable=False),
    sa.Column("closed_at", TIME, nullable=True),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_tasks_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_tasks"))
    )
    op.create_index(op.f("ix_operational_tasks_assignee"), "operational_tasks", ["assignee"], unique=False)
    op.create_index(op.f("ix_operational_tasks_customer_id"), "operational_tasks", ["customer_id"], unique=False)
    op.create_index("ix_operational_tasks_status_due", "operational_tasks", ["status", "due_at"], unique=False)
    op.create_table("operational_case_history",
    sa.Column("id", ID_TYPE, nullable=False),
    sa.Column("case_id", sa.Integer, nullable=False),
    sa.Column("customer_id", sa.Integer, nullable=False),
    sa.Column("from_status", sa.String(20), nullable=True),
    sa.Column("to_status", sa.String(20), nullable=False),
    sa.Column("at", TIME, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.ForeignKeyConstraint(["case_id"], ["operational_cases.id"], name=op.f("fk_operational_case_history_case_id_operational_cases")),
    sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_operational_case_history_customer_id_customers")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_operational_case_history"))
    )
    op.create_index(op.f("ix_operational_case_history_case_id"), "operational_case_history", ["case_id"], unique=False)
    op.create_index(op.f("ix_operational_case_history_customer_id"), "operational_case_history", ["customer_id"], unique=False)
    op.create_table("operational_score_coverage",
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("through_id", ID_TYPE, nullable=False),
    sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_operational_score_coverage"))
    )


def downgrade() -> None:
    op.drop_table("operational_score_coverage")

    op.drop_index(op.f("ix_operational_case_history_customer_id"), table_name="operational_case_history")
    op.drop_index(op.f("ix_operational_case_history_case_id"), table_name="operational_case_history")
    op.drop_table("operational_case_history")
    op.drop_index("ix_operational_tasks_status_due", table_name="operational_tasks")
    op.drop_index(op.f("ix_operational_tasks_customer_id"), table_name="operational_tasks")
    op.drop_index(op.f("ix_operational_tasks_assignee"), table_name="operational_tasks")
    op.drop_table("operational_tasks")
    op.drop_index("ix_operational_stage_history_record", table_name="operational_stage_history")
    op.drop_index(op.f("ix_operational_stage_history_customer_id"), table_name="operational_stage_history")
    op.drop_table("operational_stage_history")
    op.drop_index(op.f("ix_operational_outbox_customer_id"), table_name="operational_outbox")
    op.drop_table("operational_outbox")
    op.drop_index(op.f("ix_operational_opportunities_customer_id"), table_name="operational_opportunities")
    op.drop_table("operational_opportunities")
    op.drop_index("ix_operational_leads_stage", table_name="operational_leads")
    op.drop_table("operational_leads")
    op.drop_index("ix_operational_firings_status_due", table_name="operational_firings")
    op.drop_index("ix_operational_firings_rule_customer", table_name="operational_firings")
    op.drop_index(op.f("ix_operational_firings_customer_id"), table_name="operational_firings")
    op.drop_table("operational_firings")
    op.drop_table("operational_cursors")
    op.drop_index("ix_operational_cases_status", table_name="operational_cases")
    op.drop_index(op.f("ix_operational_cases_customer_id"), table_name="operational_cases")
    op.drop_index(op.f("ix_operational_cases_assignee"), table_name="operational_cases")
    op.drop_table("operational_cases")
    op.drop_index(op.f("ix_operational_assignments_customer_id"), table_name="operational_assignments")
    op.drop_table("operational_assignments")
