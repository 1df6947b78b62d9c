"""assessment's table: every assessment taken, with its answers, scores and evidence."""

from sqlalchemy import Column, Integer, MetaData, String, Table

from crmkit.plugin import NAMING, JSONType, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

runs = Table(
    "assessment_runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("taken_at", UTCDateTime, nullable=False, index=True),
    Column("recorded_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("answers", JSONType, nullable=False),
    Column("scores", JSONType, nullable=False),
    Column("band", String(20), nullable=False),
    Column("evidence", JSONType, nullable=False),
    Column("note", String(2000)),
)
"""One assessment: when, who, the answers, the part scores and band, the evidence found."""

ALL = [runs]
