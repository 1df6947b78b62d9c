"""Engine set-up and the few dialect-specific helpers the core and plugins share.

SQLite: WAL journal checkpointed in the background (:mod:`crmkit.wal`),
foreign keys on, a busy timeout, and transactions that crmkit begins itself
(``BEGIN IMMEDIATE`` for writes) so that DDL and DML are atomic together.  PostgreSQL: ``postgresql+psycopg://`` URLs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import weakref
import zlib
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from sqlalchemy import (BigInteger, Boolean, Float, Integer, String, Table, bindparam,
                        create_engine, event, literal, literal_column, select, text)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, StatementError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

from .errors import DatabaseError
from .types import UTCDateTime
from .wal import AUTOCHECKPOINT_PAGES, WAL_SIZE_LIMIT_BYTES, Checkpointer

log = logging.getLogger("crmkit.db")

SQLITE_BUSY_TIMEOUT_S = 30.0
"""How long a SQLite writer waits for the write lock before giving up."""
POOL_SIZE = 10
"""Connections kept open for reuse, on SQLite and PostgreSQL: at least ``crmkit serve``'s
default threads (:data:`crmkit.web.server.SERVER_THREADS`), so that a busy server does not open
and close connections (a new one starts with an empty page cache).  More are opened when more
threads need one."""

SQLITE_CACHE_KIB = 128 * 1024
"""Page cache per SQLite connection (SQLite's default is 2 MiB); it only grows as pages are read.
A batch's writes land on random pages of the customer-keyed tables and indexes (interactions,
a plugin's leads or ledger); once those outgrow the cache, every miss is a read from the OS,
which at a million interactions costs more than the insert itself."""

WRITE = "crmkit_write"
"""Execution option: the transaction will write (SQLite begins it IMMEDIATE)."""

ROW_FOREIGN_KEY_CHECKS = "crmkit_row_foreign_key_checks"
"""Execution option, False: SQLite checks no foreign key row by row in this transaction (the
writer checks what it wrote itself; see ``CRM.transaction``).  The checks are on again once
the transaction ends."""

CONCURRENCY_ABORTS = {"40001": "serialization failure", "40P01": "deadlock detected"}
"""SQLSTATEs with which PostgreSQL aborts a transaction because of a concurrent one: nothing
of it was written and running it again can succeed."""

LOCK_NOT_AVAILABLE = "55P03"
"""SQLSTATE of a PostgreSQL lock wait that ran past ``lock_timeout``."""


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


_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)\S*@", re.IGNORECASE)


def hide_password(text: str) -> str:
    """``text`` with the password of every database URL in it replaced by ``***``.

    ``postgresql://bob:secret@db/crm`` becomes ``postgresql://bob:***@db/crm``;
    every message, audit row and log line that shows a URL goes through this.
    """
    return _URL_PASSWORD.sub(r"\1***@", text)


_STATEMENT_TABLE = re.compile(r"^\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?([\w.]+)",
                              re.IGNORECASE)


def describe_error(exc: StatementError) -> str:
    """One line for a failed statement: the table it wrote, the column if the database
    names it, and the database's own first line — never the SQL or its parameters
    (a batch's parameters are other customers' data)."""
    orig = getattr(exc, "orig", None)
    problem = str(orig if orig is not None else exc).strip().splitlines()
    problem_text = problem[0] if problem else type(exc).__name__
    where = []
    match = _STATEMENT_TABLE.match(exc.statement or "")
    table_name = getattr(getattr(orig, "diag", None), "table_name", None) or (
        match.group(1) if match else None)
    if table_name:
        where.append(f"table {table_name}")
    column_name = getattr(getattr(orig, "diag", None), "column_name", None)
    if column_name:
        where.append(f"column {column_name}")
    place = f" ({', '.join(where)})" if where else ""
    return f"the database refused a statement{place}: {problem_text}"


def create(url: str) -> Engine:
    """Create an engine for ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://…``).

    Engines hide bound parameters from error messages and logs: a failed batch
    must not print the other rows it carried.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"malformed database URL {hide_password(url)!r} "
            "(expected sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(parsed, pool_pre_ping=False, future=True,
                                   hide_parameters=True, pool_size=POOL_SIZE)
        except (NoSuchModuleError, ImportError) as exc:
            raise DatabaseError(
                f"cannot use {parsed.drivername}: {exc} (install crmkit[postgres])"
            ) from None

        @event.listens_for(engine, "first_connect")
        def _on_first_connect(dbapi_conn, _record):
            setattr(engine.dialect, _LOWERCASE_COLLATION, _lowercase_collation(dbapi_conn))

        return engine
    raise DatabaseError(
        f"unsupported database {backend!r} in URL {hide_password(url)!r} "
        "(supported: sqlite, postgresql)"
    )


