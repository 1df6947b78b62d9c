"""``crmkit import``: one streaming pass over a file that checks every row once and writes
it atomically.

The import runs in one transaction on one connection.  It reads the file
record by record, turns each into a row (:mod:`.columns`) and checks it in
batches with the pipeline's own checks (``crmkit.pipeline.check``: core rules, the
attributes schema, every plugin's ``crmkit_validate_*``).  A batch holds as many records as :data:`BATCH_BYTES`
allows.  What must be known across batches — the first line of each external
id with its content hash, the rejected lines, the customers to create, the
organisations of the file, the interactions checked but not written (which
later refunds may name), the refunds naming an interaction not known yet — goes
into temporary tables on the import's connection (:class:`_Scratch`), and the
checks that need earlier lines (a repeated external id with different content,
an organisation named before its row, a refund's purchase on a later line) are
SQL queries over them.  Python holds one batch at a time, so memory
does not grow with the file.

Each batch's good rows go on through the rest of the pipeline
(:func:`crmkit.pipeline.write_checked`: enrich, persist, react) as soon as
they are checked, so no row is checked twice.  Once a row is rejected (without
``skip_invalid``) the rest of the file is only checked and the transaction is
rolled back.  Customers: a person naming an organisation that comes later in
the file is checked with the others but written after the whole file, once
its organisation is (a second read of the file that writes only those lines,
without checking them again); so is a refund whose ``refund_of`` names no
interaction stored or on an earlier line, once the later lines that may be its
purchase have been checked against it (:meth:`_Import.write_held`).  The temporary tables are dropped before the
commit (and vanish with a rollback).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from typing import Any, Callable, ContextManager, Iterable, Iterator, TypeVar

import attrs
from sqlalchemy import (BigInteger, Column, Index, Integer, MetaData, SmallInteger, Table,
                        Text, bindparam, delete, exists, func, select, text, update)

from .. import tables
from ..customers import REJECTED_ORGANISATION, CustomerRows
from ..bulk import insert_new
from ..db import select_in
from ..errors import DatabaseError, ValidationError
from ..interactions import REFUND_OF, InteractionRows, refund_problem, same_content
from ..pipeline import (Checked, Problem, check, collector_paused, raise_problems,
                        write_checked)
from ..types import UTCDateTime, text_limit, to_money
from .columns import CustomerReader, InteractionReader, attribute_types, check_header
from .records import SourceFile, file_format

KINDS = ("customers", "interactions")
MAX_KEPT_PROBLEMS = 10_000
"""Problems kept (and printed) per import; further ones are only counted."""
_CREATE_HINT = "or import with --create-customers"
"""How an interaction line's unknown customer could be created: by the import itself."""

_SAME, _NEW, _UPDATED = 0, 1, 2

C = TypeVar("C")
T = TypeVar("T")

ProgressFactory = Callable[[str, int], ContextManager[Callable[[int], None]]]
"""``progress(label, total_bytes)`` gives a context whose value is called with bytes read."""


@attrs.define
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    kind: str
    path: str
    dry_run: bool = False
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    new_customers: int = 0
    """Customers created from interaction rows (``create_customers``)."""
    written: bool = False
    problems: list[Problem] = attrs.field(factory=list)
    problems_not_kept: int = 0
    after_commit_errors: list[str] = attrs.field(factory=list)

    def summary(self) -> str:
        """``read R, created C, updated U, unchanged K, rejected X``."""
        return (f"read {self.read}, created {self.created}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {self.rejected}")


class ImportRejected(ValidationError):
    """The file has bad rows and ``skip_invalid`` was not given: nothing was written."""

    def __init__(self, report: ImportReport):
        head = ValidationError.from_problems(list(report.problems))
        super().__init__(f"{report.path}: {report.rejected} bad row(s), nothing written:\n"
                         f"{head}", list(report.problems))
        self.report = report


def import_file(crm, kind: str, path: str, fmt: str | None = None, *,
                create_customers: bool = False, skip_invalid: bool = False,
                dry_run: bool = False, batch_size: int | None = None,
                progress: ProgressFactory | None = None) -> ImportReport:
    """Import customers or interactions from a CSV or JSON Lines file.

    The whole file is checked before anything is written; every bad row is
    reported as ``line N: field: problem``.  Bad rows reject the file
    (:class:`ImportRejected`) unless ``skip_invalid``, which writes the good
    rows.  ``dry_run`` checks everything and writes nothing.  Customers are
    upserted by external id; interactions without an external id get one
    derived from their content, so re-importing a file changes nothing.
    ``batch_size`` caps the rows of one batch; without it a batch holds as many
    rows as :data:`BATCH_BYTES` allows.

    The file's size, its header and how its records are read (the core config's limits,
    the customer attributes' types, whether SQLite checks the rows' foreign keys) are
    decided before the transaction opens, and decided again before any record is read
    when the plugins or the core config the transaction reads differ
    (:func:`checked_import`): a change committed meanwhile applies to the whole file.
    An import PostgreSQL aborts for a concurrent transaction is not run again (it would
    read the whole file again): run it again.
    """
    if kind not in KINDS:
        raise ValidationError(f"cannot import {kind!r}: use one of {', '.join(KINDS)}")

    def prepared(source: SourceFile) -> _Import:
        if source.format == "csv":
            check_header(kind, source.header())
        job = _Import(crm, kind, source, create_customers, batch_size, progress)
        job.report.dry_run = dry_run
        return job

    def run(tx, job: _Import) -> _Import:
        report = job.report
        with _Scratch.opened(tx.conn) as job.scratch:
            job.tx = tx
            job.check(write=not dry_run, skip_invalid=skip_invalid)
            if job.source.format == "jsonl" and report.read == 0:
                raise ValidationError(f"{path}: no records (only blank lines)")
            if report.rejected and not skip_invalid:
                report.created = report.unchanged = report.new_customers = 0
                raise ImportRejected(report)  # rolls back whatever was written
            if dry_run:
                job.predict()
            else:
                if kind == "customers":
                    job.write_deferred()
                else:
                    job.write_held()
                report.written = True
                tx.audit("import", kind, os.path.basename(path)[:200], {
                    "file": os.path.basename(path), "read": report.read,
                    "created": report.created, "updated": report.updated,
                    "unchanged": report.unchanged, "rejected": report.rejected,
                    "new_customers": report.new_customers, "skip_invalid": skip_invalid})
        return job

    job = checked_import(crm, path, fmt, prepared, run,
                         row_foreign_key_checks=lambda job: job.checked_customers is None)
    job.report.after_commit_errors = list(job.tx.after_commit_errors)
    return job.report


