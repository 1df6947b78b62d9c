"""idic's tables: differentiation runs and groups, dialogues, treatments and their members.

Every table holding customer data carries ``customer_id`` (FK customers.id) so
that merge, export and erase reach it through the plugin's hooks.
"""

from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table

from crmkit.plugin import NAMING, JSONType, Money, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

runs = Table(
    "idic_runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("as_of", UTCDateTime, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("settings", JSONType, nullable=False),
    Column("counts", JSONType, nullable=False),
)
"""One differentiation run: when it was computed for, with which shares, and its group sizes."""

groups = Table(
    "idic_groups", metadata,
    Column("run_id", Integer, ForeignKey("idic_runs.id"), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True, index=True),
    Column("value_group", String(20), nullable=False),
    Column("needs_group", String(100)),
    Column("current_value", Money, nullable=False),
    Column("potential_value", Money, nullable=False),
    Column("cost_to_serve", Money, nullable=False),
)
"""Each customer's value group (MVC, MGC, BZ, maintain) and needs group in one run."""

dialogues = Table(
    "idic_dialogues", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("channel", String(40), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("plan_group", String(100)),
    Column("summary", String(2000)),
    Column("actor", String(200), nullable=False),
)
"""Dialogues held under a contact plan (who, when, on which channel, what was said)."""

treatments = Table(
    "idic_treatments", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("group_name", String(100), nullable=False),
    Column("type", String(20), nullable=False),
    Column("detail", String(500), nullable=False),
    Column("holdout_share", Float, nullable=False),
    Column("start_at", UTCDateTime, nullable=False),
    Column("end_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
)
"""A customisation (offer, service level or channel) for one group, with its holdout share."""

members = Table(
    "idic_treatment_members", metadata,
    Column("treatment_id", Integer, ForeignKey("idic_treatments.id"), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True, index=True),
    Column("holdout", Boolean, nullable=False),
    Column("assigned_at", UTCDateTime, nullable=False),
)
"""Who a treatment reached (``holdout`` false) or deliberately left out (true), and since when."""

dismissed = Table(
    "idic_dismissed_pairs", metadata,
    Column("first_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("second_id", Integer, ForeignKey("customers.id"), primary_key=True, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
)
"""Candidate duplicate pairs a person checked and declared different (first_id < second_id)."""

ALL = [runs, groups, dialogues, treatments, members, dismissed]