_CHANGES_SEEN = "crmkit_changes_seen"
"""Key of a pooled SQLite connection's record info: its ``total_changes`` when it last came
back to the pool."""


def _sqlite_engine(parsed) -> Engine:
    on_disk = parsed.database not in (None, "", ":memory:")
    # a file: a server runs a thread per request, so keep connections open for reuse (opening
    # one runs the PRAGMAs below) and never make a thread wait for a free one (a thread that
    # holds one and opens another, such as a write beside a read, could wait forever); an
    # in-memory database keeps SQLAlchemy's one connection per thread
    in_memory = not on_disk or parsed.query.get("mode") == "memory"  # SQLAlchemy's own rule
    pool = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": -1}
    engine = create_engine(
        parsed,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None},
        hide_parameters=True, **pool,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.create_function("crmkit_lower", 1, _python_lower, deterministic=True)
        cur = dbapi_conn.cursor()
        if on_disk:
            _owner_only_if_new(parsed.database)
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
        options = conn.get_execution_options()
        if not options.get(ROW_FOREIGN_KEY_CHECKS, True):  # a no-op inside a transaction
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE, False) else "BEGIN")

    if on_disk:
        checkpointer = Checkpointer(parsed.database)

        def _checkpoint_after_writes(dbapi_conn, record):
            # only a connection that changed rows since it last came back: a read leaves
            # nothing to checkpoint (and a server answers mostly reads)
            changes = None if dbapi_conn is None else dbapi_conn.total_changes  # None: invalidated
            if changes is not None and changes != record.info.get(_CHANGES_SEEN, 0):
                record.info[_CHANGES_SEEN] = changes
                checkpointer.request()

        event.listen(engine, "checkin", _checkpoint_after_writes)
        event.listen(engine, "engine_disposed", lambda _engine: checkpointer.stop())
    return engine


