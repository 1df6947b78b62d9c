"""relcheck's tables: one react row per interaction, a counter per customer, profile copies."""

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, String, Table

from crmkit.plugin import NAMING

metadata = MetaData(naming_convention=NAMING)
ID = BigInteger().with_variant(Integer, "sqlite")

reacts = Table(
    "relcheck_reacts", metadata,
    Column("interaction_id", ID, ForeignKey("interactions.id"), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False, index=True),
    Column("batch_first", ID, nullable=False),
    Column("batch_last", ID, nullable=False),
)

counts = Table(
    "relcheck_counts", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("reacts", Integer, nullable=False),
)

profiles = Table(
    "relcheck_profiles", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("name", String(300)),
    Column("email", String(320)),
)

ALL = [reacts, counts, profiles]
