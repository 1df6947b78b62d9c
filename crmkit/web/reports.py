"""Reports and listings answered a page at a time: RFM scores, CLV predictions, contacts due
(:class:`ReportPage`); a campaign's coupons, a team's queue (:class:`KeyedPage`, below).

A report is computed whole at one ``as_of`` (a plugin's API does that); its endpoint answers
``limit`` rows of it (:data:`REPORT_PAGE`) from the position a cursor names, and leaves out
the rows of the customers a plugin's row-level rule hides from the caller, asking the rules
only about the page's customers.  ``next_cursor`` carries the report's ``as_of`` with the
position, so every page of one listing comes from the report at the same instant, even
when the first request named no ``as_of`` (now): records written meanwhile change no page
unless they are dated at or before that instant (a backdated import does).  Positions
count every row of the report, hidden or not, so a page may hold fewer than ``limit`` rows
(none, even): follow ``next_cursor`` until it is ``null``.

    def rfm(call):
        page = ReportPage.of(call)
        return page.answer(call, call.api().rfm(page.as_of), shape=rfm_row)
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import attrs

from ..clock import parse_timestamp
from ..errors import ValidationError
from ..models import jsonable
from .resources import bad_cursor, decode_cursor, encode_cursor
from .schemas import AS_OF_INSTANT, closed_object, timestamp_or_none

if TYPE_CHECKING:  # pragma: no cover
    from .endpoints import Call

REPORT_PAGE = {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100,
               "description": "Rows per page."}
"""JSON Schema of a report's ``limit``: 1 to 1000 rows a page, 100 when not given."""
REPORT_CURSOR = {"type": "string", "description": "next_cursor of the previous page."}
"""JSON Schema of a report's ``cursor``."""