class WriterQueue:
    """Queues one process's SQLite writers on a lock, so that concurrent write transactions
    (a server's request threads) take turns at once instead of polling SQLite's busy handler,
    whose sleeps grow to 100 ms.  Other processes' writers still meet the busy timeout.  On
    PostgreSQL, which runs writers concurrently, it does nothing."""

    def __init__(self, engine: Engine):
        self._lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        _WRITER_QUEUES.add(self)

    def _forget_turn(self) -> None:
        """In a forked child: no thread of the parent holds a turn here."""
        if self._lock is not None:
            self._lock = threading.RLock()

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold this process's write turn for the block; :class:`WriteTurnTimeout` after
        waiting the busy timeout for it."""
        if self._lock is None:
            yield
            return
        if not self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_S):
            raise WriteTurnTimeout(f"no write turn within {SQLITE_BUSY_TIMEOUT_S:.0f} s")
        try:
            yield
        finally:
            self._lock.release()


class WriteTurnTimeout(Exception):
    """Another thread of this process kept the SQLite write turn longer than the busy timeout."""


_WRITER_QUEUES: weakref.WeakSet[WriterQueue] = weakref.WeakSet()


def _free_turns_after_fork() -> None:
    for queue in list(_WRITER_QUEUES):
        queue._forget_turn()


os.register_at_fork(after_in_child=_free_turns_after_fork)


def missing_sqlite_file(engine: Engine) -> str | None:
    """The path of ``engine``'s SQLite database file when that file does not exist yet, else None.

    Connecting would create it empty; commands that need an existing CRM check
    this first so that a mistyped ``--db sqlite:///…`` is an error, not a new file.
    """
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if database in (None, "", ":memory:") or database.startswith("file:"):
        return None
    return None if Path(database).exists() else database


SQLITE_FILE_MODE = 0o600
"""The permissions of a SQLite database crmkit creates (SQLite gives its WAL and
shared-memory files the same): readable and writable by the owner only."""


def _owner_only_if_new(path: str) -> None:
    """Make a database file SQLite has just created (still empty) owner-only, whatever the umask."""
    try:
        if os.path.getsize(path) == 0:
            os.chmod(path, SQLITE_FILE_MODE)
    except OSError:  # not a plain file path (e.g. a URI): SQLite reports any real problem
        pass


IN_LIST_SIZE = 5000
"""The most values one ``IN (…)`` list binds (drivers and servers cap a statement's parameters)."""


def select_in(conn: Connection, query: Any, name: str, values: Sequence[Any]) -> list[Any]:
    """The rows of ``query``, whose expanding bind parameter ``name`` takes ``values``, bound
    :data:`IN_LIST_SIZE` at a time."""
    rows: list[Any] = []
    for start in range(0, len(values), IN_LIST_SIZE):
        rows.extend(conn.execute(query, {name: values[start:start + IN_LIST_SIZE]}).all())
    return rows


def where_given(query: Any, *tests: tuple[Any, Any], limit: int | None = None) -> Any:
    """``query`` with ``column == value`` for each ``(column, value)`` whose value is not None,
    and at most ``limit`` rows when it is given: the optional filters of a listing."""
    for column, value in tests:
        if value is not None:
            query = query.where(column == value)
    return query if limit is None else query.limit(limit)


def lock_rows(conn: Connection, table: Table, ids: Iterable[int], columns: Sequence[str] = (),
              exclusive: bool = False) -> list[Any]:
    """Lock the rows ``ids`` of ``table`` in id order and return ``(id, *columns)`` of those
    that still exist.

    Shared (``FOR KEY SHARE``: writers adding rows that point at them) or ``exclusive``
    (``FOR UPDATE``: a merge, which deletes one of them).  Always in id order, so that
    two transactions locking overlapping rows queue instead of deadlocking.  On
    SQLite, where the write transaction already excludes every other writer, this only
    reads.
    """
    ordered = sorted(set(ids))
    if conn.dialect.name == "postgresql":  # one array parameter, however many ids
        return conn.exec_driver_sql(
            f"SELECT {', '.join(['id', *columns])} FROM {table.name} WHERE id = ANY(%s) "
            f"ORDER BY id FOR {'UPDATE' if exclusive else 'KEY SHARE'}", (ordered,)).all()
    query = (select(table.c.id, *(table.c[name] for name in columns))
             .where(table.c.id.in_(bindparam("ids", expanding=True)))
             .order_by(table.c.id).with_for_update(read=not exclusive, key_share=not exclusive))
    return select_in(conn, query, "ids", ordered)


def allocate_ids(conn: Connection, table: Table, count: int) -> int:
    """Reserve ``count`` consecutive ids of ``table`` for this transaction; return the first.

    Each batch written through the pipeline gets one contiguous id range, so
    react hooks can select "this batch" with ``id BETWEEN first AND last``.  An id
    is never given twice, even after its row was deleted.  On SQLite the
    transaction's write lock makes this safe: the range starts after both the
    table's highest id and the highest one given before (``id_counters``); on
    PostgreSQL the table's sequence is advanced under an advisory lock.
    """
    if count <= 0:
        raise ValueError("count must be positive")
    if conn.dialect.name == "sqlite":
        highest = f"(SELECT coalesce(max(id), 0) FROM {table.name})"
        last = conn.execute(text(
            f"INSERT INTO id_counters (table_name, last_id) SELECT :t, {highest} + :n WHERE true"
            f" ON CONFLICT (table_name) DO UPDATE SET last_id ="
            f" max(id_counters.last_id, {highest}) + :n RETURNING last_id"),
            {"t": table.name, "n": count}).scalar_one()
        return last - count + 1
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


class LockWaitTimeout(Exception):
    """A PostgreSQL lock (:func:`lock_until_commit` with ``wait_s``) stayed held by other
    transactions longer than the caller would wait; the transaction is aborted."""


def lock_until_commit(conn: Connection, name: str, exclusive: bool = False,
                      wait_s: float | None = None) -> None:
    """Take the lock called ``name`` until this transaction ends, shared unless ``exclusive``:
    on PostgreSQL a transaction-level advisory lock, which needs no row to exist; waiting at
    most ``wait_s`` seconds when given (then :class:`LockWaitTimeout`), else as long as it
    takes.  On SQLite it does nothing: the transaction's write lock already admits one writer
    at a time."""
    if conn.dialect.name == "sqlite":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    statement = text(f"SELECT {function}(:k)")
    if wait_s is None:
        conn.execute(statement, {"k": zlib.crc32(name.encode())})
        return
    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait_s * 1000)}")
    try:
        conn.execute(statement, {"k": zlib.crc32(name.encode())})
    except SQLAlchemyOperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise LockWaitTimeout(name) from exc
        raise
    conn.exec_driver_sql("SET LOCAL lock_timeout TO DEFAULT")


