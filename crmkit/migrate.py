"""Schema migrations with alembic: the core's base branch plus one branch per plugin.

Everything runs on a connection the caller already has in a transaction, so
enabling a plugin (migrations + state) commits or rolls back as one.

Each plugin's revisions form their own branch rooted at ``down_revision =
None`` with ``branch_labels = ("<plugin>",)``, and each branch records its
state in its own version table (``alembic_version`` for the core,
``alembic_version_<plugin>`` for a plugin).  Branches are therefore
independent: a plugin that is uninstalled leaves a version table nobody
reads, instead of a revision alembic cannot locate.  Plugin revisions do not
``depends_on`` the core: crmkit always brings the core to its head first.
Core revision ids start with ``core_``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Iterable

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from .errors import DatabaseError

CORE_VERSIONS = Path(__file__).parent / "migrations" / "versions"
CORE_BRANCH = "core"


def script_directory(extra_locations: Iterable[Path] = ()):
    """An alembic ScriptDirectory over the core's and the given plugins' revisions."""
    from alembic.script import ScriptDirectory

    locations = [str(CORE_VERSIONS)] + [str(p) for p in extra_locations]
    return ScriptDirectory(str(CORE_VERSIONS.parent), version_locations=locations)


def version_table(branch: str) -> str:
    """The table recording ``branch``'s applied revision."""
    return "alembic_version" if branch == CORE_BRANCH else f"alembic_version_{branch}"


def current_revisions(conn: Connection, branch: str = CORE_BRANCH) -> set[str]:
    """Revision ids recorded for ``branch`` (empty when it was never migrated)."""
    table = version_table(branch)
    if not inspect(conn).has_table(table):
        return set()
    return {row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {table}")}


_ALEMBIC = threading.Lock()
"""alembic's ``op`` and ``context`` proxies are process-global: one migration run per process at a time."""

MIGRATION_WAIT_S = 60.0
"""How long a thread waits for another thread's migration run before giving up clearly."""


def _run(conn: Connection, script, branch: str, fn) -> None:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    if not _ALEMBIC.acquire(timeout=MIGRATION_WAIT_S):
        raise DatabaseError(f"another thread of this process has been migrating for more than "
                            f"{MIGRATION_WAIT_S:.0f} s; try again when it has finished")
    try:
        with EnvironmentContext(Config(), script, fn=fn) as env:
            env.configure(connection=conn, target_metadata=None, transactional_ddl=False,
                          version_table=version_table(branch))
            env.run_migrations()
    finally:
        _ALEMBIC.release()


def upgrade(conn: Connection, target: str, locations: Iterable[Path] = ()) -> None:
    """Upgrade to ``target`` (``core@head``, ``loyalty@head``) in that branch's version table."""
    branch = target.split("@", 1)[0]
    script = script_directory(locations)
    _run(conn, script, branch, lambda rev, _ctx: script._upgrade_revs(target, rev))


def upgrade_branch(conn: Connection, branch: str, location: Path | None) -> None:
    """Upgrade one branch (the core or a plugin's) to its head; a failing revision names it.

    Any error of a revision (SQL, import, alembic) becomes one PluginError
    (DatabaseError for the core) saying which branch failed; the caller's
    transaction is then rolled back, so nothing was changed.
    """
    from .errors import CRMError, PluginError

    try:
        upgrade(conn, f"{branch}@head", [location] if location else [])
    except CRMError:
        raise
    except Exception as exc:  # a broken revision: SQL error, import error, alembic error
        problem = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        detail = f"migration failed, nothing was changed: {type(exc).__name__}: {problem}"
        if branch == CORE_BRANCH:
            raise DatabaseError(f"crmkit core: {detail}") from exc
        raise PluginError(f"plugin {branch!r}: {detail}") from exc


def head_revision(branch: str, location: Path | None) -> str:
    """The newest revision of ``branch`` among the scripts at ``location`` (the core's: None)."""
    script = script_directory([location] if location is not None else [])
    return script.get_revision(f"{branch}@head").revision


def downgrade(conn: Connection, target: str, locations: Iterable[Path] = ()) -> None:
    """Downgrade to ``target`` (``loyalty@base`` removes a plugin's schema)."""
    branch = target.split("@", 1)[0]
    script = script_directory(locations)
    _run(conn, script, branch, lambda rev, _ctx: script._downgrade_revs(target, rev))


_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*(?::[^=\n]*)?=\s*(?:(None)|["']([^"']+)["'])\s*$""",
                            re.MULTILINE)


def plain_head(folder: Path) -> str | None:
    """The head of the single line of revisions in ``folder``, read from the scripts' plain
    ``revision = "…"`` / ``down_revision = "…"`` lines without importing alembic or them;
    None when that is not certain (a script without such lines, a merge, several heads)."""
    down_of: dict[str, str | None] = {}
    try:
        scripts = sorted(folder.glob("*.py"))
        for script in scripts:
            found = dict((name, none or value)
                         for name, none, value in _REVISION_LINE.findall(script.read_text("utf-8")))
            if "revision" not in found or "down_revision" not in found or found["revision"] in down_of:
                return None
            down_of[found["revision"]] = found["down_revision"]
    except (OSError, UnicodeDecodeError):
        return None
    heads = set(down_of) - {down for down in down_of.values() if down is not None}
    return heads.pop() if len(heads) == 1 else None


def pending(conn: Connection, branches: dict[str, Path | None]) -> dict[str, list[str]]:
    """For each branch (``core`` and enabled plugins), the revisions not yet applied.

    A branch whose recorded revision is the :func:`plain_head` of its scripts has
    none, without loading alembic; every other case is alembic's answer.
    Raises :class:`DatabaseError` when a branch's version table records a
    revision its scripts do not know: a newer crmkit or plugin wrote it.
    """
    result = {}
    for branch, location in branches.items():
        current = current_revisions(conn, branch)
        if current and current == {plain_head(CORE_VERSIONS if location is None else location)}:
            result[branch] = []
            continue
        script = script_directory([location] if location is not None else [])
        known = {rev.revision for rev in script.walk_revisions()}
        unknown = current - known
        if unknown:
            revisions = ", ".join(sorted(unknown))
            if branch == CORE_BRANCH:
                raise DatabaseError(
                    f"the database has schema revision(s) {revisions} that this crmkit does not "
                    "know: it was written by a newer crmkit; upgrade crmkit")
            raise DatabaseError(
                f"the database has schema revision(s) {revisions} of plugin {branch!r} that the "
                "installed version does not know: it was written by a newer version; upgrade it")
        applied: set[str] = set()
        for rev in current:
            applied.update(_chain(script, rev))
        chain = _chain(script, f"{branch}@head")
        result[branch] = [rev for rev in reversed(chain) if rev not in applied]
    return result


def _chain(script, start: str) -> list[str]:
    """Revision ids from ``start`` down its own ``down_revision`` line (not dependencies)."""
    chain = []
    node = script.get_revision(start)
    while node is not None:
        chain.append(node.revision)
        down = node.down_revision
        node = script.get_revision(down) if isinstance(down, str) else None
    return chain


__all__ = [
    "CORE_VERSIONS", "CORE_BRANCH", "script_directory", "version_table", "current_revisions",
    "MIGRATION_WAIT_S", "upgrade", "upgrade_branch", "head_revision", "downgrade", "plain_head",
    "pending",
]
