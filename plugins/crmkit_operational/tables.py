"""operational's tables: leads, opportunities, stage history, tasks, cases, automation."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from crmkit.plugin import NAMING, BigIdType, JSONType, Money, UTCDateTime, customers

metadata = MetaData(naming_convention=NAMING)


leads = Table(
    "operational_leads", metadata,
    Column("customer_id", Integer, ForeignKey(customers.c.id), primary_key=True),
    Column("stage", String(40), nullable=False),
    Column("score", Float, nullable=False, default=0.0),
    Column("scored_at", UTCDateTime),
    Column("owner", String(100)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("hits", LargeBinary),
    Column("source", String(200)),
    Index("ix_operational_leads_stage", "stage"),
)
"""One row per customer in the lead funnel: stage (lead, mql, sal, sql, disqualified), score, owner,
the scoring hits the score was summed from (packed, see :mod:`.hits`; NULL: not known), and
where the lead came from (``crmkit_lead_sources``, e.g. ``campaign spring``; NULL: not known)."""

opportunities = Table(
    "operational_opportunities", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey(customers.c.id), nullable=False, index=True),
    Column("name", String(300), nullable=False),
    Column("stage", String(40), nullable=False),
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("owner", String(100)),
    Column("expected_close", Date),
    Column("renewal_of", Integer, ForeignKey("operational_opportunities.id")),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
)

stage_history = Table(
    "operational_stage_history", metadata,
    Column("id", BigIdType, primary_key=True),
    Column("entity", String(20), nullable=False),
    Column("record_id", Integer, nullable=False),
    Column("customer_id", Integer, ForeignKey(customers.c.id), nullable=False, index=True),
    Column("from_stage", String(40)),
    Column("to_stage", String(40), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Index("ix_operational_stage_history_record", "entity", "record_id", "at"),
)

cursors = Table(
    "operational_cursors", metadata,
    Column("team", String(100), primary_key=True),
    Column("last_handle", String(100)),
    Column("current", JSONType, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""Assignment state per team: the last handle (round robin), current weights (weighted)."""

assignments = Table(
    "operational_assignments", metadata,
    Column("id", BigIdType, primary_key=True),
    Column("customer_id", Integer, ForeignKey(customers.c.id), nullable=False, index=True),
    Column("team", String(100), nullable=False),
    Column("assignee", String(100)),
    Column("subject", String(300), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
"""Every assignment decision (and failure: assignee null)."""

tasks = Table(
    "operational_tasks", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey(customers.c.id), nullable=False, index=True),
    Column("subject", String(300), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("assignee", String(100), index=True),
    Column("due_at", UTCDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("source", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime),
    Index("ix_operational_tasks_status_due", "status", "due_at"),
)

cases = Table(
    "operational_cases", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey(customers.c.id), nullable=False, index=True),
    Column("subject", String(300), nullable=False),
    Column("priority", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("source", String(100)),
    Column("interaction_id", BigIdType, unique=True),
    Column("assignee", String(100), index=True),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("first_response_due", UTCDateTime, nullable=False),
    Column("resolution_due", UTCDateTime, nullable=False),
    Column("first_response_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("first_response_breached_at", UTCDateTime),
    Column("resolution_breached_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_operational_cases_status", "status"),
)

case_history = Table(
    "operational_case_history", metadata,
    Column("id", BigIdType, primary_key=True),
    Column("case_id", Integer, ForeignKey("operational_cases.id"), nullable=False, index=True),
    Column("customer_id", Integer, ForeignKey(customers.c.id), nullable=False, index=True),
    Column("from_status", String(20)),
    Column("to_status", String(20), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
)

firings = Table(
    "operational_firings", metadata,
    Column("id", BigIdType, primary_key=True),
    Column("rule", String(100), nullable=False),
    Column("trigger_type", String(100), nullable=False),
    Column("trigger_kind", String(20), nullable=False),
    Column("trigger_id", BigIdType, nullable=False),
    Column("customer_id", Integer, ForeignKey(customers.c.id), index=True),
    Column("chain_depth", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("triggered_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("fired_at", UTCDateTime),
    Column("actions", JSONType, nullable=False),
    Column("outcome", Text),
    UniqueConstraint("rule", "trigger_kind", "trigger_id", name="uq_operational_firings_key"),
    Index("ix_operational_firings_status_due", "status", "due_at"),
    Index("ix_operational_firings_rule_customer", "rule", "customer_id", "fired_at"),
)
"""Every rule firing: waiting, fired, cancelled (unless), cooldown, stopped (chain), failed."""

score_coverage = Table(
    "operational_score_coverage", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("fingerprint", String(64), nullable=False),
    Column("times_enabled", Integer, nullable=False),
)
"""One row (``id`` 1) saying what the leads' stored hits were made under: the rules'
fingerprint and the plugin's ``times_enabled`` (see :mod:`.hits`)."""

ALL = [leads, opportunities, stage_history, cursors, assignments, tasks, cases, case_history,
       firings, score_coverage]
