"""testvendor's tables: per-customer purchase counts and notes."""

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

from crmkit.plugin import NAMING, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

counts = Table(
    "testvendor_counts", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("purchases", Integer, nullable=False),
)

notes = Table(
    "testvendor_notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("note", String(500), nullable=False),
    Column("author_email", String(320)),
    Column("created_at", UTCDateTime, nullable=False),
)

ALL = [counts, notes]
