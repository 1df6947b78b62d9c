"""What the sweep stores: lifecycle stages (``lifecycle.update_on_sweep``) and RFM scores
(``rfm.store_on_sweep``), each computed in SQL over every customer.

The computing is the slow part, so it runs before the sweep's write transaction
(:func:`prepare`, the ``crmkit_sweep_prepare`` hook, from the sweep's read snapshot) and
other writers do not wait for it; :func:`write` then stores what changed, leaving out the
customers merged or erased in between (:func:`.sql.current_customers`).  Purchases recorded in
between count at the next sweep, as they would had the sweep run a moment earlier.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from . import lifecycle, rfm
from .settings import Settings, settings_of
from .sql import current_customers, last_event_id, still_current


@attrs.frozen
class Prepared:
    """What :func:`prepare` read: at ``as_of``, with ``settings``, when the newest event was
    ``last_event``, the stages and the scores to store (None: computed in the transaction)."""

    as_of: dt.datetime
    settings: Settings
    last_event: int = 0
    stages: dict[int, str] | None = None
    scores: dict[int, tuple] | None = None


def prepare(crm, as_of: dt.datetime) -> Prepared:
    """Compute the stages and scores the sweep stores at ``as_of`` (read-only)."""
    settings = crm.plugin("analytical").settings
    with crm.read() as conn:
        return Prepared(
            as_of, settings, last_event_id(conn),
            lifecycle.current_stages(conn, settings, as_of)
            if settings.lifecycle.update_on_sweep else None,
            rfm.scores_to_store(conn, settings, as_of) if settings.rfm.store_on_sweep else None)


def write(ctx, prepared: Prepared | None) -> dict[str, int] | None:
    """Store what :func:`prepare` computed; without it, or when the plugin was reconfigured
    in between, compute it here at ``ctx.now()``.  Returns the counts of rows changed."""
    settings = settings_of(ctx)
    if prepared is None or prepared.settings != settings:
        prepared = Prepared(ctx.now(), settings)
    current = (None if prepared.stages is None and prepared.scores is None
               else current_customers(ctx.conn, prepared.last_event))
    counts = {}
    if settings.lifecycle.update_on_sweep:
        counts["lifecycle_changes"] = lifecycle.update(
            ctx, settings, prepared.as_of, _kept(prepared.stages, current)).changed
    if settings.rfm.store_on_sweep:
        counts["rfm_changes"] = rfm.store(ctx, settings, prepared.as_of,
                                          _kept(prepared.scores, current))
    return counts or None


def _kept(per_customer: dict[int, Any] | None, current: set[int] | None
          ) -> dict[int, Any] | None:
    return None if per_customer is None else still_current(per_customer, current)
