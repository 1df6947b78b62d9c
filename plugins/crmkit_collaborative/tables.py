"""collaborative's tables: work items, their hand-offs and history, outbound contacts."""

from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table

from crmkit.plugin import NAMING, BigIdType, UTCDateTime

metadata = MetaData(naming_convention=NAMING)


work_items = Table(
    "collaborative_work_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("interaction_id", BigIdType, ForeignKey("interactions.id"), nullable=False,
           unique=True),
    Column("team", String(100), nullable=False),
    Column("state", String(20), nullable=False),
    Column("assignee", String(100)),
    Column("rule", String(200), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_collaborative_work_items_team_state", "team", "state"),
)
"""One routed interaction to be handled by a team: queued → assigned → in_progress → done."""

handoffs = Table(
    "collaborative_handoffs", metadata,
    Column("id", Integer, primary_key=True),
    Column("work_item_id", Integer, ForeignKey("collaborative_work_items.id"), nullable=False,
           index=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("from_team", String(100), nullable=False),
    Column("to_team", String(100), nullable=False),
    Column("note", String(2000), nullable=False),
    Column("by", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("ack_due_at", UTCDateTime),
    Column("acknowledged_at", UTCDateTime),
    Column("acknowledged_by", String(200)),
    Column("escalated_at", UTCDateTime),
    Index("ix_collaborative_handoffs_pending", "escalated_at", "acknowledged_at", "ack_due_at"),
)
"""The chain of hand-offs (kind ``handoff``) and escalations (kind ``escalation``) of work items."""

history = Table(
    "collaborative_history", metadata,
    Column("id", Integer, primary_key=True),
    Column("work_item_id", Integer, ForeignKey("collaborative_work_items.id"), nullable=False,
           index=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(30), nullable=False),
    Column("from_state", String(20)),
    Column("to_state", String(20), nullable=False),
    Column("team", String(100), nullable=False),
    Column("assignee", String(100)),
    Column("handoff_id", Integer, ForeignKey("collaborative_handoffs.id")),
)
"""Every change of a work item: routed, assigned, started, done, handed_off, acknowledged, escalated."""

contacts = Table(
    "collaborative_contacts", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("interaction_id", BigIdType, ForeignKey("interactions.id"), nullable=False),
    Column("work_item_id", Integer, ForeignKey("collaborative_work_items.id")),
    Column("channel", String(40), nullable=False),
    Column("preferred_channel", String(40)),
    Column("override_reason", String(1000)),
    Column("subject", String(300), nullable=False),
    Column("by", String(200), nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
"""Outbound contacts; ``override_reason`` is set when the channel was not the preferred one."""

ALL = [work_items, handoffs, history, contacts]