def report_query(properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """The query schema of a paged report: ``as_of``, ``limit`` and ``cursor`` besides the
    report's own ``properties``."""
    return closed_object({"as_of": AS_OF_INSTANT, **(properties or {}),
                          "limit": REPORT_PAGE, "cursor": REPORT_CURSOR})


def report_page_schema(item: dict[str, Any], **extra: dict[str, Any]) -> dict[str, Any]:
    """The response schema of a paged report: ``items`` (each ``item``), ``next_cursor``
    (null on the last page) and the ``extra`` properties the report adds."""
    return closed_object({"items": {"type": "array", "items": item},
                          "next_cursor": {"type": ["string", "null"]}, **extra},
                         ("items", "next_cursor", *extra))


@attrs.frozen
class ReportPage:
    """Which page of a report a request asks for: the report's ``as_of``, the position of its
    first row and how many rows."""

    as_of: dt.datetime
    start: int
    limit: int

    @classmethod
    def of(cls, call: "Call") -> "ReportPage":
        """The page a request of :func:`report_query` asks for: the cursor's report and
        position, else the first page at the query's ``as_of`` (default: the CRM clock's
        now).  An ``as_of`` given with a cursor must be the cursor's."""
        given = timestamp_or_none(call.query.get("as_of"), "as_of")
        limit = call.query["limit"]
        text = call.query.get("cursor")
        if text is None:
            return cls(given or call.crm.clock.now(), 0, limit)
        position = decode_cursor(text)
        if not isinstance(position, list) or position[1] < 0:
            raise bad_cursor(text)
        try:
            as_of = parse_timestamp(position[0], "cursor")
        except ValidationError:
            raise bad_cursor(text) from None
        if given is not None and given != as_of:
            problem = (f"{given.isoformat()} is not the as_of of the cursor's report "
                       f"({as_of.isoformat()}; leave as_of out when passing a cursor)")
            raise ValidationError(f"query parameter as_of: {problem}",
                                  [("query", "as_of", problem)])
        return cls(as_of, position[1], limit)

    def window(self, rows: Sequence[Any]) -> Sequence[Any]:
        """The rows of the whole report ``rows`` that fall on this page (before any is left
        out for the caller): to read only what the page needs about them."""
        return rows[self.start:self.start + self.limit]

    def answer(self, call: "Call", rows: Sequence[Any], personal: Iterable[str] = (),
               shape: Callable[[Any], dict[str, Any]] = jsonable,
               key: str | tuple[str, ...] | None = "customer") -> dict[str, Any]:
        """This page of ``rows`` (the whole report, in its order) for the caller:
        ``{"items": [...], "next_cursor": ...}``.  Each row of the page is turned into its
        JSON object by ``shape`` (default :func:`crmkit.jsonable`), then
        ``crm.auth.rows_as_seen(principal, page, personal, key)`` leaves out the customers a
        row-level rule hides and masks the ``personal`` fields where it should (``key``: a
        tuple of keys for rows naming several customers); ``key`` None: the rows are about
        no single customer (totals per segment), all shown."""
        end = self.start + self.limit
        page = [shape(row) for row in self.window(rows)]
        if key is not None:
            page = call.crm.auth.rows_as_seen(call.principal, page, personal, key)
        more = end < len(rows)
        return {"items": page,
                "next_cursor": encode_cursor([self.as_of.isoformat(), end]) if more else None}


def keyed_query(properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """The query schema of a listing paged by :class:`KeyedPage`: ``limit`` and ``cursor``
    besides the listing's own ``properties``."""
    return closed_object({**(properties or {}), "limit": REPORT_PAGE, "cursor": REPORT_CURSOR})


def text_key(position: Any) -> str:
    """A cursor position that is a text key (a coupon's code), for :meth:`KeyedPage.of`."""
    if not isinstance(position, str):
        raise TypeError("not a text key")
    return position


def id_key(position: Any) -> int:
    """A cursor position that is a row's id (a ledger entry's), for :meth:`KeyedPage.of`."""
    if isinstance(position, bool) or not isinstance(position, int):
        raise TypeError("not an id key")
    return position


@attrs.frozen
class KeyedPage:
    """Which page of a listing ordered by a unique key (a coupon's code; a work item's
    creation instant and id) a request asks for: the key of the last row of the page before
    (None for the first page) and how many rows.  Unlike a :class:`ReportPage` the rows are
    read from the database a page at a time, and rows added or removed meanwhile shift no
    page.

        def coupons(call):
            page = KeyedPage.of(call)
            rows = call.api().coupons(name, after=page.after, limit=page.limit + 1)
            return page.answer(call, rows, key_of=lambda coupon: coupon.code)
    """

    after: Any
    limit: int

    @classmethod
    def of(cls, call: "Call", parse: Callable[[Any], Any] = text_key) -> "KeyedPage":
        """The page a request of :func:`keyed_query` asks for.  ``parse`` turns a cursor's
        position (a text, an id, or a text and an id: what ``key_of`` gave for the last row
        shown) into the key the listing reads after, raising ValueError, TypeError or
        ValidationError for a position it never gave (a ``422`` naming the cursor)."""
        text = call.query.get("cursor")
        if text is None:
            return cls(None, call.query["limit"])
        try:
            return cls(parse(decode_cursor(text)), call.query["limit"])
        except (ValueError, TypeError, ValidationError):
            raise bad_cursor(text) from None

    def answer(self, call: "Call", rows: Sequence[Any], key_of: Callable[[Any], Any],
               personal: Iterable[str] = (),
               shape: Callable[[Any], dict[str, Any]] = jsonable,
               key: str | tuple[str, ...] | None = "customer") -> dict[str, Any]:
        """This page for the caller, from the listing's rows after :attr:`after` in key order,
        at most ``limit + 1`` of them (one more tells that a next page exists):
        ``{"items": [...], "next_cursor": ...}``.  ``shape``, ``personal`` and ``key`` as in
        :meth:`ReportPage.answer` (``key`` None: rows about no customer, such as products,
        all shown); ``key_of(row)`` is a row's key as a cursor holds it (a text, an id, or a
        text and an id)."""
        page = rows[:self.limit]
        items = [shape(row) for row in page]
        if key is not None:
            items = call.crm.auth.rows_as_seen(call.principal, items, personal, key)
        more = len(rows) > self.limit
        return {"items": items, "next_cursor": encode_cursor(key_of(page[-1])) if more else None}


__all__ = ["REPORT_PAGE", "REPORT_CURSOR", "report_query", "report_page_schema", "ReportPage",
           "KeyedPage", "keyed_query", "text_key", "id_key"]