class PortableExpression(FunctionElement):
    """A SQL expression rendered from one template per dialect; its operands are ``{0}``, ``{1}``…

    Make one with :meth:`of` (or subclass it with ``templates = {"sqlite": …,
    "postgresql": …}``, a ``type`` and ``inherit_cache = True``); it compiles on both
    dialects.
    Plugins use it for SQL the two databases spell differently.
    """

    inherit_cache = True
    templates: dict[str, str] = {}

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        for dialect in cls.templates:
            compiles(cls, dialect)(_render)

    @classmethod
    def of(cls, name: str, type_, *, sqlite: str, postgresql: str) -> type["PortableExpression"]:
        """A subclass named ``name`` whose result has the SQLAlchemy type ``type_``, rendered
        from the ``sqlite`` and ``postgresql`` templates (``days_between`` is
        ``PortableExpression.of("DaysBetween", Float(), sqlite=…, postgresql=…)``)."""
        return type(name, (cls,), {"inherit_cache": True, "type": type_,
                                   "templates": {"sqlite": sqlite, "postgresql": postgresql}})


def _render(element, compiler, **kw) -> str:
    operands = [compiler.process(clause, **kw) for clause in element.clauses]
    return element.templates[compiler.dialect.name].format(*operands)


_JsonContains = PortableExpression.of(
    "JsonContains", Boolean(),
    sqlite="EXISTS (SELECT 1 FROM json_each({0}) WHERE json_each.value = {1})",
    postgresql="(({0})::jsonb ? {1})")


_DaysBetween = PortableExpression.of(
    "DaysBetween", Float(),
    sqlite="(julianday({0}) - julianday({1}))",
    postgresql="(EXTRACT(EPOCH FROM ({0} - {1})) / 86400.0)")


_MonthNumber = PortableExpression.of(
    "MonthNumber", Integer(),
    sqlite="(CAST(substr({0}, 1, 4) AS INTEGER) * 12 + CAST(substr({0}, 6, 2) AS INTEGER) - 1)",
    postgresql=("CAST(EXTRACT(YEAR FROM ({0}) AT TIME ZONE 'UTC') * 12"
                " + EXTRACT(MONTH FROM ({0}) AT TIME ZONE 'UTC') - 1 AS INTEGER)"))


def month_number(column) -> ColumnElement:
    """SQL: the UTC month number (``year * 12 + month - 1``) of a timestamp column."""
    return _MonthNumber(column)


def json_array_contains(column, value: str) -> ColumnElement:
    """SQL condition: the JSON array ``column`` contains the string ``value``.

    Portable across SQLite (``json_each``) and PostgreSQL (JSONB ``?``); the
    value is always a bound parameter.
    """
    return _JsonContains(column, bindparam(None, value, unique=True))


_JsonArrayTexts = PortableExpression.of(
    "JsonArrayTexts", String(),  # the texts of a JSON array, as rows of one column: value
    sqlite="json_each({0})", postgresql="jsonb_array_elements_text(({0})::jsonb)")


def json_array_text_contains(column, needle: str) -> ColumnElement:
    """SQL condition: a text of the JSON array ``column`` contains ``needle`` in any case
    (``needle`` in lower case, as :func:`lowercase` compares; ``%`` and ``_`` are literal)."""
    texts = _JsonArrayTexts(column).table_valued("value")
    return (select(literal(1)).select_from(texts)
            .where(lowercase(texts.c.value).contains(needle, autoescape=True)).exists())


class _Lowercase(FunctionElement):
    type = String()
    inherit_cache = True


@compiles(_Lowercase, "sqlite")
def _sqlite_lowercase(element, compiler, **kw) -> str:
    return f"crmkit_lower({compiler.process(element.clauses, **kw)})"


@compiles(_Lowercase, "postgresql")
def _postgresql_lowercase(element, compiler, **kw) -> str:
    text = compiler.process(element.clauses, **kw)
    collation = getattr(compiler.dialect, _LOWERCASE_COLLATION, None)
    return f'lower({text} COLLATE "{collation}")' if collation else f"lower({text})"


