"""broken's table: notes about customers."""

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table

from crmkit.plugin import NAMING

metadata = MetaData(naming_convention=NAMING)

notes = Table(
    "broken_notes", metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("note", String(200), nullable=False),
)
