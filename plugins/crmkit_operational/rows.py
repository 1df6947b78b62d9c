"""Inserts that hand back the new ids: one id range, one bulk insert, no per-row RETURNING."""

from __future__ import annotations

from typing import Any, Sequence

from crmkit.bulk import insert_rows
from crmkit.db import allocate_ids


def insert_all(conn, table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with consecutive ids from
    ``allocate_ids``; return the ids."""
    if not rows:
        return []
    first = allocate_ids(conn, table, len(rows))
    ids = list(range(first, first + len(rows)))
    insert_rows(conn, table, [dict(row, id=i) for row, i in zip(rows, ids)])
    return ids
