"""The write pipeline shared by customers and interactions.

normalise (core checks) → validate (``crmkit_validate_*``) → enrich
(``crmkit_enrich_*``) → persist (one executemany per batch, ids allocated as
one range) → react (``crmkit_react_*`` with the whole batch) → events delivered
→ commit → after-commit.

This module owns that sequence (:func:`check`, :func:`write_checked`,
:func:`write_batch`); each kind of row supplies only what differs (a
:class:`RowKind`: its normalise and persist steps).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import re
from typing import Any, Callable, Hashable, Iterable, Iterator, Protocol, Sequence

import attrs
from sqlalchemy import event, func, select

from . import tables
from .errors import PluginError, ValidationError
from .models import Batch, WriteResult
from .transaction import Transaction
from .webhooks import queue_interaction_deliveries

log = logging.getLogger("crmkit.pipeline")

Problem = tuple[str, str, str]
"""``(where, field, message)``: ``where`` is ``row N``, ``line N`` or :data:`ONE_RECORD`."""
ONE_RECORD = ""
"""The label of the record of a single-record write (``crm.customers.add`` and ``update``,
``crm.interactions.record``, an API write of one object): none, so that its problems read
``field: message`` (:meth:`crmkit.errors.ValidationError.from_problems`), not ``row 1: …``."""


@attrs.define
class Checked:
    """Rows that passed the checks, ready for enrich and persist."""

    rows: list[dict[str, Any]]
    """The rows to insert (those the validate and enrich hooks see)."""
    labels: list[str]
    """Each row's ``row N`` / ``line N`` (:data:`ONE_RECORD` for a single record)."""
    updates: list[Any] = attrs.field(factory=list)
    """Changes to stored rows (customers' upserts), persisted beside the inserts."""

    def without(self, bad: set[str]) -> "Checked":
        """The rows whose label is not in ``bad``."""
        kept = [(row, where) for row, where in zip(self.rows, self.labels) if where not in bad]
        return Checked([row for row, _ in kept], [where for _, where in kept], self.updates)


class RowKind(Protocol):
    """What one kind of row supplies to the pipeline; the pipeline owns the sequence."""

    name: str
    """The table, and the suffix of its hooks (``crmkit_validate_<name>``, …)."""
    enrich_hook: str | None
    """The enrich hook of this kind, if it has one."""

    def normalise(self, tx: Transaction, chunk: list[Any], labels: list[str]
                  ) -> tuple[Checked, list[Problem]]:
        """The core checks: the normalised good rows and every problem."""

    def before_enrich(self, tx: Transaction, checked: Checked) -> None:
        """Prepare the rows for the enrich hook (which may change them in place)."""

    def persist(self, tx: Transaction, checked: Checked) -> tuple[Batch | None, WriteResult]:
        """Store the rows: the batch of inserted rows (or None) and the created/updated counts."""


def check(tx: Transaction, kind: RowKind, chunk: list[Any], labels: list[str]
          ) -> tuple[Checked, list[Problem]]:
    """normalise → validate: the rows that passed every check, and every problem."""
    checked, problems = kind.normalise(tx, chunk, labels)
    if checked.rows:
        found = plugin_problems(tx, f"crmkit_validate_{kind.name}", checked.rows, checked.labels)
        if found:
            problems.extend(found)
            checked = checked.without({where for where, _, _ in found})
    return checked, problems


def write_checked(tx: Transaction, kind: RowKind, checked: Checked) -> WriteResult:
    """enrich → persist → react → events, for rows :func:`check` passed (never checked again).

    The result counts what was created and updated.
    """
    if kind.enrich_hook and checked.rows and tx.crm.hooks.impls(kind.enrich_hook):
        kind.before_enrich(tx, checked)
        tx.crm.hooks.call(kind.enrich_hook, tx, rows=checked.rows)
    batch, result = kind.persist(tx, checked)
    if batch is not None:
        react(tx, kind.name, batch)
    tx.deliver_events()
    return result


def write_batch(tx: Transaction, kind: RowKind, chunk: list[Any], labels: list[str]
                ) -> WriteResult:
    """The whole pipeline for one batch inside ``tx``: any problem raises a ValidationError
    and writes nothing; rows neither created nor updated count as unchanged."""
    checked, problems = check(tx, kind, chunk, labels)
    raise_problems(problems)
    result = write_checked(tx, kind, checked)
    result.unchanged = len(chunk) - result.created - result.updated
    return result


