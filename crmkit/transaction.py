"""Units of work: one database transaction, its domain events, and the hook context.

``crm.transaction()`` opens one; nested calls (from a plugin API used inside a
hook, say) join the transaction already open in this thread, so everything a
command does commits or rolls back together.  Events emitted in a transaction
are stored in ``events`` and delivered to ``crmkit_on_events`` before commit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING, Any, Iterator

import attrs
from sqlalchemy import select
from sqlalchemy.engine import Connection

from . import tables
from .bulk import insert_rows
from .db import allocate_ids
from .errors import PluginError
from .models import Batch, Event
from .types import IDENTIFIER, clean_text
from .webhooks import queue_event_deliveries

if TYPE_CHECKING:
    from .app import CRM

MAX_EVENT_DEPTH = 32
"""Events chained deeper than this are a plugin bug: the transaction is rolled back."""


class ReadContext:
    """Read-only work on one connection (a check, a preview, the timeline): what hooks that
    take ``ctx`` get there.  Emitting events or audit rows is refused: nothing is written."""

    def __init__(self, crm: "CRM", conn: Connection, actor: str | None = None):
        self.crm = crm
        self.conn = conn
        active = crm.current_transaction()
        self._depth = 0 if active is None else active.depth
        self.actor = clean_text(crm.actor if actor is None else actor, "actor", IDENTIFIER)
        self._contexts: dict[str, HookContext] = {}
        self.command: str | None = crm.command
        """The command recorded in this transaction's audit rows (erasure redacts it)."""
        self.webhook_subscribers: dict[str, list[int]] | None = None
        """``{event type: [webhook ids]}`` once read (:mod:`crmkit.webhooks`)."""

    def context(self, plugin: str) -> "HookContext":
        """The hook context of ``plugin`` here."""
        ctx = self._contexts.get(plugin)
        if ctx is None:
            ctx = HookContext(self, plugin, self.crm.plugin_config(plugin))
            self._contexts[plugin] = ctx
        return ctx

    def now(self) -> dt.datetime:
        """The CRM clock's current time."""
        return self.crm.clock.now()

    @property
    def depth(self) -> int:
        """The depth an event emitted now gets: how many events led to it (0: none).  A read
        emits nothing, but its hooks see the depth of the work that runs it: 0, or in a write
        transaction (a check a reaction to an event runs) that transaction's depth now."""
        return self._depth

    @contextlib.contextmanager
    def caused_by(self, depth: int) -> Iterator[None]:
        """Inside the block, emitted events were caused by an event at ``depth``: theirs is
        ``depth + 1`` (the chain's length), restored on leaving."""
        outer, self._depth = self._depth, depth + 1
        try:
            yield
        finally:
            self._depth = outer

    def emit(self, type: str, customer_id: int | None = None, payload: dict | None = None,
             source: str = "core") -> None:
        """Refused: a read writes nothing."""
        raise PluginError(f"{_who(source)} emitted {type!r} while only reading (a check, a "
                          "preview or the timeline): events are emitted where rows are written")

    def audit(self, action: str, table_name: str, record_key: str | None,
              changes: dict[str, Any], customer_id: int | None = None) -> None:
        """Refused: a read writes nothing."""
        raise PluginError(f"an audit row ({action} {table_name}) was written while only reading "
                          "(a check, a preview or the timeline)")


def _who(source: str) -> str:
    return "crmkit" if source == "core" else f"plugin {source!r}"