def checked_import(crm, path: str, fmt: str | None, check: Callable[[SourceFile], C],
                   write: Callable[[Any, C], T], *,
                   row_foreign_key_checks: Callable[[C], bool] | None = None) -> T:
    """Import the file at ``path`` (format ``fmt``, or the one its name implies) in one write
    transaction, checked against the plugins and the core configuration that transaction
    reads; return what ``write`` returns.

    ``check(source)`` runs before the transaction opens, with the file as a
    :class:`SourceFile` whose size the core config's ``max_import_bytes`` allows; what it
    returns is ``write(tx, checked)``'s.  When the transaction reads other plugins or
    another core configuration, the file is opened and checked again before ``write``
    (:meth:`crmkit.CRM.checked_write`): after 3 changes in a row, one ConflictError
    (``PATH was not imported: ...``), nothing written.  An import PostgreSQL aborts for a
    concurrent transaction is not run again unasked (the ConflictError says so).
    ``row_foreign_key_checks``: as :meth:`crmkit.CRM.checked_write`'s."""
    def opened_and_checked(seen) -> C:
        _, core_config = seen
        return check(SourceFile(path, file_format(path, fmt), core_config["max_import_bytes"]))

    return crm.checked_write(f"{path} was not imported", crm.loaded_state, opened_and_checked,
                             write, row_foreign_key_checks=row_foreign_key_checks,
                             run_again=False)


_SCRATCH = MetaData()
_HEADS = Table(
    "crmkit_import_heads", _SCRATCH,
    Column("key", Text, primary_key=True),
    Column("line", Integer, nullable=False),
    Column("content", BigInteger, nullable=False),
    Column("flag", SmallInteger, nullable=False),
    prefixes=["TEMPORARY"], sqlite_with_rowid=False)
"""The first good line of each external id (``key``) in the file, its head: the line, its
content hash and what it would do.  Later lines with the key are compared with it."""
_REJECTED = Table("crmkit_import_rejected", _SCRATCH,
                  Column("line", Integer, primary_key=True, autoincrement=False),
                  prefixes=["TEMPORARY"])
_NEW_CUSTOMERS = Table("crmkit_import_new_customers", _SCRATCH,
                       Column("external_id", Text, primary_key=True), prefixes=["TEMPORARY"])
_DERIVED = Table("crmkit_import_derived", _SCRATCH,
                 Column("digest", Text, primary_key=True),
                 Column("seen", Integer, nullable=False), prefixes=["TEMPORARY"])
"""How often each content digest of a row without external id has occurred so far."""
_ORGANISATIONS = Table("crmkit_import_organisations", _SCRATCH,
                       Column("external_id", Text, primary_key=True), prefixes=["TEMPORARY"])
_PENDING_ORGS = Table("crmkit_import_pending_orgs", _SCRATCH,
                      Column("line", Integer, primary_key=True, autoincrement=False),
                      Column("ref", Text, nullable=False), prefixes=["TEMPORARY"])
"""Customer rows naming an organisation that is neither stored nor in their batch."""
_REJECTED_ORGS = Table("crmkit_import_rejected_orgs", _SCRATCH,
                       Column("external_id", Text, primary_key=True),
                       Column("line", Integer, nullable=False), prefixes=["TEMPORARY"])
"""The first rejected organisation row of each external id, for the people naming it."""
_UNWRITTEN = Table("crmkit_import_unwritten", _SCRATCH,
                   Column("external_id", Text, primary_key=True),
                   Column("customer_id", BigInteger), Column("customer", Text),
                   Column("occurred_at", UTCDateTime, nullable=False),
                   Column("kind", Text, nullable=False), Column("currency", Text),
                   prefixes=["TEMPORARY"])
"""The good interaction rows of batches checked but not written (a dry run, the lines
after a rejected one, or held refunds), for the refunds of later batches that name them."""
_HELD = Table("crmkit_import_held_refunds", _SCRATCH,
              Column("line", Integer, primary_key=True, autoincrement=False),
              Column("ref", Text), Column("external_id", Text, nullable=False),
              Column("customer_id", BigInteger), Column("customer", Text),
              Column("occurred_at", UTCDateTime, nullable=False),
              Column("amount", tables.interactions.c.amount.type), Column("currency", Text),
              Index("crmkit_import_held_refunds_ref", "ref"), prefixes=["TEMPORARY"])
