"""File columns ⇄ customer and interaction rows, for import and export.

Customer columns: ``external_id``, ``name``, ``type``, ``email``, ``phone``,
``organisation`` (the organisation's external id), ``preferred_channel``,
``lifecycle_stage``, ``tags`` (``;``-separated in CSV) and ``attr.KEY`` per
attribute (JSON Lines may also give an ``attributes`` object).

Interaction columns: ``customer``, ``occurred_at``, ``kind``, ``channel``,
``direction``, ``amount``, ``currency``, ``external_id``, ``actor``,
``payload`` (a JSON object); any other column goes into the payload.

An empty cell (or a JSON ``null``) means "not given": a new row gets the
default, a stored customer keeps its value.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any

from ..clock import UTC, out_of_range, parse_timestamp, utc_in_range
from ..errors import ValidationError
from ..interactions import FIELDS, REFUND_OF
from ..types import (TAG_SEPARATOR, DuplicateKeyError, TextLimit, join_tags, parse_json,
                     split_tags)
from .records import neutralise, unneutralise

CUSTOMER_COLUMNS = ("external_id", "name", "type", "email", "phone", "organisation",
                    "preferred_channel", "lifecycle_stage", "tags")
INTERACTION_COLUMNS = (*(f for f in FIELDS if f not in ("customer_id", "payload")), "payload")
"""An interaction file's columns: the interaction fields (the customer by its external id),
the payload last."""
ATTR = "attr."
REQUIRED = {"customers": ("external_id",), "interactions": ("customer", "occurred_at")}
_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})\Z")
_TEXT_INTERACTION = ("customer", "kind", "channel", "direction", "currency", "external_id",
                     "actor")

_TEXT, _CUSTOMER, _TIME, _AMOUNT, _PAYLOAD, _EXTRA, _EXTRA_TEXT = range(7)
_CODES = {"customer": _CUSTOMER, "occurred_at": _TIME, "amount": _AMOUNT, "payload": _PAYLOAD,
          REFUND_OF: _EXTRA_TEXT, **{c: _TEXT for c in _TEXT_INTERACTION if c != "customer"}}
"""How a CSV column is read; other columns are :data:`_EXTRA` (payload, whole numbers as
integers); a ``refund_of`` cell goes to the payload as text, being an external id."""

Problems = list[tuple[str, str]]
"""``(field, message)`` pairs for one row."""


def check_header(kind: str, columns: list[str]) -> None:
    """Refuse a CSV header with a blank, repeated, unknown (customers) or missing column."""
    where = "line 1: header"
    seen: set[str] = set()
    for column in columns:
        if not column:
            raise ValidationError(f"{where}: a column has no name")
        if column in seen:
            raise ValidationError(f"{where}: column {column!r} appears twice")
        seen.add(column)
        if kind == "customers" and column not in CUSTOMER_COLUMNS and not (
                column.startswith(ATTR) and len(column) > len(ATTR)):
            raise ValidationError(
                f"{where}: unknown column {column!r} (allowed: {', '.join(CUSTOMER_COLUMNS)}, "
                "attr.KEY)")
    missing = [c for c in REQUIRED[kind] if c not in seen]
    if missing:
        raise ValidationError(f"{where}: missing column {', '.join(map(repr, missing))} "
                              f"(the columns are: {', '.join(columns)})")


# -- import -------------------------------------------------------------------------------


class CustomerReader:
    """Turns one record's values into a row for ``crm.customers`` (problems listed, not raised)."""

    def __init__(self, attribute_types: dict[str, Any], limit: TextLimit,
                 header: list[str] | None):
        self.attribute_types = attribute_types
        self.limit = limit
        """Of a free-text value (core config ``max_field_length``)."""
        self.header = header
        self.csv = header is not None

    def __call__(self, values: Any) -> tuple[dict[str, Any] | None, Problems]:
        """``values``: a CSV record's cells (header order) or a JSON Lines object."""
        problems: Problems = []
        row: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        items = zip(self.header, values) if self.csv else values.items()
        for column, value in items:
            if self.csv and type(value) is str:
                value = unneutralise(value)
            if value is None or value == "":
                continue
            if column.startswith(ATTR) and len(column) > len(ATTR):
                key = column[len(ATTR):]
                value = self._attribute(key, value, problems)
                if value is not None:
                    attributes[key] = value
            elif column == "attributes" and not self.csv:
                if not isinstance(value, dict):
                    problems.append(("attributes", "must be a JSON object"))
                    continue
                for key, item in value.items():
                    if key in attributes:
                        problems.append((f"attr.{key}", "given twice (attr.KEY and attributes)"))
                    attributes[key] = _plain(item)
            elif column == "tags":
                row["tags"] = _tags(value, problems)
            elif column in CUSTOMER_COLUMNS:
                if type(value) is not str:
                    problems.append((column, f"must be text, got {type(value).__name__}"))
                    continue
                row[column] = value
            else:
                problems.append((column, "unknown field (allowed: "
                                 f"{', '.join(CUSTOMER_COLUMNS)}, attributes, attr.KEY)"))
        if attributes:
            for key, item in attributes.items():
                if type(item) is str and (problem := self.limit.problem(item)):
                    problems.append((f"attr.{key}", problem))
            row["attributes"] = attributes
        return (None if problems else row), problems

    def _attribute(self, key: str, value: Any, problems: Problems) -> Any:
        if not self.csv:
            return _plain(value)
        if _declares_string(self.attribute_types.get(key)):
            return value
        try:
            return parse_json(value)
        except DuplicateKeyError as exc:  # JSON, but of no one meaning: not text either
            problems.append((f"attr.{key}", str(exc)))
            return None
        except ValueError:
            return value


