"""``CRM``: opens a database, builds the plugin manager, hands out services and transactions."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, TypeVar

import attrs
from sqlalchemy import Text, cast, inspect, null, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DatabaseError as SQLAlchemyDatabaseError
from sqlalchemy.exc import OperationalError

from . import db, migrate, plugins, tables
from .clock import Clock, default_clock
from .config import CORE_SCHEMA, fill_defaults, validate
from .errors import ConfigError, ConflictError, DatabaseError, NotFound, PluginError
from .pipeline import after_commit, watch_removals
from .transaction import Transaction

log = logging.getLogger("crmkit")

T = TypeVar("T")
C = TypeVar("C")

TRANSACTION_ATTEMPTS = 3
"""How often :meth:`CRM.run_transaction` runs its work when PostgreSQL keeps aborting it for a
concurrent transaction (deadlock or serialisation failure)."""

CHECK_ATTEMPTS = 3
"""How many times :meth:`CRM.checked_write` checks again when what its check depends on
changed before the write could start."""

STORED_STATE = (
    select(tables.plugin_state.c.name, tables.plugin_state.c.enabled,
           cast(tables.plugin_state.c.config, Text), tables.plugin_state.c.version)
    .union_all(select(tables.settings.c.name, null(), cast(tables.settings.c.value, Text), null())
               .where(tables.settings.c.name == "core")))
"""Every plugin's ``(name, enabled, config text, version)`` and the core configuration's
``("core", NULL, text, NULL)``: what :meth:`CRM.refresh_plugins` reads for every HTTP request
and write transaction, built once.  The configurations stay text, decoded only when they
changed."""


STATE_LOCK = "crmkit plugin state"
"""The lock (:func:`crmkit.db.lock_until_commit`; on PostgreSQL the advisory lock whose key is
``zlib.crc32`` of this name, 2290669170) on what a write transaction reads as it opens: the
plugins' stored state and the core configuration (:data:`STORED_STATE`).  A write
transaction shares it before reading them; enabling, disabling or configuring a plugin and
changing the core configuration take it exclusively (:meth:`CRM.transaction`).  So a change
waits for the writes in flight, and a write that starts after it waits for it and then reads
what it stored: no write commits unseen by a plugin enabled before it, or scored with a
configuration older than one committed before it started."""

STATE_CHANGE_WAIT_S = 30.0
"""How long a change of the plugins' state or the core configuration waits on PostgreSQL for
the write transactions in flight (a running import) before it gives up, changing nothing;
writes started meanwhile queue behind it that long at most (as SQLite writers wait
:data:`crmkit.db.SQLITE_BUSY_TIMEOUT_S` for one another)."""


@attrs.frozen
class _Loaded:
    """One reading of the stored state (:data:`STORED_STATE`) and what is built from it.  A
    change makes a new one, so a write transaction keeps the one it read (:meth:`CRM._use`)."""

    key: Any
    """The plugins' rows, sorted (None before the first reading)."""
    state: dict[str, dict[str, Any]]
    """``{name: {"enabled", "config", "version"}}``."""
    config_errors: dict[str, str]
    """Why the installed release of an enabled plugin refuses its stored configuration."""
    hooks: plugins.HookCaller
    core_stored: str | None
    """The stored core configuration's text (None: never stored)."""
    core_config: dict[str, Any] | None
    """It validated, defaults filled in (None: not read yet)."""
    apis: dict[str, Any] = attrs.field(factory=dict)
    """The enabled plugins' API objects made so far (:meth:`CRM.plugin`)."""


class _Changed(Exception):
    """What a checked write was checked against changed before it could write
    (:meth:`CRM.checked_write`)."""


