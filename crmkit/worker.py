"""``crmkit worker``: the one place that runs deferred work for the core and every plugin.

Deferred work lives in outbox tables written in the same transaction as the change that
caused it (the core's ``webhook_deliveries``; a plugin's own outbox).  A :class:`Job` handles
one batch of due rows at a time; the core contributes ``webhooks.deliver`` and each enabled
plugin its own through the ``crmkit_worker_jobs`` hook.

Jobs take their rows with :func:`claim_due`: in one short transaction it selects due rows
(``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers never take the same row and
never wait for each other; under SQLite's single write lock there) and moves their due time
forward by a *lease*.  The job then does the slow part (an HTTP request, an SMTP
conversation) outside any transaction and records each result.  A worker that dies
mid-batch leaves its rows to be claimed again once the lease runs out: nothing is lost, and
only work that was in flight can be done twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import uuid
from typing import TYPE_CHECKING, Any, Callable, Iterable

import attrs
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.sql.elements import ColumnElement

from .errors import CRMError, PluginError

if TYPE_CHECKING:
    from .app import CRM

log = logging.getLogger("crmkit.worker")

DEFAULT_BATCH_SIZE = 100
"""Rows a job claims at a time unless ``crmkit worker --batch-size`` says otherwise."""

DEFAULT_POLL_SECONDS = 1.0
"""How long an idle worker waits before looking for due work again."""


@attrs.frozen
class WorkContext:
    """What a job's ``run`` receives: the CRM, this worker's id, the time the batch started
    (the CRM clock), how many rows to take at most, and ``stop``, set once the worker is
    stopping (a job whose items are slow hands back the rest of its batch then)."""

    crm: "CRM"
    worker_id: str
    now: dt.datetime
    batch_size: int
    stop: threading.Event = attrs.field(factory=threading.Event)


@attrs.frozen
class Job:
    """One kind of deferred work.  ``run(ctx)`` handles ONE batch of due work and returns how
    many items it handled (0 when nothing is due now); the worker calls it again while it
    returns more than 0.  ``name`` is ``<owner>.<what>``: ``webhooks.deliver``."""

    name: str
    run: Callable[[WorkContext], int]


def claim_due(ctx: WorkContext, table: Table, *, lease: dt.timedelta,
              where: Iterable[ColumnElement] = (), due_column: str = "next_attempt_at",
              values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Claim up to ``ctx.batch_size`` due rows of the outbox ``table`` and return them.

    A row is due when ``due_column <= ctx.now`` and every condition in ``where`` holds
    (typically ``table.c.status == "pending"``); the earliest due come first.  In one short
    transaction the claimed rows get ``due_column = ctx.now + lease`` and ``values`` (for
    example ``{"attempts": table.c.attempts + 1}``), so no other worker takes them while
    this one works; the rows are returned as they are after that update.  On PostgreSQL the
    rows are selected ``FOR UPDATE SKIP LOCKED``: several workers claim disjoint batches at
    once.  On SQLite the write transaction's lock makes the claim atomic.

    Choose ``lease`` longer than handling the whole batch can take: when it runs out, the
    rows are due again (that is how the work of a worker that died is picked up).  Record
    each item's outcome (done, or a new due time) as soon as it is known.
    """
    key = _single_key(table)
    due = table.c[due_column]
    query = (select(key).where(due <= ctx.now, *where).order_by(due, key)
             .limit(ctx.batch_size).with_for_update(skip_locked=True))
    changes = {due_column: ctx.now + lease, **(values or {})}

    def claim(tx) -> list[dict[str, Any]]:
        ids = list(tx.conn.execute(query).scalars())
        if not ids:
            return []
        chosen = key.in_(bindparam("claimed", expanding=True))
        tx.conn.execute(update(table).where(chosen).values(changes), {"claimed": ids})
        rows = tx.conn.execute(select(table).where(chosen).order_by(due, key),
                               {"claimed": ids}).mappings()
        return [dict(row) for row in rows]

    return ctx.crm.run_transaction(claim)


def _single_key(table: Table):
    columns = list(table.primary_key.columns)
    if len(columns) != 1:
        raise PluginError(f"claim_due: table {table.name} must have a one-column primary key")
    return columns[0]