class Transaction(ReadContext):
    """One open write transaction: connection, actor, buffered events."""

    def __init__(self, crm: "CRM", conn: Connection, actor: str):
        super().__init__(crm, conn, actor)
        self._pending: list[dict[str, Any]] = []
        self.emitted: Counter[str] = Counter()
        """How many events of each type this transaction has emitted so far."""
        self.delivered: list[Event] = []
        self.written: list[tuple[str, Batch, list[Event]]] = []
        self.keep_rows = True
        self.after_commit_errors: list[str] = []

    def wrote(self, kind: str, batch: Batch, events: list[Event]) -> None:
        """Remember a persisted batch for the after-commit hooks (without rows unless ``keep_rows``).

        Without rows, nothing is kept when no plugin implements
        ``crmkit_after_commit``: a long transaction (an atomic import) does not
        hold every batch's events.
        """
        if not self.keep_rows:
            if not self.crm.hooks.impls("crmkit_after_commit"):
                return
            batch = Batch(kind, [], batch.first_id, batch.last_id)
        self.written.append((kind, batch, events))

    def emit(self, type: str, customer_id: int | None = None, payload: dict | None = None,
             source: str = "core") -> None:
        """Buffer a domain event; it is stored and delivered before this transaction commits."""
        self.emitted[type] += 1
        self._pending.append(
            {
                "type": type,
                "customer_id": customer_id,
                "occurred_at": self.now(),
                "source": source,
                "depth": self._depth,
                "payload": payload or {},
            }
        )

    def deliver_events(self) -> None:
        """Store pending events and deliver them, round by round, until none are left."""
        while self._pending:
            rows, self._pending = self._pending, []
            depth = rows[0]["depth"]
            if depth >= MAX_EVENT_DEPTH:
                raise PluginError(
                    f"event chain deeper than {MAX_EVENT_DEPTH} (last type {rows[-1]['type']!r}):"
                    " plugins are emitting events in a loop"
                )
            first = allocate_ids(self.conn, tables.events, len(rows))
            for offset, row in enumerate(rows):
                row["id"] = first + offset
            insert_rows(self.conn, tables.events, rows)
            batch = [Event(**row) for row in rows]
            queue_event_deliveries(self, batch)
            self.delivered.extend(batch)
            with self.caused_by(depth):
                self.crm.hooks.call("crmkit_on_events", self, events=batch)

    def audit(self, action: str, table_name: str, record_key: str | None,
              changes: dict[str, Any], customer_id: int | None = None) -> None:
        """Append one audit-log row (who = this transaction's actor, command = its command)."""
        self.audit_many([(action, table_name, record_key, changes, customer_id)])

    def audit_many(self, entries: list[tuple[str, str, str | None, dict[str, Any], int | None]]
                   ) -> None:
        """Append audit-log rows ``(action, table_name, record_key, changes, customer_id)``
        with one executemany."""
        if not entries:
            return
        stamp = {"at": self.now(), "actor": self.actor, "command": self.command}
        insert_rows(self.conn, tables.audit_log, [
            {**stamp, "action": action, "table_name": table_name, "record_key": record_key,
             "customer_id": customer_id, "changes": changes}
            for action, table_name, record_key, changes, customer_id in entries])


@attrs.define
class HookContext:
    """What a hook receives as ``ctx``: the transaction (or, for reads, the read context) seen
    from one plugin."""

    tx: ReadContext
    plugin: str
    config: dict[str, Any]
    _times_enabled: int | None = attrs.field(default=None, init=False)

    @property
    def conn(self) -> Connection:
        """The open connection; everything executed on it commits with the batch."""
        return self.tx.conn

    @property
    def times_enabled(self) -> int:
        """How many times this plugin was enabled in this database: each enable of the plugin
        while disabled (or never enabled) counts one.  State a plugin derives from every
        write, kept with the count it was built under, missed what was written while the
        plugin was disabled when the count differs.  Read once per transaction."""
        if self._times_enabled is None:
            state = tables.plugin_state.c
            self._times_enabled = self.conn.execute(
                select(state.times_enabled).where(state.name == self.plugin)).scalar() or 0
        return self._times_enabled

    @property
    def crm(self) -> "CRM":
        """The CRM this transaction belongs to (for ``crm.plugin(...)`` APIs)."""
        return self.tx.crm

    @property
    def actor(self) -> str:
        """Who is acting (a staff handle or ``system``)."""
        return self.tx.actor

    def now(self) -> dt.datetime:
        """The injectable clock's current time (aware UTC)."""
        return self.tx.now()

    def emit(self, type: str, customer_id: int | None = None, payload: dict | None = None) -> None:
        """Emit a domain event from this plugin (stored and delivered before commit)."""
        self.tx.emit(type, customer_id, payload, source=self.plugin)

    def audit(self, action: str, table_name: str, record_key: str | None,
              changes: dict[str, Any], customer_id: int | None = None) -> None:
        """Append an audit-log row for a change this plugin made."""
        self.tx.audit(action, table_name, record_key, changes, customer_id)

    @property
    def depth(self) -> int:
        """The depth of an event emitted now: how many events led to it (0: none; in
        ``crmkit_react_interactions``, one more than the batch's interactions).  In a read-only
        context (a check, a preview, the timeline) too, where nothing is emitted: a hook shared
        by a check and a write reads the same depth in both (:attr:`ReadContext.depth`)."""
        return self.tx.depth

    def caused_by(self, depth: int):
        """A block whose emitted events were caused by an event at ``depth`` (theirs is
        ``depth + 1``): for work an event started that runs later, such as a rule that
        waits, so that a chain of events keeps its length across the wait."""
        return self.tx.caused_by(depth)


__all__ = ["MAX_EVENT_DEPTH", "ReadContext", "Transaction", "HookContext"]
