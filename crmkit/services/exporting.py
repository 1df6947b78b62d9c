"""``crmkit export``: customers or interactions to CSV or JSON Lines, streamed.

The columns are the import columns (:mod:`.columns`), so an export imports
again unchanged.  CSV cells that a spreadsheet would run as a formula are
neutralised with a leading ``'`` (import removes it again).  Erased customers
are not exported (their interactions are, with the payload as erased).
"""

from __future__ import annotations

import csv
import json
from typing import IO, Any, Callable

from sqlalchemy import select, text

from .. import tables
from ..errors import ValidationError
from .columns import (INTERACTION_COLUMNS, attribute_types, customer_csv_cells, customer_header,
                      customer_json, interaction_cells)
from .records import FORMATS

FETCH = 5000
"""Rows fetched from the database at a time."""


def export(crm, kind: str, out: IO[str], fmt: str,
           progress: Callable[[int], None] | None = None) -> int:
    """Write every customer or interaction to the text stream ``out``; return how many.

    ``progress(rows_written)``, when given, is called after every ``FETCH`` rows.
    """
    if fmt not in FORMATS:
        raise ValidationError(f"format {fmt!r}: use one of {', '.join(FORMATS)}")
    if kind not in ("customers", "interactions"):
        raise ValidationError(f"cannot export {kind!r}: use customers or interactions")
    writer = _customers if kind == "customers" else _interactions
    return writer(crm, out, fmt, progress or (lambda count: None))


def _json_line(out: IO[str], document: dict[str, Any]) -> None:
    out.write(json.dumps(document, ensure_ascii=False, default=str))
    out.write("\n")


def _customers(crm, out: IO[str], fmt: str, progress: Callable[[int], None]) -> int:
    c = tables.customers
    org = c.alias("org")
    query = (select(c, org.c.external_id.label("organisation"))
             .outerjoin(org, org.c.id == c.c.organisation_id)
             .where(c.c.erased_at.is_(None)).order_by(c.c.id))
    count = 0
    with crm.read() as conn:
        crm.refresh_plugins(conn)
        writer = None
        if fmt == "csv":
            types = attribute_types(crm.customers.attribute_schema())
            keys = attribute_keys(conn)
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(customer_header(keys))
        result = conn.execution_options(yield_per=FETCH).execute(query).mappings()
        for row in result:
            if writer is not None:
                writer.writerow(customer_csv_cells(row, keys, types))
            else:
                _json_line(out, customer_json(row))
            count += 1
            if count % FETCH == 0:
                progress(count)
    return count


def _interactions(crm, out: IO[str], fmt: str, progress: Callable[[int], None]) -> int:
    i = tables.interactions
    c = tables.customers
    query = (select(i, c.c.external_id.label("customer"))
             .join(c, c.c.id == i.c.customer_id).order_by(i.c.id))
    count = 0
    with crm.read() as conn:
        writer = None
        if fmt == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(INTERACTION_COLUMNS)
        result = conn.execution_options(yield_per=FETCH).execute(query).mappings()
        for row in result:
            if writer is not None:
                writer.writerow(interaction_cells(row, csv=True))
            else:
                cells = interaction_cells(row, csv=False)
                _json_line(out, {k: v for k, v in zip(INTERACTION_COLUMNS, cells)
                                 if v is not None})
            count += 1
            if count % FETCH == 0:
                progress(count)
    return count


def attribute_keys(conn) -> list[str]:
    """Every attribute key used by a (not erased) customer, sorted; computed in SQL."""
    if conn.dialect.name == "postgresql":
        sql = ("SELECT DISTINCT jsonb_object_keys(attributes::jsonb) AS k FROM customers "
               "WHERE erased_at IS NULL AND jsonb_typeof(attributes::jsonb) = 'object' ORDER BY k")
    else:
        sql = ("SELECT DISTINCT j.key AS k FROM customers, json_each(customers.attributes) AS j "
               "WHERE customers.erased_at IS NULL AND json_type(customers.attributes) = 'object' "
               "ORDER BY k")
    return list(conn.execute(text(sql)).scalars())


__all__ = ["export", "attribute_keys", "FETCH"]