_LOWERCASE_COLLATION = "crmkit_lowercase_collation"
"""Attribute of a PostgreSQL engine's dialect: the collation :func:`lowercase` names, or None
when the database's own ``lower()`` already follows Unicode."""
ICU_ROOT_COLLATION = "und-x-icu"
"""ICU's language-neutral collation (PostgreSQL built with ICU has it)."""


def _lowercase_collation(dbapi_conn) -> str | None:
    """The collation :func:`lowercase` names on a PostgreSQL database (asked once, on an
    engine's first connection): none where ``lower()`` follows Unicode; ICU's where the
    database's ``LC_CTYPE`` (such as ``C``) lower-cases ASCII only; without ICU there, none,
    said once in the log (comparisons then ignore the case of ASCII letters only)."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SELECT lower('\u00c9') = '\u00e9'")
        if cursor.fetchone()[0]:
            collation = None
        else:
            cursor.execute("SELECT collname FROM pg_collation WHERE collname = %s",
                           (ICU_ROOT_COLLATION,))
            collation = ICU_ROOT_COLLATION if cursor.fetchone() else None
            if collation is None:
                log.warning("this PostgreSQL database's LC_CTYPE lower-cases ASCII letters "
                            "only and the server has no ICU collation: searches ignore the "
                            "case of ASCII letters only (create the database with a UTF-8 "
                            "LC_CTYPE such as C.UTF-8)")
    finally:
        cursor.close()
        dbapi_conn.rollback()
    return collation


def lowercase(text) -> ColumnElement:
    """SQL: ``text`` in lower case by Unicode's rules, as Python's ``str.lower`` gives it
    (SQLite's own ``lower()`` changes only ASCII letters, so ``É`` would stay ``É``), for
    case-insensitive comparisons with a needle lower-cased in Python."""
    return _Lowercase(text)


def _python_lower(value: Any) -> Any:
    """SQLite's ``crmkit_lower``: :meth:`str.lower` of a text, other values as they are."""
    return value.lower() if isinstance(value, str) else value


def days_between(later, earlier) -> ColumnElement:
    """SQL expression: fractional days from ``earlier`` to ``later`` (both timestamps)."""
    return _DaysBetween(later, earlier)


# UTC calendar arithmetic on timestamp columns.  On SQLite a timestamp is the text
# UTCDateTime stores (YYYY-MM-DD HH:MM:SS.ffffff), so date parts are read and rebuilt as
# text and the time of day is kept verbatim.

_SQLITE_KEY = "'$.\"' || {1} || '\"'"  # the JSON path of the bound key {1}


# _DayNumber: the date part of the stored text (UTCDateTime writes 'YYYY-MM-DD HH:MM:SS.ffffff'):
# julianday() of a whole instant rounds to milliseconds and CAST truncates toward zero
_DayNumber = PortableExpression.of(
    "DayNumber", Integer(),
    sqlite="CAST(julianday(substr({0}, 1, 10)) - 2440587.5 AS INTEGER)",
    postgresql="(CAST(({0}) AT TIME ZONE 'UTC' AS DATE) - DATE '1970-01-01')")


_JSONNumber = PortableExpression.of(
    "JSONNumber", Float(),
    sqlite=(f"(CASE WHEN json_type({{0}}, {_SQLITE_KEY}) IN ('integer', 'real') "
            f"THEN json_extract({{0}}, {_SQLITE_KEY}) END)"),
    postgresql=("(CASE WHEN jsonb_typeof(({0})::jsonb -> {1}) = 'number' "
                "THEN CAST(({0})::jsonb ->> {1} AS DOUBLE PRECISION) END)"))

_JSONText = PortableExpression.of(
    "JSONText", String(),
    sqlite=(f"(CASE WHEN json_type({{0}}, {_SQLITE_KEY}) IN ('text', 'integer', 'real') "
            f"THEN CAST(json_extract({{0}}, {_SQLITE_KEY}) AS TEXT) END)"),
    postgresql=("(CASE WHEN jsonb_typeof(({0})::jsonb -> {1}) IN ('string', 'number') "
                "THEN ({0})::jsonb ->> {1} END)"))

_DayKey = PortableExpression.of(
    "DayKey", NullType(),
    sqlite="substr({0}, 1, 10)",  # the stored text's UTC date: no date arithmetic
    postgresql=_DayNumber.templates["postgresql"])

# the stored text sorts as the instant does: 'YYYY-MM-DD' of the next day is its midnight
_NextDay = PortableExpression.of(
    "NextDay", NullType(),
    sqlite="date(substr({0}, 1, 10), '+1 day')",
    postgresql=("((date_trunc('day', ({0}) AT TIME ZONE 'UTC') + INTERVAL '1 day')"
                " AT TIME ZONE 'UTC')"))


def day_number(column) -> ColumnElement:
    """SQL: the UTC day number (integer) of a timestamp column."""
    return _DayNumber(column)


def day_key(column) -> ColumnElement:
    """SQL: a value equal for exactly the instants of one UTC day (cheaper than
    :func:`day_number` where only equality matters, as in ``COUNT(DISTINCT …)``)."""
    return _DayKey(column)


def next_day_start(column) -> ColumnElement:
    """SQL: midnight UTC after the instant in ``column``, comparable with timestamp columns."""
    return _NextDay(column)


def json_number(column, key: str) -> ColumnElement:
    """SQL: ``column[key]`` when it is a JSON number, else NULL (text never breaks a query)."""
    return _JSONNumber(column, bindparam(None, key, type_=String(), unique=True))


def json_text(column, key: str) -> ColumnElement:
    """SQL: ``column[key]`` as text when it is a JSON string or number, else NULL."""
    return _JSONText(column, bindparam(None, key, type_=String(), unique=True))


# SQLite overflows a short month into the next (Feb 29 + 12 months = Mar 1):
# when the day changed, the month's last day is the day before the result's month.
# Days before the 29th exist in every month (the common, cheap case).  Only the date
# part goes through SQLite's date functions: they round to milliseconds, which would
# carry 23:59:59.9995 and later into the next day.
_AddMonths = PortableExpression.of(
    "AddMonths", UTCDateTime(),
    sqlite="(CASE WHEN substr({0}, 9, 2) < '29'"
           " THEN date(substr({0}, 1, 10), {1} || ' months')"
           " WHEN strftime('%d', substr({0}, 1, 10), {1} || ' months') = substr({0}, 9, 2)"
           " THEN date(substr({0}, 1, 10), {1} || ' months')"
           " ELSE date(substr({0}, 1, 10), {1} || ' months', 'start of month', '-1 day')"
           " END || substr({0}, 11))",
    postgresql="((({0}) AT TIME ZONE 'UTC' + interval '1 month' * {1}) AT TIME ZONE 'UTC')")


_AddDays = PortableExpression.of(
    "AddDays", UTCDateTime(),
    sqlite="(date(substr({0}, 1, 10), {1} || ' days') || substr({0}, 11))",
    postgresql="((({0}) AT TIME ZONE 'UTC' + interval '1 day' * {1}) AT TIME ZONE 'UTC')")


_AtLeastZero = PortableExpression.of("AtLeastZero", BigInteger(), sqlite="max({0}, 0)",
                                      postgresql="GREATEST({0}, 0)")


def _inline_int(value: int) -> ColumnElement:
    """An integer constant rendered inline (it is part of the statement's cache key)."""
    return literal_column(str(int(value)))


def add_months(moment, months: int) -> ColumnElement:
    """SQL: ``moment`` plus ``months`` calendar months, the day clamped to the month's end
    (31 January + 1 month is 28 or 29 February; the time of day is kept)."""
    return _AddMonths(moment, _inline_int(months))


def add_days(moment, days: int) -> ColumnElement:
    """SQL: ``moment`` plus ``days`` days (UTC, so always 24 hours each)."""
    return moment if days == 0 else _AddDays(moment, _inline_int(days))


def at_least_zero(value) -> ColumnElement:
    """SQL: ``value``, or 0 when it is negative (evaluated once)."""
    return _AtLeastZero(value)


__all__ = [
    "IN_LIST_SIZE",
    "select_in",
    "where_given",
    "PortableExpression",
    "create",
    "missing_sqlite_file",
    "describe_error",
    "hide_password",
    "allocate_ids",
    "lock_rows",
    "json_array_contains",
    "json_array_text_contains",
    "lowercase",
    "days_between",
    "month_number",
    "day_number",
    "day_key",
    "next_day_start",
    "json_number",
    "json_text",
    "add_months",
    "add_days",
    "at_least_zero",
    "concurrency_abort",
    "CONCURRENCY_ABORTS",
    "SQLITE_BUSY_TIMEOUT_S",
    "SQLITE_FILE_MODE",
    "ROW_FOREIGN_KEY_CHECKS",
    "WRITE",
]
