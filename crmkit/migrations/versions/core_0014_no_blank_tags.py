"""core: no tag is blank.

A tag of spaces only (``--tag " "``) was kept as an empty tag; blank tags are refused on
write now, and the stored ones are removed (the tags stay sorted, each once).  Downgrading
keeps the tags as they are.

Revision ID: core_0014
Revises: core_0013
"""

import sqlalchemy as sa
from alembic import op

from crmkit.types import JSONType

revision = "core_0014"
down_revision = "core_0013"
branch_labels = None
depends_on = None

customers = sa.table("customers", sa.column("id", sa.Integer()), sa.column("tags", JSONType))


def upgrade() -> None:
    conn = op.get_bind()
    suspects = conn.execute(sa.select(customers.c.id, customers.c.tags).where(
        sa.cast(customers.c.tags, sa.Text).contains('""'))).all()  # an empty text, or a quote
    for customer_id, tags in suspects:
        kept = sorted({tag.strip() for tag in tags} - {""})
        if kept != tags:
            conn.execute(sa.update(customers).where(customers.c.id == customer_id)
                         .values(tags=kept))


def downgrade() -> None:
    """Nothing to undo: the tags kept are valid tags before this revision too."""
