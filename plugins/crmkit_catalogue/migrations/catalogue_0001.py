"""catalogue: categories, products, line items, saved offer lists.

Revision ID: catalogue_0001
"""

import sqlalchemy as sa
from alembic import op

from crmkit.plugin import BigIdType as ID, JSONType as JSON

revision = "catalogue_0001"
down_revision = None
branch_labels = ("catalogue",)
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "catalogue_categories",
        sa.Column("path", sa.String(200), primary_key=True),
        sa.Column("parent", sa.String(200), sa.ForeignKey("catalogue_categories.path")),
        sa.Column("name", sa.String(100), nullable=False),
    )
    op.create_table(
        "catalogue_products",
        sa.Column("sku", sa.String(60), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("category", sa.String(200), sa.ForeignKey("catalogue_categories.path"),
                  nullable=False),
        sa.Column("list_price", sa.BigInteger, nullable=False),
        sa.Column("unit_cost", sa.BigInteger, nullable=False),
        sa.Column("active_from", TIME),
        sa.Column("active_to", TIME),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.CheckConstraint("list_price >= 0",
                           name="ck_catalogue_products_list_price_not_negative"),
        sa.CheckConstraint("unit_cost >= 0", name="ck_catalogue_products_unit_cost_not_negative"),
    )
    op.create_index("ix_catalogue_products_category", "catalogue_products", ["category"])
    op.create_table(
        "catalogue_items",
        sa.Column("id", ID, primary_key=True),
        sa.Column("interaction_id", ID, sa.ForeignKey("interactions.id"), nullable=False),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("occurred_at", TIME, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("sku", sa.String(60), sa.ForeignKey("catalogue_products.sku"), nullable=False),
        sa.Column("qty_units", sa.BigInteger, nullable=False),
        sa.Column("total_units", sa.BigInteger, nullable=False),
        sa.Column("cost_units", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_catalogue_items_interaction_id", "catalogue_items", ["interaction_id"])
    op.create_index("ix_catalogue_items_customer_id_occurred_at", "catalogue_items",
                    ["customer_id", "occurred_at"])
    op.create_table(
        "catalogue_offer_lists",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("as_of", TIME, nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
    )
    op.create_table(
        "catalogue_offers",
        sa.Column("list_name", sa.String(100), sa.ForeignKey("catalogue_offer_lists.name"),
                  primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), primary_key=True),
        sa.Column("rank", sa.Integer, primary_key=True),
        sa.Column("sku", sa.String(60), sa.ForeignKey("catalogue_products.sku"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.CheckConstraint("kind IN ('cross', 'up')", name="ck_catalogue_offers_kind"),
    )
    op.create_index("ix_catalogue_offers_customer_id", "catalogue_offers", ["customer_id"])


def downgrade() -> None:
    op.drop_table("catalogue_offers")
    op.drop_table("catalogue_offer_lists")
    op.drop_table("catalogue_items")
    op.drop_table("catalogue_products")
    op.drop_table("catalogue_categories")
