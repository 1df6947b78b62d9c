"""Bulk writes for the core and plugins: many rows in one driver ``executemany`` or ``COPY``.

When a batch writes tens of thousands of rows, SQLAlchemy's per-row parameter
handling costs more than SQLite's own insert.  On SQLite these helpers bind
each value exactly as its column type would (a ``UTCDateTime`` once per
distinct value: a batch's rows share their timestamps) and hand the rows to
the driver; on PostgreSQL both :func:`insert_rows` and :func:`insert_new` use
``COPY``.  This module is the one place that writes below
SQLAlchemy and encodes money and instants for the driver.
"""

from __future__ import annotations

import contextlib
import json
from operator import itemgetter
from typing import Any, Callable, Iterable, Iterator, Sequence

from sqlalchemy import JSON, Column, Connection, DateTime, Table, insert
from sqlalchemy.exc import DBAPIError

from .types import Money, UTCDateTime, money_units, postgres_timestamp, sqlite_timestamp


COPY_MIN_ROWS = 100
"""On PostgreSQL :func:`insert_rows` COPYs this many rows or more; fewer go in one SQLAlchemy
insert (as fast for a few rows, and seen by the engine's statement events)."""


def driver_value(conn: Connection, column: Column, value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (its type's bind processing)."""
    process = _processor(conn, column)
    return process(value) if process else value


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` with one executemany.

    Columns left out get their scalar defaults (and on PostgreSQL their server
    defaults, such as an identity); a table with a callable or SQL default among
    the left-out columns goes through SQLAlchemy's insert, and so on PostgreSQL
    do fewer than :data:`COPY_MIN_ROWS` rows and rows with a zoneless ``DateTime``
    column (COPY's text would drop an aware value's offset where a bound
    parameter converts it).  Each value is bound as
    its column type binds it; SQLite takes the rows in one driver executemany,
    PostgreSQL in one ``COPY``.
    """
    if not rows:
        return
    given = list(rows[0])
    left_out = [c for c in table.columns if c.name not in given and c.default is not None]
    sqlite = conn.dialect.name == "sqlite"
    if not all(c.default.is_scalar for c in left_out) or not sqlite and (
            len(rows) < COPY_MIN_ROWS or any(_zoneless(table.c[name]) for name in given)):
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
    insert_values(conn, table, names, params)


def insert_values(conn: Connection, table: Table, columns: Sequence[str],
                  rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows``, tuples of the ``columns``' values as the driver takes them (no bind
    processing, no defaults): one driver executemany on SQLite, one ``COPY`` on PostgreSQL."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) "
                             f"VALUES ({', '.join('?' * len(columns))})", rows)
        return
    with _as_sqlalchemy_errors(conn, table):
        _copy(conn.connection.driver_connection.cursor(), table.name, columns, rows)


@contextlib.contextmanager
def _as_sqlalchemy_errors(conn: Connection, table: Table) -> Iterator[None]:
    """Raise a PostgreSQL ``COPY``'s driver error as SQLAlchemy's executemany would raise it
    (a broken constraint is an ``IntegrityError``)."""
    import psycopg

    try:
        yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(f"COPY {table.name}", None, exc, psycopg.Error,
                                  dialect=conn.dialect) from exc


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


def insert_new(conn: Connection, table: Table, columns: Sequence[str],
               rows: Sequence[Sequence[Any]], unique: str) -> int:
    """Insert ``rows`` (tuples of the ``columns``' values) except those whose ``unique`` value
    is already stored; return how many were inserted.

    Values come in their Python form (``Decimal`` money, aware datetimes; a JSON
    column's value as its JSON text) and are encoded here, once, as their column
    types store them (money in whole units, :func:`crmkit.types.money_units`;
    instants on SQLite as :func:`crmkit.types.sqlite_timestamp`).  SQLite: one
    executemany ``INSERT … ON CONFLICT (unique) DO NOTHING``.  PostgreSQL: one
    ``COPY`` of the rows whose ``unique`` value is not stored yet; when a
    concurrent writer stores one meanwhile, the rows are COPYed into a temporary
    table and inserted from there with ``ON CONFLICT DO NOTHING``.
    """
    if not rows:
        return 0
    sqlite = conn.dialect.name == "sqlite"
    encoders = [(n, _encoder(table.c[name], sqlite)) for n, name in enumerate(columns)]
    encoders = [(n, encode) for n, encode in encoders if encode is not None]
    if encoders:
        rows = _encoded(rows, encoders)
    cursor = conn.connection.driver_connection.cursor()
    names = ", ".join(columns)
    if sqlite:
        cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES "
                           f"({', '.join('?' * len(columns))}) ON CONFLICT ({unique}) DO NOTHING",
                           rows)
        return cursor.rowcount
    with _as_sqlalchemy_errors(conn, table):
        return _copy_new(cursor, table.name, columns, rows, unique)


def _encoder(column: Column, sqlite: bool) -> Callable[[Any], Any] | None:
    """How :func:`insert_new` encodes a value of ``column`` (None: as it is)."""
    if isinstance(column.type, Money):
        return money_units
    if isinstance(column.type, UTCDateTime):
        return sqlite_timestamp if sqlite else postgres_timestamp
    return None


def _encoded(rows: Sequence[Sequence[Any]], encoders: list[tuple[int, Callable[[Any], Any]]]
             ) -> list[tuple]:
    """``rows`` with the values of the ``encoders``' columns encoded (None stays None).

    Column by column: the rows are transposed, each encoded column is mapped at
    once, and the columns zipped back into rows.  A value equal to the one
    before it is encoded once (a batch's rows share ``recorded_at``).
    """
    values = list(zip(*rows))
    for n, encode in encoders:
        encoded = []
        add = encoded.append
        last = last_encoded = None
        for value in values[n]:
            if value is not last:
                last = value
                last_encoded = None if value is None else encode(value)
            add(last_encoded)
        values[n] = encoded
    return list(zip(*values))


def _copy_new(cursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]],
              unique: str) -> int:
    """PostgreSQL's :func:`insert_new`: one COPY of the rows; when one of them is stored
    already, they are COPYed into a temporary table instead and inserted from there.

    The rows are not looked up first: a bulk write's rows are almost always new,
    and sending their keys to look them up cost more than the COPY of the rows.
    """
    import psycopg

    cursor.execute("SAVEPOINT crmkit_copy")
    try:
        _copy(cursor, table, columns, rows)
    except psycopg.errors.UniqueViolation:
        cursor.execute("ROLLBACK TO SAVEPOINT crmkit_copy")
        stage = f"crmkit_stage_{table}"
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table} INCLUDING DEFAULTS)")
        cursor.execute(f"TRUNCATE {stage}")
        _copy(cursor, stage, columns, rows)
        names = ", ".join(columns)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} "
                       f"ON CONFLICT ({unique}) DO NOTHING")
        return cursor.rowcount
    cursor.execute("RELEASE SAVEPOINT crmkit_copy")
    return len(rows)


def _copy(cursor, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _zoneless(column: Column) -> bool:
    """Whether ``column`` is a plain ``DateTime`` without time zone."""
    kind = column.type
    kind = getattr(kind, "impl_instance", kind)
    return isinstance(kind, DateTime) and not kind.timezone


def _processor(conn: Connection, column: Column) -> Callable[[Any], Any] | None:
    """The bind processor SQLAlchemy itself would use for ``column`` on this connection."""
    return column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)


def _row_processor(conn: Connection, column: Column) -> Callable[[Any], Any] | None:
    """How :func:`insert_rows` binds a value of ``column``: :func:`_processor`, run once per
    distinct value for ``UTCDateTime`` columns (a batch's rows share their timestamps, and
    equal instants bind alike whatever their zone).  PostgreSQL's ``COPY`` takes text, and
    makes it sooner from an instant's :func:`~crmkit.types.postgres_timestamp` and a JSON
    value's ``json.dumps`` (what the driver would send) than the driver does."""
    process = _processor(conn, column)
    postgres = conn.dialect.name == "postgresql"
    if postgres and isinstance(column.type, JSON):
        return json.dumps
    if process is None or not isinstance(column.type, UTCDateTime):
        return process
    if postgres:
        bind = process

        def process(value: Any) -> Any:
            value = bind(value)
            return value if value is None or isinstance(value, str) else postgres_timestamp(value)
    done: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        found = done.get(value)
        if found is None:
            found = done[value] = process(value)
        return found
    return remembered


__all__ = ["COPY_MIN_ROWS", "driver_value", "insert_new", "insert_rows", "insert_values",
           "update_rows"]
