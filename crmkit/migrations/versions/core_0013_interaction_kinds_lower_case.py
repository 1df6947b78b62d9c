"""core: interaction kinds are kept in lower case.

Kinds used to be stored as typed, so a purchase imported as ``Purchase`` was not counted by
anything configured with ``purchase`` (RFM, CLV, loyalty, lead scores), without a word.
Every stored kind becomes the one :func:`crmkit.types.interaction_kind` gives (spaces
around it dropped, lower case; an empty one is ``purchase``, the default kind).  A
configuration naming kinds is read the same way (``format`` ``interaction-kind``), so it
needs no change.  Downgrading keeps the lower-case kinds.

Revision ID: core_0013
Revises: core_0012
"""

import sqlalchemy as sa
from alembic import op

from crmkit.types import interaction_kind

revision = "core_0013"
down_revision = "core_0012"
branch_labels = None
depends_on = None

interactions = sa.table("interactions", sa.column("kind", sa.String()))


def upgrade() -> None:
    conn = op.get_bind()
    kind = interactions.c.kind
    for (typed,) in conn.execute(sa.select(kind).distinct()).all():
        kept = interaction_kind(typed) or "purchase"
        if kept != typed:
            conn.execute(sa.update(interactions).where(kind == typed).values(kind=kept))


def downgrade() -> None:
    """Nothing to undo: the lower-case kinds are valid kinds before this revision too."""
