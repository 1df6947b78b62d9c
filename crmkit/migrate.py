"""Schema migrations with alembic: the core's base branch plus one branch per plugin.

Everything runs on a connection the caller already has in a transaction, so
enabling a plugin (migrations + state) commits or rolls back as one.

Each plugin's revisions form their own branch rooted at ``down_revision =
None`` with ``branch_labels = ("<plugin>",)``.  They do not ``depends_on``
the core: crmkit always brings the core to its head before it migrates a
plugin, and an independent root keeps the core's revision visible in
``alembic_version`` (alembic drops a head that another head depends on).
Core revision ids start with ``core_``.
"""

from __future__ import annotations

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


def current_revisions(conn: Connection) -> set[str]:
    """Revision ids recorded in ``alembic_version`` (empty for a database with no schema)."""
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return {row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")}


def _run(conn: Connection, script, fn) -> None:
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext

    cfg = Config()
    with EnvironmentContext(cfg, script, fn=fn) as env:
        env.configure(connection=conn, target_metadata=None, transactional_ddl=False)
        env.run_migrations()


def upgrade(conn: Connection, target: str, locations: Iterable[Path] = ()) -> None:
    """Upgrade to ``target`` (``core@head``, ``loyalty@head``, ``heads``)."""
    script = script_directory(locations)
    _run(conn, script, lambda rev, _ctx: script._upgrade_revs(target, rev))


def downgrade(conn: Connection, target: str, locations: Iterable[Path] = ()) -> None:
    """Downgrade to ``target`` (``loyalty@base`` removes a plugin's schema)."""
    script = script_directory(locations)
    _run(conn, script, lambda rev, _ctx: script._downgrade_revs(target, rev))


def pending(conn: Connection, branches: dict[str, Path | None]) -> dict[str, list[str]]:
    """For each branch (``core`` and enabled plugins), the revisions not yet applied.

    Raises :class:`DatabaseError` when the database records a core revision
    (``core_…``) this crmkit does not know: it was created by a newer crmkit.
    Unknown plugin revisions belong to plugins not installed here; they are
    ignored (such a plugin, if enabled, blocks writes with its own message).
    """
    locations = [p for p in branches.values() if p is not None]
    script = script_directory(locations)
    current = current_revisions(conn)
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = {rev for rev in current - known if rev.startswith(CORE_BRANCH + "_")}
    if unknown:
        raise DatabaseError(
            f"the database has schema revision(s) {', '.join(sorted(unknown))} that this crmkit "
            "does not know: it was written by a newer crmkit or plugin; upgrade crmkit"
        )
    applied: set[str] = set()
    for rev in current & known:
        applied.update(_chain(script, rev))
    result = {}
    for branch in branches:
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