class InteractionReader:
    """Turns one record's values into a row for ``crm.interactions`` (problems listed).

    The CSV path is the hot loop of a bulk import: one pass over the cells,
    no per-cell set-up.
    """

    def __init__(self, limit: TextLimit, header: list[str] | None):
        self.limit = limit
        """Of a free-text value (core config ``max_field_length``)."""
        self.max_length = limit.chars
        self.header = header
        self.csv = header is not None
        self.plan = [(_CODES.get(column, _EXTRA), column) for column in header or ()]

    def __call__(self, values: Any) -> tuple[dict[str, Any] | None, Problems]:
        """``values``: a CSV record's cells (header order) or a JSON Lines object."""
        return self._csv(values) if self.csv else self._json(values)

    def _csv(self, values: list[str]) -> tuple[dict[str, Any] | None, Problems]:
        problems: Problems = []
        row: dict[str, Any] = {}
        extra: dict[str, Any] | None = None
        payload = None
        for (code, column), value in zip(self.plan, values):
            if not value:
                continue
            if value[0] == "'" and code != _AMOUNT:
                value = unneutralise(value)
            if code == _TEXT:
                row[column] = value
            elif code == _TIME:
                row["occurred_at"] = _timestamp(value, problems)
            elif code == _AMOUNT:
                row["amount"] = value
            elif code == _CUSTOMER:
                row["customer"] = value.strip()
            elif code == _PAYLOAD:
                payload = _payload(value, problems)
            elif len(value) > self.max_length:
                problems.append((column, self.limit.problem(value)))
            else:
                if extra is None:
                    extra = {}
                extra[column] = (int(value) if code == _EXTRA and _INTEGER.match(value)
                                 else value)
        return self._finish(row, payload, extra, problems)

    def _json(self, values: dict[str, Any]) -> tuple[dict[str, Any] | None, Problems]:
        problems: Problems = []
        row: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        payload = None
        for column, value in values.items():
            if value is None or value == "":
                continue
            if column == "occurred_at":
                if type(value) is str:
                    row["occurred_at"] = _timestamp(value, problems)
                else:
                    problems.append(("occurred_at", "must be an ISO 8601 date or date-time text"))
            elif column == "amount":
                row["amount"] = value
            elif column == "payload":
                payload = _payload(value, problems)
            elif column in _TEXT_INTERACTION:
                if type(value) is not str:
                    problems.append((column, f"must be text, got {type(value).__name__}"))
                else:
                    row[column] = value.strip() if column == "customer" else value
            else:
                extra[column] = _plain(value)
        return self._finish(row, payload, extra, problems)

    @staticmethod
    def _finish(row, payload, extra, problems):
        if extra:
            payload = dict(payload or {})
            for key, value in extra.items():
                if key in payload:
                    problems.append((key, "given twice (as a column and inside payload)"))
                payload[key] = value
        if payload is not None:
            row["payload"] = payload
        return (None if problems else row), problems


