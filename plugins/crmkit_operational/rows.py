"""Bulk writes: inserts that hand back the new ids (one id range, one executemany, no per-row
RETURNING) and updates through the driver's executemany (no per-row SQLAlchemy work)."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import insert

from crmkit.db import allocate_ids


def insert_all(conn, table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` into ``table`` with consecutive ids from ``allocate_ids``; return the ids."""
    if not rows:
        return []
    first = allocate_ids(conn, table, len(rows))
    ids = list(range(first, first + len(rows)))
    conn.execute(insert(table), [dict(row, id=i) for row, i in zip(rows, ids)])
    return ids


def driver_value(conn, column, value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (the column type's bind processing)."""
    process = column.type.bind_processor(conn.dialect)
    return process(value) if process else value


def update_many(conn, table, key: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """``UPDATE table SET columns… WHERE key = …`` for each row ``(values…, key value)``.

    One driver-level executemany; the values must already be what the driver
    takes (see :func:`driver_value` for the types that need converting).
    """
    rows = list(rows)
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{column} = {mark}" for column in columns)
    conn.exec_driver_sql(f"UPDATE {table.name} SET {assignments} WHERE {key} = {mark}", list(rows))
