"""Bulk writes: inserts that hand back the new ids (one id range, one executemany, no per-row
RETURNING) and updates, both through the driver's executemany (no per-row SQLAlchemy work)."""

from __future__ import annotations

import datetime as dt
from operator import itemgetter
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import insert

from crmkit.db import allocate_ids


def insert_all(conn, table, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with consecutive ids from
    ``allocate_ids``; return the ids.

    On SQLite one driver executemany of the values bound as the column types
    bind them (with the scalar defaults of the columns left out): SQLAlchemy's
    per-row parameter handling costs more than the insert when an automation
    rule writes thousands of tasks.
    """
    if not rows:
        return []
    first = allocate_ids(conn, table, len(rows))
    ids = list(range(first, first + len(rows)))
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), [dict(row, id=i) for row, i in zip(rows, ids)])
        return ids
    given = list(rows[0])
    defaults = {c.name: c.default.arg for c in table.columns
                if c.name not in given and c.name != "id" and c.default is not None
                and c.default.is_scalar}
    names = ["id", *given, *defaults]
    converted = [(n, _remembering(process)) for n, process in enumerate(
        table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        for name in names) if process is not None]
    pick = itemgetter(*given)
    params = []
    for row, i in zip(rows, ids):
        values = [i, *(pick(row) if len(given) > 1 else (pick(row),)), *defaults.values()]
        for n, process in converted:
            values[n] = process(values[n])
        params.append(tuple(values))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(names)}) "
                         f"VALUES ({', '.join('?' * len(names))})", params)
    return ids


def _remembering(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process``, run once per distinct datetime (a batch's rows share their timestamps;
    equal aware datetimes are the same instant, so they bind alike)."""
    done: dict[dt.datetime, Any] = {}

    def remembered(value: Any) -> Any:
        if type(value) is not dt.datetime:
            return process(value)
        found = done.get(value)
        if found is None:
            found = done[value] = process(value)
        return found
    return remembered


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
