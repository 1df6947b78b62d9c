"""A small JSON condition language shared by automation rules, routing rules and segments.

A condition is one of::

    {"field": "payload.channel", "op": "eq", "value": "email"}
    {"all": [CONDITION, ...]}     every one holds (an empty list holds)
    {"any": [CONDITION, ...]}     at least one holds
    {"not": CONDITION}

Operators: ``eq ne lt le gt ge in contains exists``.  ``in`` takes a list;
``contains`` holds when a list field contains the value or a text field
contains it as a substring; ``exists`` holds when the field is present and not
null (its value is ignored).  Fields are dotted paths.

Conditions evaluate in Python over a dict (:func:`evaluate`) or compile to a
SQLAlchemy expression (:func:`to_sql`) in which every value is a bound
parameter: user text never becomes SQL.
"""

from __future__ import annotations

import math
import operator
from decimal import Decimal
from typing import Any, Callable, Iterable

from .condition_schema import OPS, SCHEMA, with_condition_schema
from .errors import ConfigError
from .types import condition_money, json_problem

KEPT_IN_LOWER_CASE = frozenset({"preferred_channel", "customer.preferred_channel", "kind",
                                "interaction.kind"})
"""Fields whose values crmkit keeps in lower case, spaces around them dropped (preferred
channels and interaction kinds).  A text compared with one of them (``eq``, ``ne``, ``in``)
is read the same way, by :func:`evaluate` and :func:`to_sql` alike: ``"Email"`` matches the
customers whose preferred channel is ``email``, whenever the condition was saved."""


def check(condition: Any, fields: Callable[[str], bool] | Iterable[str], pointer: str,
          money_fields: Iterable[str] = ()) -> None:
    """Raise ConfigError (naming the JSON pointer) unless ``condition`` is well formed.

    ``fields`` says which field paths exist: a set of names (a name ending in
    ``.*`` allows any sub-path) or a predicate.  A condition nested deeper than
    :data:`crmkit.types.MAX_JSON_DEPTH` JSON levels, or holding NaN or an
    infinite number, is refused.  The values compared with ``money_fields``
    must be amounts by :func:`crmkit.types.condition_money` (at most 4 decimal
    places: money is never rounded to match).
    """
    problem = json_problem(condition)
    if problem:
        raise ConfigError(pointer + problem)
    allowed = fields if callable(fields) else _field_predicate(set(fields))
    _check(condition, allowed, pointer, frozenset(money_fields))


def _field_predicate(names: set[str]) -> Callable[[str], bool]:
    prefixes = tuple(n[:-1] for n in names if n.endswith(".*"))

    def known(field: str) -> bool:
        return field in names or (bool(prefixes) and field.startswith(prefixes))

    return known


def _check(condition: Any, known: Callable[[str], bool], pointer: str,
           money: frozenset[str]) -> None:
    if not isinstance(condition, dict) or len(condition) == 0:
        raise ConfigError(f"{pointer}: a condition must be an object with field/op, all, any or not")
    if "all" in condition or "any" in condition:
        key = "all" if "all" in condition else "any"
        parts = condition[key]
        if not isinstance(parts, list):
            raise ConfigError(f"{pointer}/{key}: must be a list of conditions")
        for i, part in enumerate(parts):
            _check(part, known, f"{pointer}/{key}/{i}", money)
        return
    if "not" in condition:
        _check(condition["not"], known, f"{pointer}/not", money)
        return
    field, op = condition.get("field"), condition.get("op")
    if not isinstance(field, str) or not field:
        raise ConfigError(f"{pointer}/field: required text naming a field")
    if not known(field):
        raise ConfigError(f"{pointer}/field: unknown field {field!r}")
    if op not in OPS:
        raise ConfigError(f"{pointer}/op: {op!r} is not an operator (allowed: {', '.join(OPS)})")
    if op == "exists":
        return
    if "value" not in condition:
        raise ConfigError(f"{pointer}/value: required for op {op!r}")
    value = condition["value"]
    if op == "in":
        if not isinstance(value, list) or not all(_is_scalar(v) and v is not None for v in value):
            raise ConfigError(f"{pointer}/value: op 'in' needs a list of texts, numbers or booleans")
    elif not _is_scalar(value):
        raise ConfigError(f"{pointer}/value: op {op!r} needs a text, number or boolean, "
                          f"not {type(value).__name__}")
    elif value is None and op not in ("eq", "ne"):
        raise ConfigError(f"{pointer}/value: null can only be compared with eq or ne")
    elif isinstance(value, bool) and op in ("lt", "le", "gt", "ge", "contains"):
        raise ConfigError(f"{pointer}/value: op {op!r} needs a text or number, not a boolean")
    values = ([(f"{pointer}/value/{i}", v) for i, v in enumerate(value)] if op == "in"
              else [(f"{pointer}/value", value)])
    if field in money and value is not None:
        for where, amount in values:
            condition_money(amount, where)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def as_kept(field: str, op: str, value: Any) -> Any:
    """The value of a test as crmkit keeps ``field``'s values: a text compared with a field of
    :data:`KEPT_IN_LOWER_CASE` in lower case, spaces around it dropped; anything else as is."""
    if field not in KEPT_IN_LOWER_CASE or op not in ("eq", "ne", "in"):
        return value
    if op == "in":
        return [_lowered(item) for item in value]
    return _lowered(value)