def _timestamp(value: str, problems: Problems):
    """ISO 8601 text to aware UTC: a bare date is midnight UTC, no offset means UTC.

    The same rule as :func:`crmkit.clock.parse_timestamp`, on a fast path
    (this runs once per imported row).
    """
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            return parse_timestamp(value, "occurred_at")
        except ValidationError as exc:
            problems.append(("occurred_at", str(exc).removeprefix("occurred_at: ")
                             if "outside the accepted range" in str(exc) else
                             f"{value!r} is not an ISO 8601 date or date-time "
                             "(e.g. 2024-05-01 or 2024-05-01T13:00:00Z)"))
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)  # the write pipeline checks the range
    if parsed.tzinfo is UTC:
        return parsed
    utc = utc_in_range(parsed)
    if utc is None:
        problems.append(("occurred_at", out_of_range(parsed)))
    return utc


def _payload(value: Any, problems: Problems) -> dict[str, Any] | None:
    if isinstance(value, str):
        try:
            value = parse_json(value)
        except ValueError as exc:
            problems.append(("payload", f"not valid JSON: {exc}"))
            return None
    if not isinstance(value, dict):
        problems.append(("payload", "must be a JSON object"))
        return None
    return _plain(value)


def _tags(value: Any, problems: Problems) -> list[str] | None:
    if isinstance(value, str):
        return split_tags(value)
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return value
    problems.append(("tags", f"must be texts separated by {TAG_SEPARATOR!r} (or a JSON list of "
                             "texts)"))
    return None


def _plain(value: Any) -> Any:
    """JSON Lines numbers are read as Decimal; inside JSON documents they become int/float."""
    if type(value) is Decimal:
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _declares_string(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    declared = schema.get("type")
    if declared == "string":
        return True
    return isinstance(declared, list) and declared and all(t in ("string", "null")
                                                          for t in declared)


def attribute_types(schema: dict[str, Any]) -> dict[str, Any]:
    """``{key: property schema}`` of the customer attributes schema."""
    props = schema.get("properties", {})
    return props if isinstance(props, dict) else {}


# -- export -------------------------------------------------------------------------------


def customer_header(attribute_keys: list[str]) -> list[str]:
    """The CSV header of a customer export."""
    return [*CUSTOMER_COLUMNS, *(ATTR + key for key in attribute_keys)]


def customer_csv_cells(row: dict[str, Any], attribute_keys: list[str],
                       types: dict[str, Any]) -> list[str]:
    """One customer as CSV cells (formula-neutralised); reverses :class:`CustomerReader`."""
    cells = [_text(row["external_id"]), _text(row["name"]), _text(row["type"]),
             _text(row["email"]), _text(row["phone"]), _text(row["organisation"]),
             _text(row["preferred_channel"]), _text(row["lifecycle_stage"]),
             join_tags(row["tags"] or ())]
    attributes = row["attributes"] or {}
    for key in attribute_keys:
        cells.append(_attribute_cell(attributes.get(key, _MISSING), types.get(key)))
    return [neutralise(c) for c in cells]


def customer_json(row: dict[str, Any]) -> dict[str, Any]:
    """One customer as a JSON Lines object (exact: lists and objects stay JSON)."""
    out = {c: row[c] for c in CUSTOMER_COLUMNS if c != "tags" and row.get(c) is not None}
    out["tags"] = list(row["tags"] or ())
    out["attributes"] = row["attributes"] or {}
    return out


def interaction_cells(row: dict[str, Any], csv: bool) -> list[Any]:
    """One interaction in :data:`INTERACTION_COLUMNS` order (CSV cells neutralised)."""
    amount = row["amount"]
    payload = row["payload"]
    cells = [row["customer"], row["occurred_at"].isoformat(), row["kind"], row["channel"],
             row["direction"], None if amount is None else str(amount), row["currency"],
             row["external_id"], row["actor"]]
    if not csv:
        return cells + [payload]
    cells = [_text(c) for c in cells]
    cells.append("" if payload is None else json.dumps(payload, ensure_ascii=False,
                                                      sort_keys=True))
    return [c if i == 5 else neutralise(c) for i, c in enumerate(cells)]


_MISSING = object()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _attribute_cell(value: Any, schema: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        if _declares_string(schema):
            return value
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value, ensure_ascii=False)  # text that would read back as JSON
    return json.dumps(value, ensure_ascii=False)


__all__ = ["CUSTOMER_COLUMNS", "INTERACTION_COLUMNS", "CustomerReader", "InteractionReader",
           "attribute_types", "check_header", "customer_csv_cells", "customer_header",
           "customer_json", "interaction_cells"]