def new_worker_id() -> str:
    """``host:pid:random``: tells this worker's log lines from another's."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def collect_jobs(crm: "CRM") -> list[Job]:
    """The core's jobs (``crm.webhooks.jobs()``, ``crm.messages.jobs()``), then each enabled
    plugin's (``crmkit_worker_jobs``), in hook order.

    Plugin state is read afresh, so a plugin enabled while a worker runs gets its jobs run.
    A hook returning something other than Jobs, or two jobs of one name, is a PluginError.
    """
    with crm.read() as conn:
        crm.refresh_plugins(conn)
    jobs = [*crm.webhooks.jobs(), *crm.messages.jobs()]
    owners = {job.name: "core" for job in jobs}
    jobs += [job for _plugin, job in crm.hooks.collect_named(
        "crmkit_worker_jobs", Job, "crmkit.plugin.Job objects", owners, crm=crm)]
    return jobs


@attrs.define
class Worker:
    """Runs every job's batches until nothing is due (:meth:`drain`) or until stopped
    (:meth:`serve`).  ``stop`` is set by a signal handler: the job in hand finishes its
    batch (webhooks: the delivery in hand, handing back the rest), then the worker returns."""

    crm: "CRM"
    batch_size: int = DEFAULT_BATCH_SIZE
    worker_id: str = attrs.field(factory=new_worker_id)
    stop: threading.Event = attrs.field(factory=threading.Event)
    handled: dict[str, int] = attrs.field(factory=dict)
    """Items handled so far, per job."""
    errors: list[str] = attrs.field(factory=list)
    """One line per job batch that failed."""

    def run_round(self, skip: set[str] = frozenset()) -> int:
        """Run one batch of every job (except those in ``skip``); return the items handled.

        A job that raises is added to :attr:`errors` (and to ``skip``, when a mutable set
        is given); the other jobs still run.
        """
        total = 0
        for job in collect_jobs(self.crm):
            if self.stop.is_set():
                break
            if job.name in skip:
                continue
            ctx = WorkContext(self.crm, self.worker_id, self.crm.clock.now(), self.batch_size,
                              self.stop)
            try:
                count = job.run(ctx)
                if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                    raise PluginError(f"its run returned {count!r}, not how many items it "
                                      "handled (0 when nothing was due)")
            except Exception as exc:
                self.errors.append(f"job {job.name} failed: {describe_failure(exc)}")
                if isinstance(skip, set):
                    skip.add(job.name)
                continue
            self.handled[job.name] = self.handled.get(job.name, 0) + count
            total += count
        return total

    def drain(self) -> int:
        """Run rounds until no job has anything due (``crmkit worker --once``); a job that
        failed is not run again (:attr:`errors` says why).  Returns the items handled."""
        failed: set[str] = set()
        total = 0
        while not self.stop.is_set():
            count = self.run_round(failed)
            total += count
            if count == 0:
                break
        return total

    def serve(self, poll_seconds: float = DEFAULT_POLL_SECONDS) -> int:
        """Run rounds until :attr:`stop` is set, waiting ``poll_seconds`` whenever nothing
        was due.  Failures are logged and the worker goes on (a job that failed runs again
        next round; a database that cannot be reached is tried again after the wait), so
        :attr:`errors` stays empty.  Returns the items handled."""
        total = 0
        while not self.stop.is_set():
            try:
                count = self.run_round()
            except CRMError as exc:
                self.errors.append(f"worker round failed: {describe_failure(exc)}")
                count = 0
            for message in self.errors:
                log.error(message)
            self.errors.clear()
            total += count
            if count == 0:
                self.stop.wait(poll_seconds)
        return total


def describe_failure(exc: Exception) -> str:
    """One line for an exception a job raised: a crmkit error's message, a database error
    described, anything else with its type; a database password is never shown."""
    from sqlalchemy.exc import StatementError

    from .db import describe_error, hide_password

    if isinstance(exc, CRMError):
        return hide_password(str(exc))
    if isinstance(exc, StatementError):
        return hide_password(describe_error(exc))
    return f"{type(exc).__name__}: {hide_password(str(exc))}"


__all__ = ["Job", "WorkContext", "Worker", "claim_due", "collect_jobs", "new_worker_id",
           "describe_failure",
           "DEFAULT_BATCH_SIZE", "DEFAULT_POLL_SECONDS"]
