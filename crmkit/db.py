"""Engine set-up and the few dialect-specific helpers the core and plugins share.

SQLite: WAL journal checkpointed in the background (:mod:`crmkit.wal`),
foreign keys on, a busy timeout, and transactions that crmkit begins itself
(``BEGIN IMMEDIATE`` for writes) so that DDL and DML are atomic together.  PostgreSQL: ``postgresql+psycopg://`` URLs.
"""

from __future__ import annotations

import zlib

from sqlalchemy import Boolean, Float, Table, bindparam, create_engine, event, func, select, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .errors import DatabaseError
from .wal import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES, Checkpointer

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for the write lock before giving up."""

SQLITE_CACHE_KIB = 128 * 1024
"""Page cache per SQLite connection (SQLite's default is 2 MiB); it only grows as pages are read.
A batch's writes land on random pages of the customer-keyed tables and indexes (interactions,
a plugin's leads or ledger); once those outgrow the cache, every miss is a read from the OS,
which at a million interactions costs more than the insert itself.  At 32 MiB the million-row
operational and loyalty benchmarks took 57 s and 85 s, at 128 MiB 50 s and 65 s."""

WRITE = "crmkit_write"
"""Execution option: the transaction will write (SQLite begins it IMMEDIATE)."""

CONCURRENCY_ABORTS = {"40001": "serialization failure", "40P01": "deadlock detected"}
"""SQLSTATEs with which PostgreSQL aborts a transaction because of a concurrent one: nothing
of it was written and running it again can succeed."""


def concurrency_abort(exc: BaseException | None) -> str | None:
    """What aborted the transaction, when ``exc`` (or an exception it was raised from) is a
    PostgreSQL serialisation failure or deadlock (see :data:`CONCURRENCY_ABORTS`), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for candidate in (exc, getattr(exc, "orig", None)):
            cause = CONCURRENCY_ABORTS.get(getattr(candidate, "sqlstate", None) or "")
            if cause is not None:
                return cause
        exc = exc.__cause__ or exc.__context__
    return None


def create(url: str) -> Engine:
    """Create an engine for ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://…``)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"malformed database URL {url!r} "
            "(expected sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            return create_engine(parsed, pool_pre_ping=False, future=True)
        except (NoSuchModuleError, ImportError) as exc:
            raise DatabaseError(
                f"cannot use {parsed.drivername}: {exc} (install crmkit[postgres])"
            ) from None
    raise DatabaseError(
        f"unsupported database {backend!r} in URL {url!r} (supported: sqlite, postgresql)"
    )


def _sqlite_engine(parsed) -> Engine:
    engine = create_engine(
        parsed,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None},
    )

    on_disk = parsed.database not in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        if on_disk:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    if on_disk:
        checkpointer = Checkpointer(parsed.database)
        event.listen(engine, "checkin", lambda *_: checkpointer.request())
        event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop())
    return engine


def allocate_ids(conn: Connection, table: Table, count: int) -> int:
    """Reserve ``count`` consecutive ids of ``table`` for this transaction; return the first.

    Each batch written through the pipeline gets one contiguous id range, so
    react hooks can select "this batch" with ``id BETWEEN first AND last``.  On
    SQLite the write lock held by the transaction makes ``max(id)+1`` safe; on
    PostgreSQL the table's sequence is advanced under an advisory lock.
    """
    if count <= 0:
        raise ValueError("count must be positive")
    if conn.dialect.name == "sqlite":
        last = conn.execute(select(func.max(table.c.id))).scalar()
        return (last or 0) + 1
    seq = f"{table.name}_id_seq"
    lock_key = zlib.crc32(seq.encode())
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key})
    try:
        first = conn.execute(text("SELECT nextval(:s)"), {"s": seq}).scalar()
        if count > 1:
            conn.execute(text("SELECT setval(:s, :v)"), {"s": seq, "v": first + count - 1})
    finally:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key})
    return int(first)


class PortableExpression(FunctionElement):
    """A SQL expression rendered from one template per dialect; its operands are ``{0}``, ``{1}``…

    Subclass it with ``templates = {"sqlite": …, "postgresql": …}``, a ``type``
    and ``inherit_cache = True``; the subclass compiles on both dialects.
    Plugins use it for SQL the two databases spell differently.
    """

    inherit_cache = True
    templates: dict[str, str] = {}

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        for dialect in cls.templates:
            compiles(cls, dialect)(_render)


def _render(element, compiler, **kw) -> str:
    operands = [compiler.process(clause, **kw) for clause in element.clauses]
    return element.templates[compiler.dialect.name].format(*operands)


class _JsonContains(PortableExpression):
    inherit_cache = True
    type = Boolean()
    templates = {
        "sqlite": "EXISTS (SELECT 1 FROM json_each({0}) WHERE json_each.value = {1})",
        "postgresql": "(({0})::jsonb ? {1})",
    }


class _DaysBetween(PortableExpression):
    inherit_cache = True
    type = Float()
    templates = {
        "sqlite": "(julianday({0}) - julianday({1}))",
        "postgresql": "(EXTRACT(EPOCH FROM ({0} - {1})) / 86400.0)",
    }


def json_array_contains(column, value: str) -> ColumnElement:
    """SQL condition: the JSON array ``column`` contains the string ``value``.

    Portable across SQLite (``json_each``) and PostgreSQL (JSONB ``?``); the
    value is always a bound parameter.
    """
    return _JsonContains(column, bindparam(None, value, unique=True))


def days_between(later, earlier) -> ColumnElement:
    """SQL expression: fractional days from ``earlier`` to ``later`` (both timestamps)."""
    return _DaysBetween(later, earlier)


__all__ = [
    "PortableExpression",
    "create",
    "allocate_ids",
    "json_array_contains",
    "days_between",
    "concurrency_abort",
    "CONCURRENCY_ABORTS",
    "SQLITE_BUSY_TIMEOUT_S",
    "WRITE",
]
