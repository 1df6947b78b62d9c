"""Bulk writes for the core and plugins: many rows in one driver ``executemany``.

When a batch writes tens of thousands of rows, SQLAlchemy's per-row parameter
handling costs more than SQLite's own insert.  On SQLite these helpers bind
each value exactly as its column type would (a ``UTCDateTime`` once per
distinct value: a batch's rows share their timestamps) and hand the rows to
the driver; on PostgreSQL they use SQLAlchemy's ``executemany``.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import Column, Connection, Table, insert

from .types import UTCDateTime


def driver_value(conn: Connection, column: Column, value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (its type's bind processing)."""
    process = _processor(conn, column)
    return process(value) if process else value


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with one executemany.

    Columns left out get their scalar defaults; a table with a callable or SQL
    default among the left-out columns goes through SQLAlchemy's insert.
    """
    if not rows:
        return
    given = list(rows[0])
    left_out = [c for c in table.columns if c.name not in given and c.default is not None]
    if conn.dialect.name != "sqlite" or not all(c.default.is_scalar for c in left_out):
        conn.execute(insert(table), list(rows))
        return
    names = given + [c.name for c in left_out]
    defaults = tuple(c.default.arg for c in left_out)
    converted = [(n, process) for n, process in
                 enumerate(_row_processor(conn, table.c[name]) for name in names) if process]
    pick = itemgetter(*given)
    params = []
    for row in rows:
        values = [*(pick(row) if len(given) > 1 else (pick(row),)), *defaults]
        for n, process in converted:
            values[n] = process(values[n])
        params.append(tuple(values))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) "
                         f"VALUES ({', '.join('?' * len(names))})", params)


def update_rows(conn: Connection, table: Table, key: str, columns: Sequence[str],
                rows: Iterable[tuple]) -> None:
    """``UPDATE table SET columns… WHERE key = …`` for each row ``(values…, key value)``.

    One driver executemany; the values must already be what the driver takes
    (:func:`driver_value` converts those whose type needs it).
    """
    rows = list(rows)
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    assignments = ", ".join(f"{column} = {mark}" for column in columns)
    conn.exec_driver_sql(f"UPDATE {table.name} SET {assignments} WHERE {key} = {mark}", rows)


def _processor(conn: Connection, column: Column) -> Callable[[Any], Any] | None:
    """The bind processor SQLAlchemy itself would use for ``column`` on this connection."""
    return column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)


def _row_processor(conn: Connection, column: Column) -> Callable[[Any], Any] | None:
    """:func:`_processor`, run once per distinct value for ``UTCDateTime`` columns: a batch's
    rows share their timestamps, and equal instants bind alike whatever their zone."""
    process = _processor(conn, column)
    if process is None or not isinstance(column.type, UTCDateTime):
        return process
    done: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        found = done.get(value)
        if found is None:
            found = done[value] = process(value)
        return found
    return remembered


__all__ = ["driver_value", "insert_rows", "update_rows"]
