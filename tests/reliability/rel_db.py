"""Database checks of the reliability suite: integrity, invariants, snapshots, PII scans.

Everything here reads the database through a plain SQLAlchemy engine (never
through the code under test) and returns human-readable problems, so that an
assertion failure says exactly what broke.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from crmkit import db as crm_db


def engine(url: str):
    """A plain engine on ``url`` (crmkit's own set-up: WAL, foreign keys, busy timeout)."""
    return crm_db.create(url)


def _q(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def table_names(conn: Connection) -> list[str]:
    """Every table of the database, sorted."""
    return sorted(inspect(conn).get_table_names())


def integrity_problems(url: str) -> list[str]:
    """Every integrity problem found: storage, foreign keys, and the invariants of the plugins present."""
    eng = engine(url)
    try:
        with eng.connect() as conn:
            problems = storage_problems(conn) + orphan_problems(conn)
            names = set(table_names(conn))
            if "relcheck_reacts" in names:
                problems += relcheck_problems(conn)
            if "loyalty_ledger" in names:
                problems += loyalty_problems(conn)
            conn.rollback()
    finally:
        eng.dispose()
    return problems


def storage_problems(conn: Connection) -> list[str]:
    """SQLite's ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check`` (nothing on PostgreSQL)."""
    if conn.dialect.name != "sqlite":
        return []
    problems = []
    result = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
    if result != ["ok"]:
        problems.append(f"PRAGMA integrity_check: {result[:5]}")
    bad = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if bad:
        problems.append(f"PRAGMA foreign_key_check: {len(bad)} violation(s), first {tuple(bad[0])}")
    return problems


def orphan_problems(conn: Connection) -> list[str]:
    """Rows whose foreign key points at no row, for every declared foreign key (both backends)."""
    problems = []
    inspector = inspect(conn)
    for table in table_names(conn):
        for fk in inspector.get_foreign_keys(table):
            cols, ref, ref_cols = fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]
            not_null = " AND ".join(f"t.{_q(conn, c)} IS NOT NULL" for c in cols)
            joined = " AND ".join(f"r.{_q(conn, rc)} = t.{_q(conn, c)}" for c, rc in zip(cols, ref_cols))
            sql = (f"SELECT count(*) FROM {_q(conn, table)} t WHERE {not_null} AND NOT EXISTS "
                   f"(SELECT 1 FROM {_q(conn, ref)} r WHERE {joined})")
            count = conn.exec_driver_sql(sql).scalar()
            if count:
                problems.append(f"{table}.{','.join(cols)} -> {ref}: {count} orphan row(s)")
    return problems


def relcheck_problems(conn: Connection) -> list[str]:
    """relcheck invariants: one react row per interaction, whole batches, counters = sums."""
    problems = []
    missing = conn.exec_driver_sql(
        "SELECT count(*) FROM interactions i WHERE NOT EXISTS "
        "(SELECT 1 FROM relcheck_reacts r WHERE r.interaction_id = i.id)").scalar()
    if missing:
        problems.append(f"{missing} interaction(s) without their react row (half-applied batch)")
    partial = conn.exec_driver_sql(
        "SELECT r.batch_first, r.batch_last, count(*), "
        "(SELECT count(*) FROM interactions i WHERE i.id BETWEEN r.batch_first AND r.batch_last) "
        "FROM relcheck_reacts r GROUP BY r.batch_first, r.batch_last "
        "HAVING count(*) <> (SELECT count(*) FROM interactions i "
        "WHERE i.id BETWEEN r.batch_first AND r.batch_last)").all()
    for first, last, reacted, stored in partial[:5]:
        problems.append(f"batch {first}..{last}: {stored} interactions stored, {reacted} reacted")
    drift = conn.exec_driver_sql(
        "SELECT c.customer_id, c.reacts, (SELECT count(*) FROM relcheck_reacts r "
        "WHERE r.customer_id = c.customer_id) FROM relcheck_counts c WHERE c.reacts <> "
        "(SELECT count(*) FROM relcheck_reacts r WHERE r.customer_id = c.customer_id)").all()
    for customer, cached, actual in drift[:5]:
        problems.append(f"relcheck counter of customer {customer} is {cached}, its rows sum to {actual}")
    uncounted = conn.exec_driver_sql(
        "SELECT count(DISTINCT r.customer_id) FROM relcheck_reacts r WHERE NOT EXISTS "
        "(SELECT 1 FROM relcheck_counts c WHERE c.customer_id = r.customer_id)").scalar()
    if uncounted:
        problems.append(f"{uncounted} customer(s) with react rows but no counter")
    return problems


def loyalty_problems(conn: Connection) -> list[str]:
    """loyalty invariants: the ledger replayed in date order (:func:`loyalty_history_problems`),
    caches = ledger sums, no purchase earning twice."""
    problems = loyalty_history_problems(conn)
    owed = conn.exec_driver_sql(
        "SELECT m.customer_id, m.owed, coalesce((SELECT sum(l.owed_change) FROM loyalty_ledger l "
        "WHERE l.customer_id = m.customer_id), 0) AS s FROM loyalty_members m WHERE m.owed <> "
        "coalesce((SELECT sum(l.owed_change) FROM loyalty_ledger l "
        "WHERE l.customer_id = m.customer_id), 0)").all()
    for customer, cached, actual in owed[:5]:
        problems.append(f"loyalty owed of customer {customer} is {cached}, ledger says {actual}")
    purchases = conn.exec_driver_sql(
        "SELECT m.customer_id, m.purchases, (SELECT count(*) FROM interactions i "
        "WHERE i.customer_id = m.customer_id AND i.kind = 'purchase') FROM loyalty_members m "
        "WHERE m.purchases <> (SELECT count(*) FROM interactions i "
        "WHERE i.customer_id = m.customer_id AND i.kind = 'purchase')").all()
    for customer, cached, actual in purchases[:5]:
        problems.append(f"loyalty purchase count of customer {customer} is {cached}, "
                        f"interactions say {actual} (lost update)")
    twice = conn.exec_driver_sql(
        "SELECT interaction_id, count(*) FROM loyalty_ledger WHERE type = 'earn' "
        "AND source = 'purchase' GROUP BY interaction_id HAVING count(*) > 1").all()
    for interaction, n in twice[:5]:
        problems.append(f"purchase {interaction} earned points {n} times")
    return problems


def loyalty_history_problems(conn: Connection) -> list[str]:
    """The loyalty ledger replayed in date order, as of each of its dates: each member's
    balance is never negative nor more than the points they had earned by then (Σ of their
    lots: positive rows other than an expiry's give-back), what they owe is never negative,
    and no lot has more consumed by debits dated up to then than it had earned by then (none
    before its own date, never more than its points).  The first date that breaks a rule is
    named, for at most five members and five lots."""
    problems = []
    by_date = "OVER (PARTITION BY customer_id ORDER BY at)"
    history = conn.exec_driver_sql(
        "SELECT DISTINCT customer_id, at, balance, earned, owed FROM ("
        f"SELECT customer_id, at, sum(points) {by_date} AS balance, "
        "sum(CASE WHEN points > 0 AND type <> 'expire' THEN points ELSE 0 END) "
        f"{by_date} AS earned, sum(owed_change) {by_date} AS owed FROM loyalty_ledger) h "
        "WHERE balance < 0 OR balance > earned OR owed < 0 ORDER BY customer_id, at").all()
    for customer, at, balance, earned, owed in _first_of_each(history):
        if balance < 0:
            problems.append(f"loyalty balance of customer {customer} as of {at} is {balance} (< 0)")
        if balance > earned:
            problems.append(f"loyalty balance of customer {customer} as of {at} is {balance}, "
                            f"more than the {earned} points earned by then")
        if owed < 0:
            problems.append(f"loyalty points owed by customer {customer} as of {at} are {owed} "
                            "(< 0)")
    uses = conn.exec_driver_sql(
        "SELECT lot_id, at, consumed, points, lot_at FROM ("
        "SELECT u.lot_id, d.at, l.points, l.at AS lot_at, "
        "sum(u.points) OVER (PARTITION BY u.lot_id ORDER BY d.at) AS consumed "
        "FROM loyalty_lot_uses u JOIN loyalty_ledger d ON d.id = u.ledger_id "
        "JOIN loyalty_ledger l ON l.id = u.lot_id) c "
        "WHERE consumed > CASE WHEN at < lot_at THEN 0 ELSE points END ORDER BY lot_id, at").all()
    for lot, at, consumed, points, lot_at in _first_of_each(uses):
        why = "before it was earned" if at < lot_at else "more than its points"
        problems.append(f"loyalty lot {lot} of {points} points earned {lot_at} had {consumed} "
                        f"consumed by debits dated up to {at}: {why}")
    return problems


def _first_of_each(rows: list[Any], most: int = 5) -> list[Any]:
    """The first row of each key (a row's first column) of ``rows``, for the first ``most`` keys."""
    first: dict[Any, Any] = {}
    for row in rows:
        if row[0] not in first and len(first) < most:
            first[row[0]] = row
    return list(first.values())


def count(url: str, sql: str, params: dict[str, Any] | None = None) -> Any:
    """One scalar from ``sql`` (test-written SQL, parameters bound)."""
    eng = engine(url)
    try:
        with eng.connect() as conn:
            return conn.execute(text(sql), params or {}).scalar()
    finally:
        eng.dispose()


def snapshot(url: str) -> dict[str, list[str]]:
    """Every row of every table, as sorted JSON lines: compare two snapshots for "nothing changed"."""
    eng = engine(url)
    try:
        with eng.connect() as conn:
            result = {}
            for table in table_names(conn):
                rows = conn.exec_driver_sql(f"SELECT * FROM {_q(conn, table)}").all()
                result[table] = sorted(json.dumps([_plain(v) for v in row], sort_keys=True)
                                       for row in rows)
            conn.rollback()
            return result
    finally:
        eng.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def text_cells(url: str, tables: Iterable[str] | None = None) -> list[tuple[str, str, Any, str]]:
    """``(table, column, row key, text)`` for every text and JSON cell of ``tables`` (default all).

    JSON cells are rendered as their JSON text, so an identifier nested anywhere
    in a document is found by a substring search.
    """
    eng = engine(url)
    found = []
    try:
        with eng.connect() as conn:
            inspector = inspect(conn)
            for table in tables or table_names(conn):
                columns = inspector.get_columns(table)
                wanted = [c["name"] for c in columns if _is_text(c["type"])]
                if not wanted:
                    continue
                cols = ", ".join(_q(conn, c) for c in wanted)
                for number, row in enumerate(conn.exec_driver_sql(
                        f"SELECT {cols} FROM {_q(conn, table)}")):
                    for column, value in zip(wanted, row):
                        if value is None:
                            continue
                        rendered = value if isinstance(value, str) else json.dumps(
                            value, ensure_ascii=False, default=str)
                        found.append((table, column, number, rendered))
            conn.rollback()
    finally:
        eng.dispose()
    return found


def _is_text(type_) -> bool:
    name = type(type_).__name__.upper()
    return any(k in name for k in ("CHAR", "TEXT", "STRING", "JSON", "CLOB"))


def table_names_of(url: str) -> list[str]:
    """Every table of the database at ``url``."""
    eng = engine(url)
    try:
        with eng.connect() as conn:
            return table_names(conn)
    finally:
        eng.dispose()