class CRM:
    """A crmkit database with its plugins.  Open with :meth:`CRM.open`; use as a context manager.

    >>> with CRM.open("sqlite:///crm.db", create=True) as crm:   # doctest: +SKIP
    ...     crm.customers.add("C1", "Ada Lovelace", email="ada@example.com")
    """

    def __init__(self, url: str, clock: Clock | None = None, actor: str = "system",
                 extra_plugins: dict[str, ModuleType] | None = None):
        self.url = url
        self.engine = db.create(url)
        self._writers = db.WriterQueue(self.engine)
        plugins.guard_transactions(self.engine)
        watch_removals(self.engine)
        self.clock: Clock = clock or default_clock()
        self.actor = actor
        self.command: str = "api"
        self._local = threading.local()
        self.installed = plugins.discover(extra_plugins)
        self.pm = plugins.new_manager()
        self._shared = _Loaded(None, {}, {}, plugins.HookCaller(self.pm, []), None, None)
        """The stored state as last read by any thread (:meth:`_use`)."""

        from .auth import AuthService, TokenService
        from .customers import CustomerService
        from .events import EventLog
        from .interactions import InteractionService
        from .messaging import MessageService
        from .plugin_admin import PluginAdmin
        from .staff import StaffService
        from .webhooks import WebhookService

        self.customers = CustomerService(self)
        """Customers: add, get, find, update, list."""
        self.interactions = InteractionService(self)
        """Interactions: record, record_many, list."""
        self.staff = StaffService(self)
        """Staff members and their teams."""
        self.events = EventLog(self)
        """The append-only domain event log."""
        self.plugins = PluginAdmin(self)
        """Installed plugins: list, enable, disable, configure."""
        self.webhooks = WebhookService(self)
        """Webhooks: add, list, remove, and their delivery log."""
        self.messages = MessageService(self)
        """Outgoing messages: queue them (sent by the worker), list them, tracking links."""
        self.auth = AuthService(self)
        """Authentication (API tokens, passwords) and permission checks."""
        self.tokens = TokenService(self)
        """API tokens of staff members: create, list, revoke."""
        self.applied_migrations: dict[str, list[str]] = {}
        """The revisions applied when this CRM was opened with ``upgrade=True``, per branch
        (the core's, each enabled plugin's); empty when there were none."""

    # -- opening -------------------------------------------------------------

    @classmethod
    def open(cls, url: str, clock: Clock | None = None, *, create: bool = False,
             upgrade: bool = False, actor: str = "system",
             extra_plugins: dict[str, ModuleType] | None = None) -> "CRM":
        """Open the CRM at ``url``.

        ``create=True`` creates the schema of an empty database; ``upgrade=True``
        applies pending migrations.  Without them a missing or outdated schema
        is a :class:`DatabaseError` naming the command that fixes it: crmkit
        never changes a schema silently.  ``extra_plugins`` registers local
        plugin modules (by name) beside the installed ones.
        """
        crm = cls(url, clock=clock, actor=actor, extra_plugins=extra_plugins)
        try:
            crm._check_schema(create=create, upgrade=upgrade)
        except BaseException:
            crm.close()
            raise
        return crm

    def _check_schema(self, create: bool, upgrade: bool) -> None:
        missing = db.missing_sqlite_file(self.engine)
        if missing is not None and not create:
            raise DatabaseError(f"no crmkit database at {missing}; run `crmkit init` first "
                                "(or check --db)")
        if missing is not None and not Path(missing).parent.is_dir():
            raise DatabaseError(f"cannot create the database {missing}: "
                                f"{Path(missing).parent} is not an existing directory (create "
                                "it first, or check --db)")
        with self.connect(write=create or upgrade) as conn:
            current = migrate.current_revisions(conn)
            if not current:
                if not create:
                    raise DatabaseError(
                        f"{db.hide_password(self.url)} has no crmkit schema: run `crmkit init` "
                        "(or CRM.open(url, create=True))"
                    )
                foreign = sorted(inspect(conn).get_table_names())
                if foreign:
                    shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
                    raise DatabaseError(
                        f"{self.url} is not empty and is not a crmkit database (it has "
                        f"{len(foreign)} other table{'s' if len(foreign) != 1 else ''}: {shown}); "
                        "crmkit creates its schema only in an empty database: give another --db")
                migrate.upgrade(conn, "core@head")
                conn.commit()
                return
            self.refresh_plugins(conn)
            todo = self.pending_migrations(conn)
            if any(todo.values()):
                if not upgrade:
                    names = ", ".join(f"{b} ({len(r)})" for b, r in todo.items() if r)
                    raise DatabaseError(
                        f"{db.hide_password(self.url)} needs schema migrations: {names}; "
                        "run `crmkit db upgrade`"
                    )
                self.upgrade_schema(conn)
                conn.commit()
                self.applied_migrations = {branch: list(revisions)
                                           for branch, revisions in todo.items() if revisions}

    def has_schema(self) -> bool:
        """Whether the database exists and holds a crmkit schema (creates no missing SQLite file)."""
        if db.missing_sqlite_file(self.engine) is not None:
            return False
        with self.read() as conn:
            return bool(migrate.current_revisions(conn))

    def migration_branches(self) -> dict[str, Path | None]:
        """The core's branch and each enabled plugin's that has migrations, with their location."""
        branches: dict[str, Path | None] = {migrate.CORE_BRANCH: None}
        for name in self.hooks.order:
            location = self.hooks.call_one(name, "crmkit_migrations", None)
            if location is not None:
                branches[name] = location
        return branches

    def pending_migrations(self, conn: Connection) -> dict[str, list[str]]:
        """Revisions not yet applied, for the core and each enabled plugin."""
        return migrate.pending(conn, self.migration_branches())

    def upgrade_schema(self, conn: Connection) -> None:
        """Apply every pending migration of the core and the enabled plugins."""
        for branch, revisions in self.pending_migrations(conn).items():
            if revisions:
                location = (None if branch == migrate.CORE_BRANCH else
                            self.hooks.call_one(branch, "crmkit_migrations", None))
                migrate.upgrade_branch(conn, branch, location)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> "CRM":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- connections and transactions -----------------------------------------

    @contextlib.contextmanager
    def connect(self, write: bool = False) -> Iterator[Connection]:
        """A raw connection (SQLite ``BEGIN IMMEDIATE`` when ``write``); caller commits."""
        try:
            with self._writers.turn() if write else contextlib.nullcontext(), \
                    self.engine.connect() as conn:
                if write:
                    conn = conn.execution_options(**{db.WRITE: True})
                yield conn
        except db.WriteTurnTimeout:
            raise DatabaseError(_locked_message(self.url)) from None
        except Exception as exc:
            cause = db.concurrency_abort(exc)
            if cause is not None and not isinstance(exc, ConflictError):
                raise ConflictError(
                    f"another command changed the same rows at the same time ({cause}); "
                    "nothing of this command was written: run it again") from exc
            if isinstance(exc, OperationalError):
                raise DatabaseError(_operational_message(self.url, exc)) from exc
            if (isinstance(exc, SQLAlchemyDatabaseError)
                    and "file is not a database" in str(exc.orig)):
                raise DatabaseError(f"{self.url} is not a SQLite database file (check --db)"
                                    ) from exc
            raise

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection (a consistent snapshot on PostgreSQL and in WAL mode): the
        write transaction's when this thread has one open, the shared one inside
        :meth:`snapshot`, else a connection of its own."""
        active = self.current_transaction()
        if active is not None:
            yield active.conn
            return
        shared = getattr(self._local, "snapshot", None)
        if shared is not None:
            yield shared
            return
        with self.connect() as conn:
            yield conn
            conn.rollback()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every :meth:`read` in this thread inside the block shares one read connection: one
        snapshot of the data (from the first read on; PostgreSQL's ``REPEATABLE READ``) for
        a whole page, and one connection taken from the pool instead of one per read.

        A write transaction opened inside the block uses its own connection, and its reads
        see its writes; the block's reads after it still see the snapshot.  Inside a write
        transaction, or another snapshot, this does nothing."""
        if self.current_transaction() is not None or getattr(self._local, "snapshot", None):
            yield
            return
        with self.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            self._local.snapshot = conn
            try:
                yield
            finally:
                self._local.snapshot = None
            conn.rollback()  # (after an error, returning the connection to the pool does it)

    @contextlib.contextmanager
    def acting_as(self, actor: str, command: str) -> Iterator[None]:
        """The write transactions this thread opens in the block act as ``actor`` (unless
        given one) and record ``command`` in their audit rows: for work that opens its own
        transactions, such as plugin administration (whose checks run before its write)."""
        outer = getattr(self._local, "acting", None)
        self._local.acting = (actor, command)
        try:
            yield
        finally:
            self._local.acting = outer

    def current_transaction(self) -> Transaction | None:
        """The write transaction open in this thread, if any."""
        return getattr(self._local, "tx", None)

    @contextlib.contextmanager
    def transaction(self, actor: str | None = None, require_plugins: bool = True,
                    row_foreign_key_checks: bool = True, exclusive: bool = False
                    ) -> Iterator[Transaction]:
        """Open a write transaction, or join the one already open in this thread.

        The outermost transaction stores and delivers emitted events before it
        commits; an exception rolls everything back.  Writes are refused while
        an enabled plugin is missing or broken, except with
        ``require_plugins=False`` (plugin administration, which must be able to
        disable it; sign-in bookkeeping, which no plugin sees).

        On PostgreSQL a new transaction takes :data:`STATE_LOCK` before it reads the plugins'
        state and the core configuration: shared, or with ``exclusive`` (the transaction
        changes them: plugin administration, the core configuration) exclusively.  One with
        ``require_plugins=False`` and not ``exclusive`` takes none, so sign-ins never queue
        behind a plugin change.  Joining with ``exclusive`` takes it exclusively in the open
        transaction and reads the state again.

        ``row_foreign_key_checks=False`` (SQLite; ignored when
        joining): the database checks no foreign key of the rows written, so the
        caller must check the references it wrote before the transaction ends
        (a bulk load, whose rows' per-row parent lookups cost a sixth of their
        insert).  A caller that cannot know every row written — a plugin's hook
        may write any table — must leave it on.

        Inside :meth:`run_in_one_transaction` the first opens the transaction, kept open
        until its work returns; an exception leaving that first block rolls it back at once
        (nothing was written before it), and the next block opens a new one.
        """
        active = self.current_transaction()
        if active is not None:
            if exclusive:
                self._lock_and_refresh(active.conn, exclusive)
            yield active
            return
        held = getattr(self._local, "held", None)
        opened = self._begin(actor, require_plugins, row_foreign_key_checks, exclusive)
        if held is None:
            with opened as tx:
                yield tx
            return
        tx = held.enter_context(opened)
        try:
            yield tx
        except BaseException:
            held.__exit__(*sys.exc_info())  # rolled back: nothing was written before it
            raise

    @contextlib.contextmanager
    def _begin(self, actor: str | None, require_plugins: bool, row_foreign_key_checks: bool,
               exclusive: bool) -> Iterator[Transaction]:
        """A new write transaction (:meth:`transaction`'s, when none is open), then its
        after-commit hooks: those of the plugins' state it read (:meth:`_use`)."""
        outer = getattr(self._local, "pinned", None)  # (opened by another's after-commit hook)
        try:
            with self._opened(actor, require_plugins, row_foreign_key_checks, exclusive) as tx:
                yield tx
            tx.after_commit_errors = after_commit(self, tx.written)
        finally:
            self._local.pinned = outer

    @contextlib.contextmanager
    def _opened(self, actor: str | None, require_plugins: bool, row_foreign_key_checks: bool,
                exclusive: bool) -> Iterator[Transaction]:
        """The write transaction of :meth:`_begin`, committed when the block ends."""
        with self.connect(write=True) as conn:
            if not row_foreign_key_checks and conn.dialect.name == "sqlite":
                conn = conn.execution_options(**{db.ROW_FOREIGN_KEY_CHECKS: False})
            try:
                with conn.begin():
                    acting, command = getattr(self._local, "acting", None) or (self.actor,
                                                                               self.command)
                    tx = Transaction(self, conn, actor or acting)
                    tx.command = command
                    self._local.tx = tx
                    try:
                        if require_plugins or exclusive:
                            self._lock_and_refresh(conn, exclusive)
                        else:
                            self.refresh_plugins(conn)
                        if require_plugins:
                            self.require_working_plugins()
                        yield tx
                        tx.deliver_events()
                    finally:
                        self._local.tx = None
            except BaseException:
                # a commit refused inside a hook closed SQLAlchemy's transaction, not the
                # database's: roll that back too (a no-op when nothing is open)
                if not conn.invalidated:
                    conn.connection.driver_connection.rollback()
                raise
            finally:
                if not conn.get_execution_options().get(db.ROW_FOREIGN_KEY_CHECKS, True) \
                        and not conn.invalidated:
                    _foreign_key_checks_back_on(conn)

    def run_transaction(self, work: Callable[[Transaction], T], actor: str | None = None,
                        require_plugins: bool = True, exclusive: bool = False) -> T:
        """Run ``work(tx)`` in a write transaction (see :meth:`transaction`, which takes
        ``actor``, ``require_plugins`` and ``exclusive``) and return its result.

        When PostgreSQL aborts the transaction because of a concurrent one (a deadlock or a
        serialisation failure; nothing was written), ``work`` runs again in a new
        transaction, at most :data:`TRANSACTION_ATTEMPTS` times in all; then the
        :class:`ConflictError` saying so is raised.  ``work`` must read what it relies on
        inside ``tx``.  Inside an open transaction, or in :meth:`run_in_one_transaction`'s
        work, it joins it and runs once: the outermost runner retries.
        """
        def once() -> T:
            with self.transaction(actor, require_plugins, exclusive=exclusive) as tx:
                return work(tx)

        if self._joining():
            return once()
        return self._retried(once)

    def run_in_one_transaction(self, work: Callable[[], T]) -> T:
        """Run ``work()`` so that the write transactions it opens are one: opened by the
        first (so what ``work`` does before, such as :meth:`checked_write`'s check, holds no
        write lock), joined by the rest, committed when ``work`` returns and rolled back if
        it raises (see :meth:`transaction`).  For work that checks before it writes and must
        write something more with what it wrote: an HTTP request's idempotency key.

        When PostgreSQL aborts the transaction for a concurrent one, ``work`` runs again from
        the start (it committed nothing), as :meth:`run_transaction`'s work does.  Inside an
        open transaction ``work`` joins it and runs once."""
        if self._joining():
            return work()

        def once() -> T:
            with contextlib.ExitStack() as held:
                self._local.held = held
                try:
                    return work()
                finally:
                    self._local.held = None  # (before it commits: what runs after opens its own)

        return self._retried(once)

    def _joining(self) -> bool:
        """Whether a write transaction this thread opens now joins one: one is open, or
        :meth:`run_in_one_transaction` holds (or will hold) one."""
        return (self.current_transaction() is not None
                or getattr(self._local, "held", None) is not None)

    def _retried(self, once: Callable[[], T]) -> T:
        """``once()``, run again when PostgreSQL aborted its transaction for a concurrent one,
        at most :data:`TRANSACTION_ATTEMPTS` times in all (:meth:`run_transaction`)."""
        attempt = 1
        while True:
            try:
                return once()
            except ConflictError as exc:
                if db.concurrency_abort(exc) is None:
                    raise
                if attempt >= TRANSACTION_ATTEMPTS:
                    raise ConflictError(f"{exc} (aborted {attempt} times in a row)") from exc
                log.info("transaction aborted by a concurrent one (attempt %d of %d): %s",
                         attempt, TRANSACTION_ATTEMPTS, exc)
                attempt += 1

    def checked_write(self, what: str, depends_on: Callable[[Connection], Any],
                      check: Callable[[Any], C], write: Callable[[Transaction, C], T],
                      exclusive: bool = False, *,
                      row_foreign_key_checks: Callable[[C], bool] | None = None,
                      run_again: bool = True) -> T:
        """Run ``check(seen)`` before a write transaction opens, then ``write(tx, its result)``
        in it; return what ``write`` returns.  For a check that may wait (resolving a host
        name) or read long (a sweep's), which no other writer should wait with (SQLite has
        one writer at a time).

        ``seen`` is ``depends_on(conn)``, called just after the plugins' stored state and the
        core configuration were loaded (:meth:`refresh_plugins`): what the check reads.
        ``write`` runs only if ``depends_on`` gives the same in the transaction, so what is
        written was checked against what is current; otherwise ``check`` runs again, at most
        :data:`CHECK_ATTEMPTS` times in all, then a ConflictError starting with ``what``
        (``"plugin 'x' was not configured"``).  The transaction holds :data:`STATE_LOCK`
        from before it reads the state (whether or not a core configuration was ever
        stored): shared, or ``exclusive`` for a change of the plugins' state or the core
        configuration, which is not refused while an enabled plugin is broken (see
        :meth:`transaction`'s ``require_plugins``).  So such a change and a write checked
        against what it changes never both commit unseen by each other.  The transaction runs
        as :meth:`run_transaction`'s: one PostgreSQL aborts for a concurrent one runs again,
        locking and comparing again first; with ``run_again=False`` it is not (the
        ConflictError saying so is raised): for a write too long to repeat unasked, an import.
        ``row_foreign_key_checks(checked)``, when given, is the transaction's
        ``row_foreign_key_checks`` (see :meth:`transaction`), so decided by the check and
        decided again with it.  Called inside a write transaction this thread
        opened, everything runs in that one; in :meth:`run_in_one_transaction`'s work before
        its first write, the check runs in none and the write opens the transaction held
        until the work returns."""
        for _ in range(CHECK_ATTEMPTS):
            with self.read() as conn:
                self.refresh_plugins(conn)
                seen = depends_on(conn)
            checked = check(seen)

            checks = row_foreign_key_checks is None or row_foreign_key_checks(checked)

            def once() -> T:
                with self.transaction(require_plugins=not exclusive,
                                      row_foreign_key_checks=checks, exclusive=exclusive) as tx:
                    if depends_on(tx.conn) != seen:
                        raise _Changed  # rolled back, so that the check runs again in none
                    return write(tx, checked)

            try:
                return once() if self._joining() or not run_again else self._retried(once)
            except _Changed:
                continue
        raise ConflictError(
            f"{what}: what it was checked against changed while it was being checked, "
            f"{CHECK_ATTEMPTS} times in a row; nothing was written: run it again")

    # -- plugins ---------------------------------------------------------------

    def _lock_and_refresh(self, conn: Connection, exclusive: bool) -> None:
        """Take :data:`STATE_LOCK` (shared unless ``exclusive``), then :meth:`refresh_plugins`.

        Two statements: one reading the state while it locks would read it with the snapshot
        taken before it waited (PostgreSQL's READ COMMITTED takes one per statement), so a
        change committed during the wait would go unseen.  Exclusively, it waits at most
        :data:`STATE_CHANGE_WAIT_S` for the writes in flight, then raises DatabaseError."""
        try:
            db.lock_until_commit(conn, STATE_LOCK, exclusive,
                                 STATE_CHANGE_WAIT_S if exclusive else None)
        except db.LockWaitTimeout:
            raise DatabaseError(
                f"{db.hide_password(self.url)}: other writes (an import?) kept running for more "
                f"than {STATE_CHANGE_WAIT_S:g} s, which a change of the plugins or of the core "
                "config waits for; nothing was changed: try again once they are done") from None
        self.refresh_plugins(conn)

    def refresh_plugins(self, conn: Connection) -> None:
        """Load plugin state and the core configuration from the database (one statement,
        :data:`STORED_STATE`); rebuild hook order when the plugin state changed.

        An enabled plugin's stored configuration gets the defaults of keys its installed
        schema added since it was stored (a plugin upgraded in place).  One the installed
        schema refuses (a release changed a key's type, say) blocks writes, as a broken
        plugin does (:meth:`require_working_plugins`)."""
        rows, core = [], None
        for row in conn.execute(STORED_STATE):
            if row[1] is None:
                core = row[2]
            else:
                rows.append(tuple(row))
        key = tuple(sorted(rows))
        loaded = self._loaded
        if key != loaded.key:
            loaded = self._shared if key == self._shared.key else self._built(key, loaded)
        self._use(_with_core_config(loaded, core))

    @property
    def _loaded(self) -> _Loaded:
        """The stored state this thread's write transaction read, else the one last read."""
        return getattr(self._local, "pinned", None) or self._shared

    def _use(self, loaded: _Loaded) -> None:
        """Use ``loaded`` from now on: in this thread's write transaction until it ends, so
        that another thread reading an older snapshot (a request that began before a plugin
        was enabled) does not change what the transaction's hooks are; elsewhere until the
        next reading."""
        self._shared = loaded
        if self.current_transaction() is not None:
            self._local.pinned = loaded

    def _built(self, key: Any, loaded: _Loaded) -> _Loaded:
        """The plugins' state of the sorted rows ``key`` with its hook caller, keeping the core
        configuration of ``loaded``."""
        state = {name: {"enabled": enabled, "config": json.loads(config), "version": version}
                 for name, enabled, config, version in key}
        infos = {}
        for name in [n for n, s in state.items() if s["enabled"]]:
            plugin = self.installed.get(name)
            if plugin is None:
                continue
            plugins.load(plugin)
            plugins.register(self.pm, plugin)
            if not plugin.broken:
                infos[name] = plugin.info
        hooks = plugins.HookCaller(self.pm, plugins.dependency_order(infos))
        config_errors = {}
        for name in infos:
            schema = hooks.call_one(name, "crmkit_config_schema", None)
            if schema is not None:
                stored = state[name]
                try:
                    stored["config"] = validate(schema, stored["config"], "stored configuration")
                except ConfigError as exc:
                    config_errors[name] = plugins.refused_config(
                        name, self.installed[name].version, str(exc))
                    if isinstance(stored["config"], dict):
                        stored["config"] = fill_defaults(schema, stored["config"])
        return _Loaded(key, state, config_errors, hooks, loaded.core_stored, loaded.core_config)

    @property
    def hooks(self) -> plugins.HookCaller:
        """The enabled plugins' hooks, in calling order (of the state :attr:`_loaded` holds)."""
        return self._loaded.hooks

    def require_working_plugins(self) -> None:
        """Refuse to write while an enabled plugin is missing, broken or refuses its stored
        configuration (its reactions would be lost or wrong)."""
        loaded = self._loaded
        for name, state in loaded.state.items():
            if not state["enabled"]:
                continue
            plugin = self.installed.get(name)
            if plugin is None:
                raise PluginError(
                    f"plugin {name!r} is enabled but not installed; install it or "
                    f"`crmkit plugins disable {name}`"
                )
            if plugin.broken:
                raise PluginError(
                    f"plugin {name!r} is enabled but broken ({plugin.error}); fix it or "
                    f"`crmkit plugins disable {name}`"
                )
            if name in loaded.config_errors:
                raise PluginError(loaded.config_errors[name])

    def refused_plugin_configs(self) -> dict[str, str]:
        """Enabled plugins whose installed release refuses their stored configuration, as last
        loaded (:meth:`refresh_plugins`): ``{name: why, and the fix}``.  Writes are refused
        until each is corrected or the plugin disabled."""
        return dict(self._loaded.config_errors)

    def plugin_states(self) -> dict[str, dict[str, Any]]:
        """What the database records per plugin, as last loaded (:meth:`refresh_plugins`; in a
        write transaction, as it loaded it): ``{name: {"enabled": bool, "config": dict,
        "version": str}}`` (a copy)."""
        return {name: dict(state) for name, state in self._loaded.state.items()}

    @property
    def plugins_revision(self) -> Any:
        """An opaque value that changes whenever the loaded plugin state changes: a cache key
        for what depends on which plugins are enabled and how they are configured."""
        return self._loaded.key

    def loaded_state(self, conn: Connection | None = None) -> tuple[Any, dict[str, Any]]:
        """The plugins' state and the core configuration as last loaded (:meth:`refresh_plugins`):
        ``(plugins_revision, core_config)``, compared whole.  :meth:`checked_write`'s
        ``depends_on`` for a check that reads them (``conn`` is not read again)."""
        return self.plugins_revision, self.core_config

    def remember_core_config(self, config: dict[str, Any]) -> None:
        """Use ``config`` (validated, just stored in this process) as the core configuration."""
        # read (and validated) again at the next refresh
        self._use(attrs.evolve(self._loaded, core_config=config, core_stored=None))

    def enabled_plugins(self) -> list[str]:
        """Names of the enabled plugins, in hook-calling order."""
        return list(self.hooks.order)

    def plugin_config(self, name: str) -> dict[str, Any]:
        """The stored, validated configuration of an enabled plugin (``{}`` otherwise)."""
        state = self._loaded.state.get(name)
        if state is None or not state["enabled"]:
            return {}
        return state["config"]

    @property
    def core_config(self) -> dict[str, Any]:
        """The core's configuration with defaults filled in."""
        if self._loaded.core_config is None:
            settings = tables.settings.c
            with self.read() as conn:
                stored = conn.execute(select(cast(settings.value, Text))
                                      .where(settings.name == "core")).scalar()
            self._use(_with_core_config(self._loaded, stored))
        return self._loaded.core_config

    def plugin(self, name: str) -> Any:
        """The public API object of an enabled plugin (``crm.plugin("loyalty")``)."""
        if name not in self.hooks.order:
            if name in self.installed:
                raise PluginError(f"plugin {name!r} is not enabled: `crmkit plugins enable {name}`")
            raise NotFound(f"no plugin named {name!r} is installed")
        apis = self._loaded.apis
        api = apis.get(name)
        if api is None:
            api = self.hooks.call_one(name, "crmkit_plugin_api", None, crm=self)
            if api is None:
                raise PluginError(f"plugin {name!r} has no public API")
            apis[name] = api
        return api

    def sweep(self, progress: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
        """Run every enabled plugin's time-based rules at the clock's now (idempotent).

        Two phases: each plugin's ``crmkit_sweep_prepare`` reads, from one snapshot and
        outside any write transaction, what its sweep will write; then every
        ``crmkit_sweep`` writes in one transaction, getting what its prepare returned.  So
        other writers wait only for the writing.  Both phases see the same plugins, enabled
        and configured alike, and the same core configuration: when they changed in between
        (:meth:`loaded_state`), every plugin prepares again (:meth:`checked_write`).
        ``progress(step)``, when given, is called as each plugin's phase starts, with
        ``"reading <plugin>"`` or ``"writing <plugin>"``.
        """
        as_of = self.clock.now()

        def prepare(_seen) -> dict[str, Any]:
            prepared = {}
            with self.snapshot():
                for name, _, _ in self.hooks.impls("crmkit_sweep_prepare"):
                    if progress is not None:
                        progress(f"reading {name}")
                    prepared[name] = self.hooks.call_one(name, "crmkit_sweep_prepare", None,
                                                         crm=self, as_of=as_of)
            return prepared

        def run(tx, prepared: dict[str, Any]) -> dict[str, dict[str, Any]]:
            results = {}
            for name, _, _ in self.hooks.impls("crmkit_sweep"):
                if progress is not None:
                    progress(f"writing {name}")
                results[name] = self.hooks.call_one(name, "crmkit_sweep", tx,
                                                    prepared=prepared.get(name)) or {}
            return results

        return self.checked_write("the sweep was not done", self.loaded_state, prepare, run)


def _with_core_config(loaded: _Loaded, stored: str | None) -> _Loaded:
    """``loaded`` with the stored core configuration's text ``stored``, validated again only
    when it changed (another process, such as the CLI beside a running server, may have
    changed it)."""
    if loaded.core_config is not None and stored == loaded.core_stored:
        return loaded
    return attrs.evolve(loaded, core_stored=stored, core_config=validate(
        CORE_SCHEMA, {} if stored is None else json.loads(stored), "core config"))


def _foreign_key_checks_back_on(conn: Connection) -> None:
    """Turn SQLite's per-row foreign-key checks on again once a transaction without them has
    ended (on the driver's connection: SQLAlchemy's would begin a transaction, where the
    pragma does nothing); a connection where they stay off is dropped, never pooled."""
    driver = conn.connection.driver_connection
    driver.execute("PRAGMA foreign_keys=ON")
    if driver.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
        conn.invalidate()


def _locked_message(url: str) -> str:
    return (f"{db.hide_password(url)}: the database stayed locked by another writer for "
            f"more than {db.SQLITE_BUSY_TIMEOUT_S:.0f} s; try again")


def _operational_message(url: str, exc: OperationalError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    if "locked" in text:
        return _locked_message(url)
    return db.hide_password(f"{url}: {text.strip().splitlines()[0]}")


__all__ = ["CRM", "TRANSACTION_ATTEMPTS", "STATE_CHANGE_WAIT_S"]
