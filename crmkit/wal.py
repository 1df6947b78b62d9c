"""Background checkpoints for SQLite write-ahead logs.

SQLite's automatic checkpoint runs inside the commit that finds the WAL over
its limit, so every few batches a bulk load stops to copy pages back into the
database file and fsync it.  SQLite's documentation suggests the alternative
used here: a separate thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` (which
never blocks readers or writers) each time a connection that changed rows goes
back to the pool, while the writer carries on.  Writers keep a raised automatic checkpoint as a
backstop, so the WAL stays bounded even when the thread falls behind, and a
size limit shrinks the file again once a bulk load is over.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref

AUTOCHECKPOINT_PAGES = 100_000
"""Writers still checkpoint themselves past this many WAL pages (about 400 MB with 4 KiB pages).

High, because one large batch can write that much by itself (at a million interactions, about
one page per row of the batch), and a lower limit made every such commit run the checkpoint
itself, inside the writer's commit, instead of leaving it to the background thread."""

WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
"""A WAL file that grew larger is truncated back to this size when SQLite restarts it."""

log = logging.getLogger("crmkit.wal")

_LIVE: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


class Checkpointer:
    """Checkpoints one SQLite database file from a daemon thread, on request."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)  # the thread may start after a chdir
        self._reset()
        _LIVE.add(self)

    def _reset(self) -> None:
        """Fresh state: nothing started (also in a forked child, where the thread is gone)."""
        self._lock = threading.Lock()
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def request(self) -> None:
        """Ask for a checkpoint soon; starts the thread on first use."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopping:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                     name=f"crmkit-wal-{os.path.basename(self.path)}")
                    self._thread.start()
        self._wanted.set()

    def stop(self) -> None:
        """Stop the thread after one last checkpoint (waits for it)."""
        with self._lock:
            self._stopping = True
            thread = self._thread
        self._wanted.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:  # the writers' own checkpoint is the backstop
            log.warning("no background checkpoints for %s: %s", self.path, exc)
            return
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # the writers' own checkpoint is the backstop
                    log.debug("background checkpoint of %s failed: %s", self.path, exc)
                if self._stopping:
                    return
        finally:
            conn.close()


def _forget_threads_after_fork() -> None:
    for checkpointer in list(_LIVE):
        checkpointer._reset()


os.register_at_fork(after_in_child=_forget_threads_after_fork)

__all__ = ["Checkpointer", "AUTOCHECKPOINT_PAGES", "WAL_SIZE_LIMIT_BYTES"]