"""The good refund rows whose ``refund_of`` (``ref``) named no interaction stored or on an
earlier line: each later line is checked as their purchase, the first with that external id
settling it (``ref`` then NULL), and they are written after the whole file."""

MAX_KNOWN_CUSTOMERS = 100_000
"""Customers an interaction import remembers across batches so that it looks each up once
(on PostgreSQL external id → id, about 150 bytes each; on SQLite, when it checks the
references itself, the ids checked, about 60 bytes each).
Past this many, the next batch starts afresh: with :data:`BATCH_BYTES` it bounds the
import's memory whatever the file."""

BATCH_BYTES = 20 * 1024 * 1024
"""The memory one import batch may take, estimated as :data:`ROW_BYTES` per record plus
:data:`BYTES_PER_FILE_BYTE` per byte of the file it came from.  A batch is one pass of the
write pipeline (one react step per plugin), so bigger batches cost less per row; this
bounds the Python memory of a batch whatever the rows' width."""
ROW_BYTES = 2048
"""Estimated memory of one record's row while its batch is checked and written (the row
dicts, their values, the driver's parameters, the batch's share of plugin work)."""
BYTES_PER_FILE_BYTE = 8
"""Estimated memory per byte of a record's text beyond :data:`ROW_BYTES` (wide payloads)."""

SQLITE_IMPORT_CACHE_KIB = 32 * 1024
"""SQLite page cache of the import's connection while it imports (the usual one is
:data:`crmkit.db.SQLITE_CACHE_KIB`).  The cache fills once the database outgrows it, so it
sets the import's memory on a large database: with 64 MiB a million interactions with all
eight plugins peaked at 222 MB, with 32 MiB at 187 MB (``benchmarks/import_memory.py``)."""
SQLITE_SCRATCH_CACHE_KIB = 8 * 1024
"""SQLite page cache of the temporary tables (which live in a file, not in memory)."""