def batched(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Yield lists of at most ``size`` items without materialising the iterable."""
    if size < 1:
        raise ValueError("batch_size must be at least 1")
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while one batch is written.

    A batch allocates hundreds of thousands of short-lived containers (rows,
    payloads, parameters) that reference counting frees anyway, yet each
    allocation burst makes the collector walk every live object of the process,
    several times per batch, which is slow when the caller holds many rows in
    memory.  Cycles made during the batch are collected after it.  A collector
    the caller already disabled stays disabled.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def plugin_problems(tx: Transaction, hook: str, rows: list[dict[str, Any]],
                    labels: Sequence[str]) -> list[Problem]:
    """Run a ``crmkit_validate_*`` hook and turn its ``(index, field, message)`` into problems."""
    problems: list[Problem] = []
    for plugin, result in tx.crm.hooks.call(hook, tx, rows=rows):
        for item in result or ():
            try:
                index, field, message = item
                where = labels[index]
            except (TypeError, ValueError, IndexError):
                raise PluginError(
                    f"plugin {plugin!r}: {hook} must return (index, field, message) tuples, "
                    f"got {item!r}"
                ) from None
            problems.append((where, field, f"{message} [{plugin}]"))
    return problems


def record_fits(record: Any, where: str, fields: Sequence[str], required: Sequence[str],
                problems: list[Problem]) -> bool:
    """Whether one record has the shape of a row: a mapping of known ``fields`` with every
    ``required`` one given (not None, not blank text).  Otherwise its problems are appended
    (not a mapping; the first unknown field, naming the allowed ones; each required field)."""
    if not isinstance(record, dict):
        problems.append((where, "row",
                         f"expected a mapping of fields, got {type(record).__name__}"))
        return False
    unknown = sorted(set(record) - set(fields))
    if unknown:
        problems.append((where, unknown[0], f"unknown field (allowed: {', '.join(fields)})"))
        return False
    missing = [(where, field, "required") for field in required
               if record.get(field) is None or isinstance(record[field], str)
               and not record[field].strip()]
    problems.extend(missing)
    return not missing


def drop_repeats(rows: Sequence[dict[str, Any]], labels: Sequence[str], problems: list[Problem],
                 key: Callable[[dict[str, Any]], Hashable | None], field: str,
                 name: Callable[[dict[str, Any]], str],
                 differences: Callable[[dict[str, Any], dict[str, Any]], str] | None = None,
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of one batch with each ``key`` once: the one rule for ids repeated in a batch.

    The first row of a key is kept; a later one with the same content is dropped (it
    changes nothing), one with different content is a problem ``(where, field, "<name>
    repeats <first row's label> with different <what>")``, ``what`` being
    ``differences(first, later)`` (empty: the same) or, without it, ``content``.
    Rows whose key is None are all kept.  Returns the kept rows and their labels.
    """
    first_of: dict[Hashable, int] = {}
    kept: list[dict[str, Any]] = []
    kept_labels: list[str] = []
    for row, where in zip(rows, labels):
        value = key(row)
        first = None if value is None else first_of.get(value)
        if first is None:
            if value is not None:
                first_of[value] = len(kept)
            kept.append(row)
            kept_labels.append(where)
            continue
        what = (differences(kept[first], row) if differences is not None
                else "content" if kept[first] != row else "")
        if what:
            problems.append((where, field, f"{name(row)} repeats {kept_labels[first]} with "
                             f"different {what}"))
    return kept, kept_labels


def raise_problems(problems: list[Problem]) -> None:
    """Raise one ValidationError listing every problem, if there are any."""
    if problems:
        problems.sort(key=_problem_order)
        raise ValidationError.from_problems(problems)


def _problem_order(problem: Problem) -> tuple[int, str]:
    where = problem[0]
    number = where.rsplit(" ", 1)[-1]
    return (int(number) if number.isdigit() else 0, where)


REMOVED_ROWS = "crmkit_removed_rows"
"""Key of ``Connection.info``, set when a statement that may remove rows (``DELETE``,
``TRUNCATE``) ran on the connection (:func:`watch_removals`)."""
_REMOVES_ROWS = re.compile(r"\b(DELETE|TRUNCATE)\b", re.IGNORECASE)


def watch_removals(engine) -> None:
    """Mark a connection (:data:`REMOVED_ROWS`) whenever a statement that may remove rows runs
    on it, so that :func:`react` counts a batch's rows again only after a plugin that ran one."""
    def mark(conn, _cursor, statement, *_args) -> None:
        if _REMOVES_ROWS.search(statement):
            conn.info[REMOVED_ROWS] = True

    event.listen(engine, "before_cursor_execute", mark)


def react(tx: Transaction, kind: str, batch: Batch) -> None:
    """Call the react hooks of ``kind`` with the persisted batch, deliver its events, and
    remember the batch for the after-commit hooks.

    The batch's rows must all still be there afterwards: after each plugin's hook that ran a
    statement that may remove rows they are counted, and a plugin that deleted any is named
    in a PluginError (the transaction rolls back); once more after the last hook, for a
    removal through the database driver's own cursor, which crmkit does not see.
    """
    before = len(tx.delivered)
    conn = tx.conn
    table = tables.metadata.tables[kind]
    batch_rows = (select(func.count()).select_from(table)
                  .where(table.c.id.between(batch.first_id, batch.last_id)))

    def rows_still_there(plugin: str | None) -> None:
        left = conn.execute(batch_rows).scalar_one()
        if left != len(batch.rows):
            who = (f"plugin {plugin!r}" if plugin is not None else
                   "a plugin (through the database driver's own cursor: one of "
                   f"{', '.join(tx.crm.enabled_plugins())})")
            raise PluginError(f"{who} deleted {len(batch.rows) - left} of the "
                              f"{len(batch.rows)} {kind} being written in crmkit_react_{kind}; "
                              "nothing of this command was written")

    def after_each(plugin: str) -> None:
        if conn.info.pop(REMOVED_ROWS, False):
            rows_still_there(plugin)

    hook = f"crmkit_react_{kind}"
    if tx.crm.hooks.impls(hook):
        conn.info.pop(REMOVED_ROWS, None)  # what ran before the react step removed none of these
        # crmkit_react_interactions delivers the batch's interaction.recorded events (not stored
        # per row, at the depth of an event emitted now): what it emits is one event deeper, as
        # in crmkit_on_events.  customer.created is an event of its own, delivered after.
        cause = tx.caused_by(tx.depth) if kind == "interactions" else contextlib.nullcontext()
        with cause:
            tx.crm.hooks.call(hook, tx, after_each=after_each, batch=batch)
        rows_still_there(None)
    if kind == "interactions":
        queue_interaction_deliveries(tx, batch)
    tx.deliver_events()
    events = tx.delivered[before:]
    del tx.delivered[before:]  # handed on with the batch: a long transaction keeps only what it needs
    tx.wrote(kind, batch, events)


def after_commit(crm, written: list[tuple[str, Batch, list]]) -> list[str]:
    """Run after-commit hooks for each written batch on a fresh connection.

    Returns (and logs as warnings) the failures: committed data is never undone.
    """
    impls = crm.hooks.impls("crmkit_after_commit")
    if not impls or not written:
        return []
    failures: list[str] = []
    with crm.connect() as conn:
        tx = Transaction(crm, conn, crm.actor)
        for kind, batch, events in written:
            for plugin, function, argnames in impls:
                args = {"ctx": tx.context(plugin), "kind": kind, "batch": batch, "events": events}
                try:
                    function(**{k: args[k] for k in argnames})
                    conn.commit()
                except Exception as exc:  # reported, never undoes committed data
                    conn.rollback()
                    message = f"plugin {plugin!r} failed after commit: {type(exc).__name__}: {exc}"
                    log.warning(message)
                    failures.append(message)
    return failures


def run_batches(crm, rows: Iterable[Any], batch_size: int, atomic: bool,
                write_batch) -> WriteResult:
    """Drive ``write_batch(tx, chunk, offset) -> WriteResult`` over ``rows`` in batches.

    Each batch is its own transaction, run again when PostgreSQL aborts it for a
    concurrent one (``CRM.run_transaction``), unless ``atomic`` (then one transaction
    for all, whose after-commit hooks get batches without rows: select them
    by id range), written with the garbage collector paused.  After-commit
    failures are added to the result.
    """
    total = WriteResult()
    offset = 0
    if atomic:
        with crm.transaction() as tx:
            tx.keep_rows = False
            for chunk in batched(rows, batch_size):
                with collector_paused():
                    total.add(write_batch(tx, chunk, offset))
                offset += len(chunk)
        total.after_commit_errors.extend(tx.after_commit_errors)
        return total
    for chunk in batched(rows, batch_size):
        with collector_paused():
            tx, result = crm.run_transaction(
                lambda tx, chunk=chunk, offset=offset: (tx, write_batch(tx, chunk, offset)))
        total.add(result)
        offset += len(chunk)
        total.after_commit_errors.extend(tx.after_commit_errors)
    return total


__all__ = [
    "Problem", "ONE_RECORD", "Checked", "RowKind", "check", "write_checked", "write_batch", "batched", "collector_paused", "plugin_problems", "record_fits", "drop_repeats", "raise_problems", "react",
    "after_commit", "run_batches",
]
