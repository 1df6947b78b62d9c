"""Every database column that points at a customer, in core and plugin tables alike.

Found by reflecting the database itself, so nothing escapes: tables of
enabled plugins, of disabled plugins (their data is kept) and of plugins no
longer installed.  A column points at a customer when it is named
``customer_id`` or has a foreign key to ``customers.id``.  Merge uses this to
prove no row is left pointing at the duplicate; erase to refuse while a
disabled plugin still holds the person's rows, and to check that no personal
text is left.
"""

from __future__ import annotations

from typing import Iterator

import attrs
from sqlalchemy import JSON, String, column, func, inspect, select, table
from sqlalchemy.sql.expression import TableClause

from .. import tables

_SKIP = ("alembic_version",)


@attrs.frozen
class CustomerTable:
    """One table holding customer references: who owns it, which columns point, which hold text."""

    name: str
    owner: str
    """``core``, the plugin's name, or ``unknown``."""
    clause: TableClause
    refs: tuple[str, ...]
    """Columns holding a customer id."""
    texts: tuple[str, ...]
    """Text and JSON columns (searched by the erasure check)."""

    def describe(self) -> str:
        """``table (owner)`` for messages."""
        return self.name if self.owner == "core" else f"{self.name} (plugin {self.owner})"


def customer_tables(crm, conn) -> list[CustomerTable]:
    """Every table of the database with a column pointing at a customer."""
    inspector = inspect(conn)
    owners, plugin_names = _owners(crm, conn)
    found = []
    for name in sorted(inspector.get_table_names()):
        if name in _SKIP:
            continue
        columns = inspector.get_columns(name)
        refs = [c["name"] for c in columns if c["name"] == "customer_id"]
        for fk in inspector.get_foreign_keys(name):
            if fk.get("referred_table") == "customers" and fk.get("referred_columns") == ["id"]:
                refs.extend(c for c in fk["constrained_columns"] if c not in refs)
        if name == "customers":
            refs = ["id", *[r for r in refs if r != "id"]]
        if not refs:
            continue
        texts = [c["name"] for c in columns if isinstance(c["type"], (String, JSON))]
        clause = table(name, *[column(c["name"], c["type"]) for c in columns])
        owner = owners.get(name) or next(
            (p for p in plugin_names if name.startswith(p + "_")), "unknown")
        found.append(CustomerTable(name, owner, clause, tuple(refs), tuple(texts)))
    return found


def _owners(crm, conn) -> tuple[dict[str, str], list[str]]:
    """Owners of known tables, and plugin names (longest first) to match ``<plugin>_`` tables."""
    owners = {name: "core" for name in tables.metadata.tables}
    for plugin in crm.enabled_plugins():
        for plugin_table in crm.hooks.call_one(plugin, "crmkit_tables", None) or ():
            owners[plugin_table.name] = plugin
    names = set(crm.installed) | set(conn.execute(select(tables.plugin_state.c.name)).scalars())
    return owners, sorted(names, key=len, reverse=True)


def pointing_at(conn, found: list[CustomerTable], customer_id: int,
                skip_row_itself: bool = True) -> Iterator[tuple[CustomerTable, str, int]]:
    """``(table, column, rows)`` for every column with rows holding ``customer_id``.

    The ``customers`` row of the customer itself (``customers.id``) is skipped
    unless ``skip_row_itself`` is false.
    """
    for found_table in found:
        for ref in found_table.refs:
            if found_table.name == "customers" and ref == "id" and skip_row_itself:
                continue
            col = found_table.clause.c[ref]
            count = conn.execute(select(func.count()).select_from(found_table.clause)
                                 .where(col == customer_id)).scalar_one()
            if count:
                yield found_table, ref, count


__all__ = ["CustomerTable", "customer_tables", "pointing_at"]
