"""valuechain's tables: SSCs, stage completions, network, propositions, actions, ratings."""

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

from crmkit.plugin import NAMING, JSONType, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

ssc = Table(
    "valuechain_ssc", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("reasons", JSONType, nullable=False),
    Column("ssc_group", String(100), nullable=False),
    Column("note", String(1000)),
    Column("marked_at", UTCDateTime, nullable=False),
    Column("marked_by", String(200), nullable=False),
)
"""Strategically significant customers: why (reasons) and in which SSC group."""

stages = Table(
    "valuechain_stages", metadata,
    Column("stage", Integer, primary_key=True),
    Column("completed_at", UTCDateTime, nullable=False),
    Column("completed_by", String(200), nullable=False),
    Column("evidence", JSONType, nullable=False),
)
"""Completed primary stages (1–5) with the check's evidence at completion."""

network = Table(
    "valuechain_network", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("name", String(300), nullable=False),
    Column("role", String(1000), nullable=False),
    Column("ssc_group", String(100)),
    Column("customer_id", Integer, ForeignKey("customers.id"), index=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(200), nullable=False),
)
"""Network members (supplier, partner, employee, owner) and their role towards the SSCs."""

propositions = Table(
    "valuechain_propositions", metadata,
    Column("ssc_group", String(100), primary_key=True),
    Column("proposition", String(2000), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(200), nullable=False),
)
"""The value proposition for each SSC group."""

actions = Table(
    "valuechain_actions", metadata,
    Column("id", Integer, primary_key=True),
    Column("ssc_group", String(100), nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("recorded_by", String(200), nullable=False),
)
"""Customer lifecycle actions (acquisition, retention, development) per SSC group."""

ratings = Table(
    "valuechain_ratings", metadata,
    Column("id", Integer, primary_key=True),
    Column("condition", String(40), nullable=False, index=True),
    Column("rating", Integer, nullable=False),
    Column("note", String(1000)),
    Column("rated_at", UTCDateTime, nullable=False),
    Column("rated_by", String(200), nullable=False),
)
"""Ratings (1–5) of the supporting conditions; the latest per condition counts."""

ALL = [ssc, stages, network, propositions, actions, ratings]