def _lowered(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def lookup(data: dict[str, Any], field: str) -> Any:
    """The value at dotted path ``field`` in nested dicts, or None when absent."""
    value: Any = data
    for part in field.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def evaluate(condition: dict[str, Any], data: dict[str, Any]) -> bool:
    """Whether ``condition`` holds for ``data``, as :func:`to_sql`'s SQL would.  A missing
    field (absent or null) is ``eq`` null and ``ne`` every other value; every other test of
    it (``exists``, ``in``, ``lt`` and the rest) is false."""
    if "all" in condition:
        return all(evaluate(c, data) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, data) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], data)
    field, op = condition["field"], condition["op"]
    return compare(lookup(data, field), op, as_kept(field, op, condition.get("value")))


_ORDERING = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}
"""The ordering operators, for Python values (:func:`compare`) and SQL columns (:func:`to_sql`)."""


def _as_read(expected: Any) -> Any:
    """A JSON number as the exact Decimal it reads as (``0.1`` is ``0.1``), for comparing with a
    Decimal value such as a money amount; anything else unchanged."""
    if isinstance(expected, float) and math.isfinite(expected):
        return Decimal(repr(expected))
    if isinstance(expected, list):
        return [_as_read(item) for item in expected]
    return expected


def compare(value: Any, op: str, expected: Any) -> bool:
    """Apply one operator; incomparable types give False (never raise), and so does a missing
    ``value`` (None), except that it is ``eq`` null and ``ne`` anything else, as in SQL
    (:func:`to_sql`).

    A Decimal value (money) is compared with a JSON number as written, not with its binary
    float: ``10.10`` equals ``10.1``."""
    if op == "exists":
        return value is not None
    if value is None:  # as in SQL: missing is null, equal to null and to nothing else
        return (op == "eq") is (expected is None) if op in ("eq", "ne") else False
    if isinstance(value, Decimal):
        expected = _as_read(expected)
    try:
        if op == "eq":
            return value == expected
        if op == "ne":
            return value != expected
        if op in _ORDERING:
            return _ORDERING[op](value, expected)
        if op == "in":
            return value in expected
        if op == "contains":
            if isinstance(value, (list, tuple, set)):
                return expected in value
            return isinstance(value, str) and str(expected) in value
    except TypeError:
        return False
    raise ValueError(f"unknown operator {op!r}")


def to_sql(condition: dict[str, Any], column_for: Callable[[str, str], Any]):
    """Compile ``condition`` to a SQLAlchemy boolean expression with bound parameters.

    ``column_for(field, op)`` returns the SQL expression of a field (raise
    ConfigError for an unknown one).  For ``contains`` on a JSON array column,
    return a callable taking the value and returning the test.
    """
    from sqlalchemy import and_, false, not_, or_, true

    if "all" in condition:
        parts = [to_sql(c, column_for) for c in condition["all"]]
        return and_(true(), *parts)
    if "any" in condition:
        parts = [to_sql(c, column_for) for c in condition["any"]]
        return or_(false(), *parts)
    if "not" in condition:
        return not_(to_sql(condition["not"], column_for))
    field, op = condition["field"], condition["op"]
    value = as_kept(field, op, condition.get("value"))
    column = column_for(field, op)
    if callable(column) and not hasattr(column, "compare"):
        return column(value)
    if op == "exists":
        return column.is_not(None)
    if op == "eq":
        return column == value
    if op == "ne":
        return or_(column != value, column.is_(None)) if value is not None else column.is_not(None)
    if op in _ORDERING:
        return _ORDERING[op](column, value)
    if op == "in":
        return column.in_(list(value))
    if op == "contains":
        return column.contains(str(value), autoescape=True)
    raise ConfigError(f"unknown operator {op!r}")


__all__ = [
    "OPS", "SCHEMA", "KEPT_IN_LOWER_CASE", "with_condition_schema", "check", "as_kept", "lookup",
    "evaluate", "compare", "to_sql",
]
