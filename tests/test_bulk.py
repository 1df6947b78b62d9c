"""crmkit.bulk: driver-level bulk writes store exactly what SQLAlchemy's own insert stores."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import (Column, DateTime, Integer, LargeBinary, MetaData, String, Table, insert,
                        select)
from sqlalchemy.exc import IntegrityError

from crmkit.bulk import COPY_MIN_ROWS, driver_value, insert_new, insert_rows, update_rows
from crmkit.types import JSONType, Money, UTCDateTime, sqlite_timestamp

UTC = dt.timezone.utc
PARIS = dt.timezone(dt.timedelta(hours=1))


def _table(metadata: MetaData, name: str) -> Table:
    return Table(
        name, metadata,
        Column("id", Integer, primary_key=True),
        Column("at", UTCDateTime, nullable=False),
        Column("amount", Money),
        Column("data", JSONType),
        Column("blob", LargeBinary),
        Column("label", String(20), default="plain"),
        Column("wall", DateTime),  # a plain type: the same instant in two zones binds apart
    )


@pytest.fixture
def twins(crm):
    """Two identical scratch tables: one written by SQLAlchemy, one by crmkit.bulk."""
    metadata = MetaData()
    tables = _table(metadata, "bulk_reference"), _table(metadata, "bulk_driver")
    metadata.create_all(crm.engine)
    return tables


ROWS = [
    {"id": 1, "at": dt.datetime(2025, 1, 1, 12, 0, tzinfo=UTC), "amount": Decimal("12.3456"),
     "data": {"tags": ["a", "é"], "n": 1}, "blob": b"\x00\x01",
     "wall": dt.datetime(2025, 1, 1, 12, 0, tzinfo=UTC)},
    # the same instant in another zone, then a distinct one with microseconds
    {"id": 2, "at": dt.datetime(2025, 1, 1, 13, 0, tzinfo=PARIS), "amount": None,
     "data": None, "blob": None, "wall": dt.datetime(2025, 1, 1, 13, 0, tzinfo=PARIS)},
    {"id": 3, "at": dt.datetime(2025, 1, 1, 12, 0, 0, 250, tzinfo=UTC), "amount": Decimal("-1"),
     "data": [], "blob": b"", "wall": None},
]


def _stored(conn, table: Table) -> list[tuple]:
    """The rows as the database holds them (no result processing)."""
    return [tuple(r) for r in conn.exec_driver_sql(
        f"SELECT id, at, amount, data, blob, label, wall FROM {table.name} ORDER BY id")]


def test_insert_rows_stores_what_sqlalchemy_stores(crm, twins):
    reference, driver = twins
    with crm.transaction() as tx:
        tx.conn.execute(insert(reference), ROWS)
        insert_rows(tx.conn, driver, ROWS)
    with crm.read() as conn:
        assert _stored(conn, driver) == _stored(conn, reference)
        read = conn.execute(select(driver).order_by(driver.c.id)).mappings().all()
    assert [r["label"] for r in read] == ["plain"] * 3  # the scalar default of a left-out column
    assert read[1]["at"] == ROWS[0]["at"] and read[2]["at"].microsecond == 250
    assert read[0]["amount"] == Decimal("12.3456") and read[0]["data"] == {"tags": ["a", "é"], "n": 1}


def test_a_large_batch_stores_what_sqlalchemy_stores(crm):
    """From COPY_MIN_ROWS rows on, PostgreSQL takes them in one COPY: the same values."""
    metadata = MetaData()
    pair = [Table(name, metadata, Column("id", Integer, primary_key=True),
                  Column("at", UTCDateTime, nullable=False), Column("amount", Money),
                  Column("data", JSONType), Column("blob", LargeBinary),
                  Column("label", String(20), default="plain"))
            for name in ("bulk_many_reference", "bulk_many_driver")]
    metadata.create_all(crm.engine)
    rows = [{**{k: v for k, v in ROWS[n % 3].items() if k != "wall"}, "id": n + 1}
            for n in range(COPY_MIN_ROWS)]
    with crm.transaction() as tx:
        tx.conn.execute(insert(pair[0]), rows)
        insert_rows(tx.conn, pair[1], rows)
    with crm.read() as conn:
        stored = [[tuple(r) for r in conn.exec_driver_sql(
            f"SELECT id, at, amount, data, blob, label FROM {table.name} ORDER BY id")]
            for table in pair]
    assert stored[1] == stored[0] and len(stored[0]) == COPY_MIN_ROWS
    assert {row[5] for row in stored[1]} == {"plain"}


def test_a_large_batch_repeating_a_stored_key_is_an_integrity_error(crm, twins):
    """A constraint broken by the COPY is SQLAlchemy's IntegrityError, as an insert's is."""
    _, driver = twins
    rows = [{"id": n + 1, "at": ROWS[0]["at"]} for n in range(COPY_MIN_ROWS)]
    with crm.transaction() as tx:
        insert_rows(tx.conn, driver, rows[:1])
    with pytest.raises(IntegrityError), crm.transaction() as tx:
        insert_rows(tx.conn, driver, rows)
    with crm.read() as conn:
        assert conn.exec_driver_sql(f"SELECT count(*) FROM {driver.name}").scalar() == 1


def test_a_callable_default_of_a_left_out_column_is_applied(crm):
    metadata = MetaData()
    table = Table("bulk_callable", metadata, Column("id", Integer, primary_key=True),
                  Column("made", String(20), default=lambda: "by default"))
    metadata.create_all(crm.engine)
    with crm.transaction() as tx:
        insert_rows(tx.conn, table, [{"id": 1}, {"id": 2}])
    with crm.read() as conn:
        assert conn.execute(select(table.c.made)).scalars().all() == ["by default"] * 2


def test_driver_values_update_rows_as_sqlalchemy_would(crm, twins):
    reference, driver = twins
    at = dt.datetime(2025, 3, 1, 9, 30, tzinfo=UTC)  # no microseconds: the form must still be full
    with crm.transaction() as tx:
        for table in twins:
            tx.conn.execute(insert(table), ROWS)
        tx.conn.execute(reference.update().values(at=at, amount=Decimal("2.5"), label="changed"))
        update_rows(tx.conn, driver, "id", ("at", "amount", "label"), [
            (driver_value(tx.conn, driver.c.at, at), driver_value(tx.conn, driver.c.amount,
                                                                   Decimal("2.5")), "changed", i)
            for i in (1, 2, 3)])
    with crm.read() as conn:
        assert _stored(conn, driver) == _stored(conn, reference)
        if conn.dialect.name == "sqlite":
            assert {r[1] for r in _stored(conn, driver)} == {sqlite_timestamp(at)}


def test_empty_writes_do_nothing(crm, twins):
    _, driver = twins
    with crm.transaction() as tx:
        insert_rows(tx.conn, driver, [])
        update_rows(tx.conn, driver, "id", ("label",), [])
    with crm.read() as conn:
        assert _stored(conn, driver) == []


def test_insert_new_stores_what_sqlalchemy_stores_and_skips_stored_keys(crm, twins):
    reference, driver = twins
    columns = ("id", "at", "amount", "label")
    with crm.transaction() as tx:
        tx.conn.execute(insert(reference), [{k: row[k] for k in columns if k in row}
                                            | {"label": f"row {row['id']}"} for row in ROWS])
        first = insert_new(tx.conn, driver, columns, [
            (row["id"], row["at"], row["amount"], f"row {row['id']}") for row in ROWS[:2]], "id")
        again = insert_new(tx.conn, driver, columns, [
            (row["id"], row["at"], row["amount"], f"row {row['id']}") for row in ROWS], "id")
    assert (first, again) == (2, 1)                     # ids 1 and 2 were stored: skipped
    with crm.read() as conn:
        assert _stored(conn, driver) == _stored(conn, reference)
        amounts = conn.execute(select(driver.c.amount).order_by(driver.c.id)).scalars().all()
    assert amounts == [Decimal("12.3456"), None, Decimal("-1")]


def test_select_in_binds_any_number_of_values_in_slices(crm, monkeypatch):
    from sqlalchemy import bindparam

    from crmkit import db, tables

    crm.customers.add_many({"external_id": f"S{i}"} for i in range(25))
    monkeypatch.setattr(db, "IN_LIST_SIZE", 10)        # 3 slices: 10, 10, 5 (+ 2 unknown)
    c = tables.customers.c
    query = select(c.external_id).where(c.external_id.in_(bindparam("refs", expanding=True)))
    with crm.read() as conn:
        found = db.select_in(conn, query, "refs", [f"S{i}" for i in range(27)])
    assert sorted(r[0] for r in found) == sorted(f"S{i}" for i in range(25))
