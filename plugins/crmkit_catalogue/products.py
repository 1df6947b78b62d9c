"""Products and the category tree: checking rows, importing files, reading.

A product row has ``sku``, ``name``, ``category`` (a path such as
``drinks/tea``: its parents are created with it), ``list_price`` and
``unit_cost`` (money ≥ 0), and optionally ``active_from`` / ``active_to``
(ISO 8601; active from inclusive, to exclusive).  Imports follow the rules of
customer imports: the whole file is checked first, each bad row is reported
once as ``line N: field: problem``, and nothing is written unless
``skip_invalid``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

import attrs
from sqlalchemy import and_, or_, select

from crmkit.plugin import (ImportReport, NotFound, SourceFile, ValidationError, drop_repeats,
                           parse_timestamp, record_fits, text_limit, to_money)

from .tables import categories, products

FIELDS = ("sku", "name", "category", "list_price", "unit_cost", "active_from", "active_to")
REQUIRED = ("sku", "name", "category", "list_price", "unit_cost")
WIDTHS = {"sku": 60, "name": 200, "category": 200}
"""The text fields' column widths (lower if the core config's ``max_field_length`` is lower:
:func:`limits`)."""
SEGMENT_MAX = 100


@attrs.frozen
class Product:
    """A product as the API returns it."""

    sku: str
    name: str
    category: str
    list_price: Decimal
    unit_cost: Decimal
    active_from: dt.datetime | None
    active_to: dt.datetime | None

    def active(self, at: dt.datetime) -> bool:
        """Whether the product is on sale at ``at``."""
        return ((self.active_from is None or self.active_from <= at)
                and (self.active_to is None or at < self.active_to))


def limits(crm) -> dict[str, Any]:
    """Field → the limit of its text in ``crm`` (:func:`crmkit.plugin.text_limit` of
    :data:`WIDTHS`)."""
    return {field: text_limit(crm, width) for field, width in WIDTHS.items()}


def category_path(value: Any, limit: Any = None) -> tuple[str | None, str | None]:
    """``(path, None)`` for a valid category path (segments trimmed) within ``limit`` (the
    category's, :func:`limits`; None, for looking a category up: its column width), else
    ``(None, problem)``."""
    if not isinstance(value, str) or not value.strip():
        return None, "required: a category path such as drinks/tea"
    parts = [part.strip() for part in value.split("/")]
    if any(not part for part in parts):
        return None, f"{value!r}: every part of the path must be non-empty (drinks/tea)"
    if any(len(part) > SEGMENT_MAX for part in parts):
        return None, f"{value!r}: each part at most {SEGMENT_MAX} characters"
    path = "/".join(parts)
    if limit is None and len(path) > WIDTHS["category"]:
        return None, f"{len(path)} characters; at most {WIDTHS['category']}"
    problem = limit.problem(path) if limit is not None else None
    return (None, problem) if problem else (path, None)


def check_row(record: Any, where: str, problems: list, limits: dict[str, Any]
              ) -> dict[str, Any] | None:
    """A product row normalised for storing within ``limits`` (:func:`limits`), or None with
    its problems appended."""
    if not record_fits(record, where, FIELDS, REQUIRED, problems):
        return None
    before = len(problems)
    row: dict[str, Any] = {}
    for field in ("sku", "name"):
        value = record[field]
        if not isinstance(value, str):
            problems.append((where, field, f"must be text, got {type(value).__name__}"))
        elif problem := limits[field].problem(value.strip()):
            problems.append((where, field, problem))
        else:
            row[field] = value.strip()
    path, problem = category_path(record["category"], limits["category"])
    if problem:
        problems.append((where, "category", problem))
    row["category"] = path
    for field in ("list_price", "unit_cost"):
        try:
            money = to_money(record[field], field)
        except ValidationError as exc:
            problems.append((where, field, exc.problems[0][2] if exc.problems else str(exc)))
            continue
        if money < 0:
            problems.append((where, field, f"{money}: must be ≥ 0"))
        row[field] = money
    for field in ("active_from", "active_to"):
        value = record.get(field)
        if value is None or value == "":
            row[field] = None
            continue
        try:
            row[field] = parse_timestamp(value, field) if isinstance(value, str) else _not_text(value)
        except ValidationError as exc:
            problems.append((where, field, str(exc).removeprefix(f"{field}: ")))
    if len(problems) > before:
        return None
    if row["active_from"] and row["active_to"] and row["active_to"] <= row["active_from"]:
        problems.append((where, "active_to", "must be after active_from"))
        return None
    return row


def _not_text(value: Any):
    raise ValidationError(f"expected an ISO 8601 text, got {type(value).__name__}")


def read_file(source: SourceFile
              ) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, str, str]]]:
    """The file's records, their labels (``line N``) and the problems of lines that are not
    records; a CSV header without a required column or with an unknown one is refused."""
    header = source.header() if source.format == "csv" else None
    if header is not None:
        missing = [f for f in REQUIRED if f not in header]
        unknown = [f for f in header if f not in FIELDS]
        if missing or unknown:
            what = (f"missing column(s) {', '.join(missing)}" if missing
                    else f"unknown column(s) {', '.join(unknown)}")
            raise ValidationError(f"{source.path}: line 1: header: {what} (columns: "
                                  f"{', '.join(FIELDS)}; required: {', '.join(REQUIRED)})")
    return source.read_all()


def check_rows(crm, records: Iterable[Any], labels: Iterable[str],
               problems: list[tuple[str, str, str]]) -> tuple[list[dict[str, Any]], set[str]]:
    """The good rows within ``crm``'s text limits (a SKU repeated with other values is a
    problem) and the bad lines; ``problems`` gets every problem appended."""
    most = limits(crm)
    checked = [(row, where) for record, where in zip(records, labels)
               if (row := check_row(record, where, problems, most)) is not None]
    rows, _ = drop_repeats([row for row, _ in checked], [where for _, where in checked],
                           problems, key=lambda row: row["sku"], field="sku",
                           name=lambda row: repr(row["sku"]),
                           differences=lambda a, b: "values" if a != b else "")
    return rows, {where for where, _, _ in problems}


def ensure_categories(conn, paths: Iterable[str]) -> None:
    """Create the categories of ``paths`` and all their parents that do not exist yet."""
    wanted: dict[str, tuple[str | None, str]] = {}
    for path in paths:
        parts = path.split("/")
        for n in range(1, len(parts) + 1):
            wanted["/".join(parts[:n])] = ("/".join(parts[:n - 1]) or None, parts[n - 1])
    if not wanted:
        return
    have = set(conn.execute(select(categories.c.path)
                            .where(categories.c.path.in_(list(wanted)))).scalars())
    new = [{"path": p, "parent": parent, "name": name}
           for p, (parent, name) in sorted(wanted.items(), key=lambda kv: kv[0].count("/"))
           if p not in have]
    if new:
        conn.execute(categories.insert(), new)


def upsert(conn, rows: list[dict[str, Any]], now: dt.datetime, report: ImportReport) -> None:
    """Create or update products by SKU (unchanged ones are left alone)."""
    if not rows:
        return
    ensure_categories(conn, {row["category"] for row in rows})
    columns = [products.c[f] for f in FIELDS]
    existing = {r.sku: r for r in conn.execute(
        select(*columns).where(products.c.sku.in_([row["sku"] for row in rows])))}
    new = []
    for row in rows:
        old = existing.get(row["sku"])
        if old is None:
            new.append(dict(row, created_at=now, updated_at=now))
            report.created += 1
        elif {f: getattr(old, f) for f in FIELDS} == row:
            report.unchanged += 1
        else:
            conn.execute(products.update().where(products.c.sku == row["sku"])
                         .values(**{k: v for k, v in row.items() if k != "sku"}, updated_at=now))
            report.updated += 1
    if new:
        conn.execute(products.insert(), new)


def get(conn, sku: str) -> Product:
    """One product (NotFound names the SKU)."""
    row = conn.execute(select(*[products.c[f] for f in FIELDS])
                       .where(products.c.sku == sku)).first()
    if row is None:
        raise NotFound(f"product {sku!r} not found (crmkit catalogue list shows the products)")
    return Product(**row._mapping)


def listing(conn, category: str | None = None, active_at: dt.datetime | None = None,
            after: str | None = None, limit: int | None = None) -> list[Product]:
    """Products by SKU; ``category`` keeps that category and its subcategories, ``active_at``
    the products on sale then, ``after`` those whose SKU sorts after it; at most ``limit``."""
    query = select(*[products.c[f] for f in FIELDS]).order_by(products.c.sku).limit(limit)
    if after is not None:
        query = query.where(products.c.sku > after)
    if category is not None:
        path, problem = category_path(category)
        if problem:
            raise ValidationError(f"category: {problem}")
        query = query.where(or_(products.c.category == path,
                                products.c.category.startswith(path + "/", autoescape=True)))
    if active_at is not None:
        query = query.where(active_condition(active_at))
    return [Product(**row._mapping) for row in conn.execute(query)]


def active_condition(at: dt.datetime):
    """SQL: the product is on sale at ``at``."""
    return and_(or_(products.c.active_from.is_(None), products.c.active_from <= at),
                or_(products.c.active_to.is_(None), products.c.active_to > at))