class _Scratch:
    """The import's per-row state, in temporary tables on the import's connection.

    Each batch adds its rows with one executemany; lookups are by key or by
    line range, so Python holds one batch at a time whatever the file's size.
    """

    def __init__(self, conn):
        self.conn = conn

    @classmethod
    @contextlib.contextmanager
    def opened(cls, conn) -> Iterator["_Scratch"]:
        """Create the tables (and bound SQLite's caches); drop them if the block succeeds.

        A failure rolls the transaction back, which removes them as well.
        """
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            usual = conn.exec_driver_sql("PRAGMA main.cache_size").scalar_one()
            conn.exec_driver_sql(f"PRAGMA main.cache_size=-{SQLITE_IMPORT_CACHE_KIB}")
            conn.exec_driver_sql(f"PRAGMA temp.cache_size=-{SQLITE_SCRATCH_CACHE_KIB}")
        try:
            _SCRATCH.create_all(conn, checkfirst=False)
            yield cls(conn)
            _SCRATCH.drop_all(conn, checkfirst=False)
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA main.cache_size={usual}")

    def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.conn.execute(table.insert(), rows)

    def remember(self, rows: list[tuple[int, str, int, int]]) -> list[tuple[int, int]]:
        """Add one batch's good rows ``(line, key, content, flag)``, in line order: each key
        not seen before gets its head (one insert; the heads of earlier batches are read
        only when the batch repeats one of their keys).  Returns ``(line, head line)`` of
        the rows repeating a head's key with different content, by line."""
        heads: dict[str, tuple[int, int]] = {}
        new_heads, repeats = [], []
        for line, key, content, flag in rows:
            if key in heads:
                repeats.append((line, key, content))
            else:
                heads[key] = (line, content)
                new_heads.append((key, line, content, flag))
        columns = [c.name for c in _HEADS.columns]
        if insert_new(self.conn, _HEADS, columns, new_heads, "key") < len(new_heads):
            c = _HEADS.c
            query = select(c.key, c.line, c.content).where(
                c.key.in_(bindparam("keys", expanding=True)))
            for key, line, content in select_in(self.conn, query, "keys", list(heads)):
                if line != heads[key][0]:  # an earlier batch's head: this batch repeats it
                    repeats.append((heads[key][0], key, heads[key][1]))
                    heads[key] = (line, content)
        return sorted((line, heads[key][0]) for line, key, content in repeats
                      if content != heads[key][1])

    def insert_new(self, table: Table, column: str, values: Iterable[Any]) -> None:
        """Insert the values not yet in ``table`` (its primary key is ``column``)."""
        insert_new(self.conn, table, [column], [(v,) for v in values], column)

    def keep_unwritten(self, rows: list[dict[str, Any]]) -> None:
        """Add checked interaction rows that are not written to :data:`_UNWRITTEN`."""
        columns = [c.name for c in _UNWRITTEN.columns]
        insert_new(self.conn, _UNWRITTEN, columns,
                   [tuple(row[c] for c in columns) for row in rows], "external_id")

    def unwritten(self, external_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The rows of :data:`_UNWRITTEN` with these external ids, by external id."""
        query = select(_UNWRITTEN).where(
            _UNWRITTEN.c.external_id.in_(bindparam("ids", expanding=True)))
        return {row.external_id: dict(row._mapping)
                for row in select_in(self.conn, query, "ids", sorted(external_ids))}

    def hold(self, rows: list[tuple[int, dict[str, Any]]]) -> None:
        """Add refund rows ``(line, row)`` to :data:`_HELD`."""
        self.insert(_HELD, [{"line": line, "ref": row["payload"][REFUND_OF],
                             **{c: row[c] for c in ("external_id", "customer_id", "customer",
                                                    "occurred_at", "amount", "currency")}}
                            for line, row in rows])

    def settle_held(self, external_ids: set[str]) -> list[dict[str, Any]]:
        """The held refunds naming one of ``external_ids`` (each once: their ``ref`` is
        cleared)."""
        c = _HELD.c
        query = select(_HELD).where(c.ref.in_(bindparam("ids", expanding=True)))
        found = [dict(row._mapping)
                 for row in select_in(self.conn, query, "ids", sorted(external_ids))]
        lines = [row["line"] for row in found]
        if lines:
            self.conn.execute(update(_HELD).where(
                c.line.in_(bindparam("lines", expanding=True))).values(ref=None),
                {"lines": lines})
        return found

    def held_between(self, first: int, last: int) -> dict[int, str]:
        """The held refunds from line ``first`` to ``last``: line → external id."""
        c = _HELD.c
        return dict(self.conn.execute(
            select(c.line, c.external_id).where(c.line.between(first, last))).all())

    def count(self, table: Table) -> int:
        return self.conn.execute(select(func.count()).select_from(table)).scalar_one()

    def any(self, table: Table) -> bool:
        return self.conn.execute(select(exists().select_from(table))).scalar_one()

    def rejected_between(self, first: int, last: int) -> set[int]:
        """The rejected lines from ``first`` to ``last`` (one batch of the file)."""
        line = _REJECTED.c.line
        return set(self.conn.execute(select(line).where(line.between(first, last))).scalars())

    def derived_counts(self, digests: list[str]) -> dict[str, int]:
        c = _DERIVED.c
        query = select(c.digest, c.seen).where(c.digest.in_(bindparam("d", expanding=True)))
        return dict(select_in(self.conn, query, "d", digests))

    def save_counts(self, counts: dict[str, int]) -> None:
        if counts:
            self.conn.execute(text(
                f"INSERT INTO {_DERIVED.name} (digest, seen) VALUES (:d, :n) "
                "ON CONFLICT (digest) DO UPDATE SET seen = excluded.seen"),
                [{"d": d, "n": n} for d, n in counts.items()])

    def reset_derived(self) -> None:
        self.conn.execute(delete(_DERIVED))


class _DerivedIds:
    """External ids for interactions that have none: a content hash and its occurrence number.

    The same file always gives the same ids (so a re-import is a no-op), and
    two identical rows in one file stay two interactions.  The occurrence
    counts live in the scratch table ``crmkit_import_derived``; each pass
    starts them again.
    """

    def __init__(self, scratch: _Scratch):
        self.scratch = scratch
        scratch.reset_derived()

    def __call__(self, rows: list[dict[str, Any]]) -> list[int]:
        """Give each row of one batch without an external id its derived one; return the
        indexes of those rows."""
        pending, derived = [], []
        for index, row in enumerate(rows):
            if not row.get("external_id"):
                digest = hashlib.blake2b(_canonical(row).encode("utf-8", "surrogatepass"),
                                         digest_size=12).hexdigest()
                pending.append((row, digest))
                derived.append(index)
        if not pending:
            return derived
        seen = self.scratch.derived_counts(sorted({digest for _, digest in pending}))
        changed = {}
        for row, digest in pending:
            count = seen.get(digest, 0)
            seen[digest] = changed[digest] = count + 1
            row["external_id"] = f"h:{digest}" if count == 0 else f"h:{digest}:{count}"
        self.scratch.save_counts(changed)
        return derived


def _content_hash(values: dict[str, Any], csv_file: bool) -> int:
    """A hash of a record's cells: a repeated external id must repeat exactly these."""
    if csv_file:
        return hash(tuple(values))
    return hash(json.dumps(values, sort_keys=True, default=str))


def _canonical(row: dict[str, Any]) -> str:
    occurred = row.get("occurred_at")
    amount = row.get("amount")
    try:
        amount = None if amount is None else str(to_money(amount).normalize())
    except ValidationError:
        pass  # the check pass rejects the row
    payload = row.get("payload")
    return "\x1f".join(str(v) for v in (
        row.get("customer"), occurred.isoformat() if occurred is not None else None,
        row.get("kind") or "purchase", row.get("channel"), row.get("direction") or "inbound",
        amount, row.get("currency"), row.get("actor"),
        None if payload is None else json.dumps(payload, sort_keys=True, default=str)))


class _Import:
    """The state of one import across its passes (per-row state in :attr:`scratch`), made
    with the plugins' state and the core configuration last loaded."""

    scratch: _Scratch

    def __init__(self, crm, kind, source, create_customers, batch_size, progress):
        self.crm = crm
        self.kind = kind
        self.source = source
        self.create_customers = create_customers
        self.batch_size = batch_size
        self.progress = progress
        self.report = ImportReport(kind, source.path)
        self.rejected_now: list[int] = []
        """Lines rejected in the current batch, flushed to the scratch table after it."""
        self.any_rejected = False
        """Whether a line of an earlier batch was rejected."""
        self.remembered = 0
        """Good rows checked so far (see :meth:`_remember`)."""
        self.remembered_rejected = 0
        """Of those, the rows rejected afterwards (repeats, unknown organisations)."""
        self.derived_lines: set[int] = set()
        """The lines of the current batch whose external id the import derived."""
        self.adopted: set[int] = set()
        """Stored interactions without an external id that lines of the file repeat (see
        :meth:`_stored_twins`)."""
        self.open_held = 0
        """Held refunds (:data:`_HELD`) whose purchase no line has named yet."""
        self.checked_customers: set[int] | None = (
            set() if kind == "interactions" and not crm.enabled_plugins()
            and crm.engine.dialect.name == "sqlite" else None)
        """Not None: the import checks the customers the interactions it writes name itself,
        each once, instead of SQLite row by row, and its transaction is begun without SQLite's
        per-row foreign-key checks (a sixth of an insert's cost).  Only with no plugin
        enabled, since a plugin's hooks could write rows nobody checks; the ids checked."""
        self._customer_ids: dict[str, int] = {}
        self._customers_changed: tuple[int, int] = (0, 0)
        header = source.header() if source.format == "csv" else None
        limit = text_limit(crm)
        if kind == "customers":
            types = attribute_types(crm.customers.attribute_schema())
            self.reader = CustomerReader(types, limit, header)
        else:
            self.reader = InteractionReader(limit, header)

    # -- pass 1: check ----------------------------------------------------------------

    def check(self, write: bool = False, skip_invalid: bool = False) -> None:
        """Read and check the whole file; remember rejected lines and duplicate evidence.

        ``write``: each batch's good rows are written as soon as they are checked, in
        the import's transaction, so every row is checked once; after a rejected row
        (unless ``skip_invalid``) the rest is only checked, and the caller rolls back.
        Customers naming an organisation of a later line wait for
        :meth:`write_deferred`.
        """
        report = self.report
        derive = _DerivedIds(self.scratch) if self.kind == "interactions" else None
        reader = self.reader
        csv_file = self.source.format == "csv"
        if write:
            self.tx.keep_rows = False
        with self._bar("importing" if write else "checking", self.source.size) as tick:
            for chunk in self._batches(tick):
                rows, lines, contents = [], [], {}
                report.read += len(chunk)
                for record in chunk:
                    if record.problem is not None:
                        self.reject(record.line, *record.problem)
                        continue
                    row, problems = reader(record.values)
                    if row is None:
                        for field, message in problems:
                            self.reject(record.line, field, message)
                        continue
                    rows.append(row)
                    lines.append(record.line)
                    contents[record.line] = (hash(tuple(record.values)) if csv_file
                                             else _content_hash(record.values, False))
                if derive is not None:
                    self.derived_lines = {lines[index] for index in derive(rows)}
                if rows:
                    check_batch = (self._check_customers if self.kind == "customers"
                                   else self._check_interactions)
                    with collector_paused():
                        check_batch(rows, lines, contents, write and (skip_invalid or None))
                self._flush_rejected()
        if self.kind == "customers":
            self._find_unknown_organisations()
        report.rejected = self.scratch.count(_REJECTED)
        report.problems.sort(key=lambda p: int(p[0].split()[1]))

    def _batches(self, tick) -> Iterator[list]:
        """The file's records in batches of at most ``batch_size`` records when it was given,
        else of as many as :data:`BATCH_BYTES` allows (see :data:`ROW_BYTES`)."""
        read = 0

        def counted(size: int) -> None:
            nonlocal read
            read += size
            if tick is not None:
                tick(size)

        limit = self.batch_size
        chunk: list = []
        start = 0
        for record in self.source.records(counted):
            chunk.append(record)
            if (len(chunk) == limit or limit is None and
                    len(chunk) * ROW_BYTES + (read - start) * BYTES_PER_FILE_BYTE >= BATCH_BYTES):
                yield chunk
                chunk, start = [], read
        if chunk:
            yield chunk

    def reject(self, line: int, field: str, message: str) -> None:
        """Record a problem of ``line`` (kept up to MAX_KEPT_PROBLEMS, counted beyond)."""
        self.rejected_now.append(line)
        self._keep_problem(line, field, message)

    def _keep_problem(self, line: int, field: str, message: str) -> None:
        if len(self.report.problems) < MAX_KEPT_PROBLEMS:
            self.report.problems.append((f"line {line}", field, message))
        else:
            self.report.problems_not_kept += 1

    def _flush_rejected(self) -> None:
        if self.rejected_now:
            self.any_rejected = True
        self.scratch.insert_new(_REJECTED, "line", sorted(set(self.rejected_now)))
        self.rejected_now = []

    def _take_problems(self, problems: list[Problem]) -> set[int]:
        bad = set()
        for where, field, message in problems:
            line = int(where.split()[1])
            bad.add(line)
            self.reject(line, field, message)
        return bad

    def _check_interactions(self, rows, lines, contents, write: bool | None) -> None:
        """Check one batch (and with ``write`` write its good rows): the pipeline's checks,
        then repeats of earlier lines' external ids.  ``write=None``: write unless a line of
        the file was rejected."""
        tx = self.tx
        unless_rejected = write is None
        if unless_rejected:
            write = not (self.any_rejected or self.rejected_now)
        labels = [f"line {n}" for n in lines]
        known = self._known_customers()
        kind = InteractionRows(self.create_customers, lock=write, dedupe=False,
                               known_customers=known, unwritten=self.scratch.unwritten,
                               create_hint=_CREATE_HINT)
        checked, problems = check(tx, kind, rows, labels)
        bad = self._take_problems(problems)
        good = [(row, line) for row, line in zip(rows, lines) if line not in bad]
        if self.open_held:
            self._settle_held(checked)
        twins = self._stored_twins(checked) if self.derived_lines else set()
        stored: set[str] = set()
        if not write:
            if self.create_customers:
                self.scratch.insert_new(_NEW_CUSTOMERS, "external_id", sorted(
                    {row["customer"] for row in checked.rows if row["customer_id"] is None}))
            if self.report.dry_run:
                stored = _stored_interaction_ids(tx.conn, [row["external_id"] for row, _ in good])
        repeated = self._remember([(line, row["external_id"], contents[line],
                                    _SAME if row["external_id"] in stored or line in twins
                                    else _NEW)
                                   for row, line in good])
        unresolved = set(kind.unresolved)
        held = [(line, row) for row, where in zip(checked.rows, checked.labels)
                if where in unresolved and (line := int(where.split()[1])) not in repeated
                and line not in twins] if unresolved else []
        if held:
            self.scratch.hold(held)
            self.open_held += len(held)
        if not write or unless_rejected and self.rejected_now:
            self.scratch.keep_unwritten([row for row, where in zip(checked.rows, checked.labels)
                                         if int(where.split()[1]) not in repeated])
            return
        if held:
            self.scratch.keep_unwritten([row for _, row in held])
        held_lines = {line for line, _ in held}
        seen: set[str] = set()
        kept = Checked([], [])
        for row, where in zip(checked.rows, checked.labels):
            ext = row["external_id"]
            line = int(where.split()[1])
            if (ext not in seen and not (repeated and line in repeated) and line not in twins
                    and line not in held_lines):
                seen.add(ext)  # an identical repeat in the batch is unchanged
                kept.rows.append(row)
                kept.labels.append(where)
        new_customers = {row["customer"] for row in kept.rows if row["customer_id"] is None}
        result = write_checked(tx, InteractionRows(self.create_customers,
                                                   known_customers=known), kept)
        if self.checked_customers is not None:
            self._check_customer_references(kept.rows)
        report = self.report
        report.created += result.created
        report.unchanged += len(good) - len(repeated) - len(held) - result.created
        report.new_customers += len(new_customers)

    def _settle_held(self, checked: Checked) -> None:
        """Check the held refunds naming an external id of this batch's good rows against
        the first such row, as if it had come before them; reject those it contradicts."""
        first: dict[str, dict[str, Any]] = {}
        for row in checked.rows:
            first.setdefault(row["external_id"], row)
        for refund in self.scratch.settle_held(first.keys()):
            self.open_held -= 1
            problem = refund_problem(refund, refund["ref"], first[refund["ref"]])
            if problem is not None:
                self.reject(refund["line"], "payload", f"/{REFUND_OF}: {problem}")
                self.remembered_rejected += 1

    def _stored_twins(self, checked: Checked) -> set[int]:
        """The lines of ``checked`` whose external id the import derived and that repeat a
        stored interaction without an external id (one recorded through the API, the CLI or
        a plugin, and exported): they are that interaction, so an exported file imports
        again unchanged.  Each stored interaction is repeated by one line at most."""
        actor = self.tx.actor
        candidates = [(row, line) for row, where in zip(checked.rows, checked.labels)
                      if (line := int(where.split()[1])) in self.derived_lines
                      and row["customer_id"] is not None]
        if not candidates:
            return set()
        i = tables.interactions.c
        moments = [row["occurred_at"] for row, _ in candidates]
        query = select(tables.interactions).where(
            i.external_id.is_(None), i.customer_id.in_(bindparam("ids", expanding=True)),
            i.occurred_at.between(min(moments), max(moments)))
        stored: dict[tuple, list[dict[str, Any]]] = {}
        for found in select_in(self.tx.conn, query, "ids",
                               sorted({row["customer_id"] for row, _ in candidates})):
            stored.setdefault((found.customer_id, found.occurred_at), []).append(
                dict(found._mapping))
        twins = set()
        for row, line in candidates:
            as_stored = row if row["actor"] is not None else {**row, "actor": actor}
            for found in stored.get((row["customer_id"], row["occurred_at"]), ()):
                if found["id"] not in self.adopted and same_content(found, as_stored):
                    self.adopted.add(found["id"])
                    twins.add(line)
                    break
        return twins

    def _check_customer_references(self, rows: list[dict[str, Any]]) -> None:
        """The check SQLite skipped: every customer the written ``rows`` name exists (else the
        import fails and writes nothing, as the foreign key would)."""
        checked = self.checked_customers
        if len(checked) > MAX_KNOWN_CUSTOMERS:
            checked.clear()
        ids = sorted({row["customer_id"] for row in rows} - checked)
        missing = self.tx.conn.exec_driver_sql(
            "SELECT j.value FROM json_each(?) AS j WHERE NOT EXISTS "
            "(SELECT 1 FROM customers AS c WHERE c.id = j.value) LIMIT 1",
            (json.dumps(ids),)).scalar()
        if missing is not None:
            raise DatabaseError(f"an interaction names customer id {missing}, which does not "
                                "exist (FOREIGN KEY constraint failed): nothing was written")
        checked.update(ids)

    def _known_customers(self) -> dict[str, int]:
        """The customers this import has found or created so far (external id → id), kept
        across batches so that each is looked up once; emptied when a customer was merged
        or erased in the import's transaction since the last batch (a plugin reacting to
        the rows may do either), and when it holds :data:`MAX_KNOWN_CUSTOMERS`.  PostgreSQL
        only: there each lookup share-locks the customers again (1M rows: 38.9 s → 35.5 s);
        SQLite looks a batch's customers up as fast as a dict does, so each batch starts
        empty and the memory stays that of a batch."""
        if self.tx.conn.dialect.name == "sqlite":
            return {}
        emitted = self.tx.emitted
        changed = (emitted["customer.merged"], emitted["customer.erased"])
        if changed != self._customers_changed or len(self._customer_ids) > MAX_KNOWN_CUSTOMERS:
            self._customer_ids.clear()
            self._customers_changed = changed
        return self._customer_ids

    def _check_customers(self, rows, lines, contents, write: bool | None) -> None:
        """Check one batch of customers (and with ``write`` write its good rows, as
        :meth:`_check_interactions` does).  A person naming an organisation that is neither
        stored nor in the batch is checked without it and its line remembered: it is
        written by :meth:`write_deferred` once the whole file is read."""
        tx = self.tx
        unless_rejected = write is None
        if unless_rejected:
            write = not (self.any_rejected or self.rejected_now)
        refs = {row["organisation"] for row in rows if row.get("organisation")}
        in_chunk = {row.get("external_id") for row in rows if row.get("type") == "organisation"}
        stored_orgs = _stored_organisations(tx.conn, refs - in_chunk) if refs else set()
        to_check, pending = [], []
        for row, line in zip(rows, lines):
            ref = row.get("organisation")
            if ref and ref not in in_chunk and ref not in stored_orgs:
                pending.append({"line": line, "ref": ref})
                row = {k: v for k, v in row.items() if k != "organisation"}
            to_check.append(row)
        self.scratch.insert(_PENDING_ORGS, pending)
        labels = [f"line {n}" for n in lines]
        checked, problems = check(tx, CustomerRows(upsert=True), to_check, labels)
        bad = self._take_problems(problems)
        rejected_orgs: dict[str, int] = {}
        for row, line in zip(rows, lines):
            if line in bad and row.get("type") == "organisation" and isinstance(
                    row.get("external_id"), str):
                rejected_orgs.setdefault(row["external_id"].strip(), line)
        insert_new(self.scratch.conn, _REJECTED_ORGS, ["external_id", "line"],
                   list(rejected_orgs.items()), "external_id")
        new_ids = {row["external_id"] for row in checked.rows}
        updated_ids = {external_id for _, external_id, _, _ in checked.updates}
        remembered, organisations, keys = [], [], {}
        for row, line in zip(rows, lines):
            if line in bad:
                continue
            ext = keys[line] = row["external_id"].strip()
            if row.get("type") == "organisation":
                organisations.append(ext)
            flag = _NEW if ext in new_ids else _UPDATED if ext in updated_ids else _SAME
            remembered.append((line, ext, contents[line], flag))
        self.scratch.insert_new(_ORGANISATIONS, "external_id", organisations)
        repeated = self._remember(remembered)
        if not write or unless_rejected and self.rejected_now:
            return
        later = {item["line"] for item in pending} - bad - repeated
        held = {keys[line] for line in later | repeated}  # a batch holds each external id once
        kept = checked.without({f"line {line}" for line in later | repeated})
        kept.updates = [update for update in checked.updates if update[1] not in held]
        result = write_checked(tx, CustomerRows(upsert=True), kept)
        report = self.report
        report.created += result.created
        report.updated += result.updated
        report.unchanged += len(keys) - len(repeated) - len(later) - result.created - result.updated

    def _reject_found(self, found: str, field: str, message: str) -> int:
        """Reject every ``(line, *details)`` that the query ``found`` selects, in line order,
        with ``message.format(*details)``; return how many of those lines were not rejected
        before.

        The lines go to the scratch table in one INSERT … SELECT; only as many
        messages as are still kept are fetched, the rest are counted.
        """
        conn = self.scratch.conn
        newly = conn.execute(text(
            f"INSERT INTO {_REJECTED.name} (line) SELECT line FROM ({found}) "
            "AS found WHERE true ON CONFLICT (line) DO NOTHING")).rowcount
        room = MAX_KEPT_PROBLEMS - len(self.report.problems)
        kept = conn.execute(text(f"SELECT * FROM ({found}) AS found "
                                 "ORDER BY line LIMIT :room"), {"room": max(room, 0)}).all()
        for line, *details in kept:
            self._keep_problem(line, field, message.format(*details))
        total = conn.execute(text(f"SELECT count(*) FROM ({found}) AS found")).scalar_one()
        self.report.problems_not_kept += total - len(kept)
        return newly

    def _find_unknown_organisations(self) -> None:
        """Reject people whose organisation is neither stored nor a good organisation row of
        the file, naming the organisation's rejected row if it has one."""
        unknown = (f"FROM {_PENDING_ORGS.name} AS p LEFT JOIN {_REJECTED_ORGS.name} AS r "
                   f"ON r.external_id = p.ref WHERE NOT EXISTS (SELECT 1 FROM "
                   f"{_ORGANISATIONS.name} AS o WHERE o.external_id = p.ref)")
        self.remembered_rejected += self._reject_found(
            f"SELECT p.line AS line, p.ref AS ref, 'line ' || r.line AS org_row {unknown} "
            "AND r.line IS NOT NULL", "organisation", REJECTED_ORGANISATION)
        self.remembered_rejected += self._reject_found(
            f"SELECT p.line AS line, p.ref AS ref {unknown} AND r.line IS NULL",
            "organisation", "{!r} is not an organisation customer "
            "(neither stored nor an organisation row of this file)")

    def _remember(self, rows: list[tuple[int, str, int, int]]) -> set[int]:
        """Remember one batch's good rows ``(line, key, content, flag)`` (see
        :meth:`_Scratch.remember`); reject the lines that repeat an earlier line's external
        id with different content and return them."""
        conflicts = self.scratch.remember(rows)
        for line, head in conflicts:
            self.reject(line, "external_id",
                        f"repeats the external id of line {head} with different content")
        self.remembered += len(rows)
        self.remembered_rejected += len(conflicts)
        return {line for line, _ in conflicts}

    # -- dry run ----------------------------------------------------------------------

    def predict(self) -> None:
        """Fill the report's counts with what the write pass would do (``dry_run``)."""
        report = self.report
        report.new_customers = self.scratch.count(_NEW_CUSTOMERS)
        counts = dict(self.scratch.conn.execute(text(
            f"SELECT h.flag, count(*) FROM {_HEADS.name} AS h WHERE NOT EXISTS "
            f"(SELECT 1 FROM {_REJECTED.name} AS x WHERE x.line = h.line) GROUP BY h.flag")).all())
        report.created = counts.get(_NEW, 0)
        report.updated = counts.get(_UPDATED, 0)
        report.unchanged = (self.remembered - self.remembered_rejected - report.created
                            - report.updated)

    # -- customers naming a later organisation --------------------------------------------

    def write_deferred(self) -> None:
        """Write the customers whose organisation came later in the file (now stored), read
        again from the file: normalised with their organisation, not validated again."""
        if not self.scratch.any(_PENDING_ORGS):
            return
        report = self.report
        kind = CustomerRows(upsert=True)
        with self._bar("writing", self.source.size) as tick:
            for chunk in self._batches(tick):
                rows, labels = self._deferred_rows(chunk)
                if rows:
                    with collector_paused():
                        checked, problems = kind.normalise(self.tx, rows, labels)
                        raise_problems(problems)
                        result = write_checked(self.tx, kind, checked)
                    report.created += result.created
                    report.updated += result.updated
                    report.unchanged += len(rows) - result.created - result.updated

    def write_held(self) -> None:
        """Write the held refunds (:data:`_HELD`) not rejected since, read again from the
        file with the external ids the check pass gave them: normalised (their customers
        resolved, their ``refund_of`` checked again, now against the written file), not
        validated again."""
        if not self.scratch.any(_HELD):
            return
        report = self.report
        known = self._known_customers()
        with self._bar("writing", self.source.size) as tick:
            for chunk in self._batches(tick):
                first, last = chunk[0].line, chunk[-1].line
                held = self.scratch.held_between(first, last)
                for line in self.scratch.rejected_between(first, last):
                    held.pop(line, None)
                rows, labels = [], []
                for record in chunk:
                    if record.line in held:
                        row, _ = self.reader(record.values)
                        row["external_id"] = held[record.line]
                        rows.append(row)
                        labels.append(f"line {record.line}")
                if not rows:
                    continue
                kind = InteractionRows(self.create_customers, known_customers=known,
                                       create_hint=_CREATE_HINT)
                with collector_paused():
                    checked, problems = kind.normalise(self.tx, rows, labels)
                    raise_problems(problems)
                    new_customers = {row["customer"] for row in checked.rows
                                     if row["customer_id"] is None}
                    result = write_checked(self.tx, kind, checked)
                if self.checked_customers is not None:
                    self._check_customer_references(checked.rows)
                report.created += result.created
                report.unchanged += len(rows) - result.created
                report.new_customers += len(new_customers)

    def _deferred_rows(self, chunk) -> tuple[list[dict], list[str]]:
        """The rows of ``chunk``'s lines that wait for their organisation and were not
        rejected, labelled."""
        first, last = chunk[0].line, chunk[-1].line
        line = _PENDING_ORGS.c.line
        waiting = set(self.scratch.conn.execute(
            select(line).where(line.between(first, last))).scalars())
        waiting -= self.scratch.rejected_between(first, last)
        rows, labels = [], []
        for record in chunk:
            if record.line in waiting:
                row, _ = self.reader(record.values)
                rows.append(row)
                labels.append(f"line {record.line}")
        return rows, labels

    def _bar(self, label: str, length: int):
        if self.progress is None:
            return contextlib.nullcontext(None)
        return self.progress(label, length)


def _stored_interaction_ids(conn, external_ids: list[str]) -> set[str]:
    t = tables.interactions
    query = select(t.c.external_id).where(t.c.external_id.in_(bindparam("ids", expanding=True)))
    return {row[0] for row in select_in(conn, query, "ids", external_ids)}


def _stored_organisations(conn, refs: set[str]) -> set[str]:
    c = tables.customers.c
    query = select(c.external_id).where(c.external_id.in_(bindparam("refs", expanding=True)),
                                        c.type == "organisation")
    return {row[0] for row in select_in(conn, query, "refs", sorted(refs))}


__all__ = ["ImportRejected", "ImportReport", "KINDS", "MAX_KEPT_PROBLEMS", "checked_import",
           "import_file"]
