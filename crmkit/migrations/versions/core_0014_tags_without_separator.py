"""core: no tag is blank or holds ';', the separator of tags in CSV files.

A tag could hold ``;`` (``--tag "a;b"``), which an export wrote into the tags cell and an
import then read as two tags, ``a`` and ``b``; a tag of spaces only was kept as an empty
tag.  Such tags are refused on write now.  Stored ones become what the export and import
would make of them: a tag holding ``;`` is split there into its parts, spaces around each
dropped, and blank tags are removed (the tags stay sorted, each once).  Downgrading keeps
the tags as they are.

Revision ID: core_0014
Revises: core_0013
"""

import sqlalchemy as sa
from alembic import op

from crmkit.types import TAG_SEPARATOR, JSONType

revision = "core_0014"
down_revision = "core_0013"
branch_labels = None
depends_on = None

customers = sa.table("customers", sa.column("id", sa.Integer()), sa.column("tags", JSONType))


def upgrade() -> None:
    conn = op.get_bind()
    stored = sa.cast(customers.c.tags, sa.Text)
    suspects = conn.execute(sa.select(customers.c.id, customers.c.tags).where(
        sa.or_(stored.contains(TAG_SEPARATOR, autoescape=True), stored.contains('""')))).all()
    for customer_id, tags in suspects:
        kept = sorted({part.strip() for tag in tags for part in tag.split(TAG_SEPARATOR)}
                      - {""})
        if kept != tags:
            conn.execute(sa.update(customers).where(customers.c.id == customer_id)
                         .values(tags=kept))


def downgrade() -> None:
    """Nothing to undo: the tags kept are valid tags before this revision too."""
