"""core: consent and customers' preferred channels are kept under lower-case channel names.

Consent used to be recorded under the channel name as typed, so a withdrawal on ``Email``
left the grant on ``email`` in force.  Each customer's decisions on names that are one
channel once spaces are trimmed and case is lowered become one decision under that name:
the latest recorded (on a tie, a withdrawal).  A preferred channel ``Email`` becomes
``email``, the channel campaigns compare it with.  Downgrading keeps the lower-case names.

Revision ID: core_0012
Revises: core_0011
"""

import sqlalchemy as sa
from alembic import op

from crmkit.types import UTCDateTime

revision = "core_0012"
down_revision = "core_0011"
branch_labels = None
depends_on = None

customers = sa.table("customers", sa.column("preferred_channel", sa.String()))
consents = sa.table("consents", sa.column("customer_id", sa.Integer()),
                    sa.column("channel", sa.String()), sa.column("granted", sa.Boolean()),
                    sa.column("source", sa.String()), sa.column("recorded_at", UTCDateTime))


def _lower(channel: str) -> str:
    return channel.strip().lower()


def upgrade() -> None:
    conn = op.get_bind()
    preferred = customers.c.preferred_channel
    for (channel,) in conn.execute(
            sa.select(preferred).distinct().where(preferred.is_not(None))).all():
        if channel != _lower(channel):
            conn.execute(sa.update(customers).where(preferred == channel)
                         .values(preferred_channel=_lower(channel) or None))
    mixed = {customer_id for customer_id, channel in conn.execute(
        sa.select(consents.c.customer_id, consents.c.channel)) if channel != _lower(channel)}
    for customer_id in sorted(mixed):
        decisions: dict[str, tuple] = {}
        for row in conn.execute(sa.select(consents).where(consents.c.customer_id == customer_id)):
            name, key = _lower(row.channel), (row.recorded_at, not row.granted)
            if name not in decisions or key > decisions[name][0]:
                decisions[name] = (key, row)
        conn.execute(sa.delete(consents).where(consents.c.customer_id == customer_id))
        conn.execute(sa.insert(consents), [
            {"customer_id": customer_id, "channel": name, "granted": row.granted,
             "source": row.source, "recorded_at": row.recorded_at}
            for name, (_, row) in sorted(decisions.items())])


def downgrade() -> None:
    """Nothing to undo: the lower-case names are valid names before this revision too."""
