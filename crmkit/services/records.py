"""Reading import files as numbered records, streamed; spreadsheet formula neutralisation.

A file is read as bytes one physical line at a time, so that a line that is
not UTF-8 or is longer than :data:`MAX_LINE_BYTES` is reported by its number
and a file of any size never sits in memory.  Each pass over a file opens it
again (a customer import reads it again for the people naming a later
organisation).
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from decimal import Decimal
from typing import Any, Callable, Iterator, NamedTuple

from ..errors import ValidationError
from ..types import parse_json

MAX_LINE_BYTES = 1_048_576
"""The longest accepted physical line of an import file (1 MiB); a longer line is a row error."""

FORMATS = ("csv", "jsonl")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}

_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")
_OVERSIZED = "\n"

Progress = Callable[[int], None]
"""Called with the number of bytes just read (drives a progress bar)."""


class Record(NamedTuple):
    """One record of a file: its first line number, its fields, or why it cannot be read."""

    line: int
    values: Any
    problem: tuple[str, str] | None = None
    """``(field, message)`` when the record itself is unreadable."""


def neutralise(cell: str) -> str:
    """Make a CSV cell safe for spreadsheets: prefix ``'`` when it could start a formula.

    Cells starting (after any quotes) with ``=``, ``+``, ``-``, ``@``, tab or
    CR get one more leading quote; :func:`unneutralise` removes exactly that
    quote again, so every text round-trips.
    """
    return "'" + cell if _FORMULA.match(cell) else cell


def unneutralise(cell: str) -> str:
    """Undo :func:`neutralise`: drop one leading ``'`` before a formula character."""
    return cell[1:] if _ESCAPED.match(cell) else cell


def file_format(path: str, given: str | None) -> str:
    """The format of ``path``: ``given``, else from the extension (.csv, .jsonl, .ndjson)."""
    if given is not None:
        if given not in FORMATS:
            raise ValidationError(f"format {given!r}: use one of {', '.join(FORMATS)}")
        return given
    found = EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if found is None:
        raise ValidationError(f"{path}: cannot tell the format from the extension "
                              "(.csv, .jsonl or .ndjson): give --format csv|jsonl")
    return found


class SourceFile:
    """An import file; :meth:`records` streams it, once per call.

    ``max_bytes`` (the core config's ``max_import_bytes``) refuses a larger file
    before anything is read.
    """

    def __init__(self, path: str, fmt: str, max_bytes: int | None = None):
        self.path = path
        self.format = fmt
        self._header: list[str] | None = None
        try:
            self.size = os.path.getsize(path)
        except OSError as exc:
            raise ValidationError(f"{path}: cannot read: {exc.strerror}") from None
        if max_bytes is not None and self.size > max_bytes:
            raise ValidationError(f"{path}: {self.size} bytes; the limit is {max_bytes} "
                                  "(core config max_import_bytes)")
        if self.size == 0:
            raise ValidationError(f"{path}: the file is empty"
                                  + (" (expected a header line)" if fmt == "csv" else ""))

    def header(self) -> list[str]:
        """The CSV header's column names (stripped); errors name the problem."""
        if self.format != "csv":
            return []
        if self._header is None:
            self._header = self._read_header()
        return self._header

    def _read_header(self) -> list[str]:
        with open(self.path, "rb") as handle:
            oversized: list[int] = []
            for text in _lines(handle, None, oversized):
                if oversized:
                    raise ValidationError(f"{self.path}: line 1: header: longer than "
                                          f"{MAX_LINE_BYTES} bytes")
                row = next(csv.reader([text]), [])
                if not row or not any(cell.strip() for cell in row):
                    raise ValidationError(f"{self.path}: line 1: header: the first line is "
                                          "blank; expected the column names")
                return [cell.strip() for cell in row]
        raise ValidationError(f"{self.path}: the file is empty (expected a header line)")

    def records(self, progress: Progress | None = None) -> Iterator[Record]:
        """Every record with its line number (header and blank lines skipped).

        A CSV record's ``values`` is the list of its cells, in header order; a
        JSON Lines record's is the object.
        """
        with open(self.path, "rb") as handle:
            if self.format == "csv":
                yield from _csv_records(handle, progress, len(self.header()))
            else:
                yield from _jsonl_records(handle, progress)

    def read_all(self) -> tuple[list[Any], list[str], list[tuple[str, str, str]]]:
        """The whole file at once, for a plugin's small imports: the records (a CSV record as
        ``{column: cell}`` with the spreadsheet-formula escaping undone, so a file written by
        ``crmkit export`` reads back exactly; a JSON Lines record as its value), their labels
        (``line N``), and ``(line N, field, problem)`` for each line that is no record."""
        header = self.header() if self.format == "csv" else None
        records, labels, problems = [], [], []
        for record in self.records():
            where = f"line {record.line}"
            if record.values is None:
                field, message = record.problem or ("row", "unreadable")
                problems.append((where, field, message))
                continue
            values = record.values
            if header is not None:
                values = {k: unneutralise(v) for k, v in zip(header, values)}
            records.append(values)
            labels.append(where)
        return records, labels, problems


_PROGRESS_STEP = 1 << 16


def _lines(handle, progress: Progress | None, oversized: list[int]) -> Iterator[str]:
    """Decoded physical lines; an oversized line yields a blank line and its number goes to ``oversized``."""
    number = 0
    limit = MAX_LINE_BYTES + 1
    readline = handle.readline
    pending = 0
    while True:
        raw = readline(limit)
        if not raw:
            break
        number += 1
        size = len(raw)
        if size == limit and raw[-1] != 10:
            while raw and raw[-1] != 10:
                raw = readline(limit)
                size += len(raw)
            oversized.append(number)
            raw = b"\n"
        elif number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[3:]
        if progress is not None:
            pending += size
            if pending >= _PROGRESS_STEP:
                progress(pending)
                pending = 0
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"line {number}: the file is not UTF-8: byte 0x{raw[exc.start]:02x} at "
                f"column {exc.start + 1} cannot be decoded (save the file as UTF-8)"
            ) from None
    if progress is not None and pending:
        progress(pending)


def _too_long(line: int) -> Record:
    return Record(line, None, ("row", f"the line is longer than {MAX_LINE_BYTES} bytes (the limit)"))


def _csv_records(handle, progress: Progress | None, width: int) -> Iterator[Record]:
    oversized: list[int] = []
    csv.field_size_limit(MAX_LINE_BYTES)
    reader = csv.reader(_lines(handle, progress, oversized), strict=True)
    last = 0
    try:
        for row in reader:
            first, last = last + 1, reader.line_num
            if first == 1:
                continue  # the header
            if oversized:
                too_long = [n for n in oversized if n <= last]
                if too_long:
                    del oversized[:len(too_long)]
                    yield _too_long(too_long[0])
                    continue
            if len(row) != width:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                yield Record(first, None, ("row", f"{len(row)} field{'' if len(row) == 1 else 's'}; "
                                                  f"the header has {width}"))
                continue
            yield Record(first, row)
    except csv.Error as exc:
        raise ValidationError(_csv_syntax_error(exc, last + 1, reader.line_num)) from None


def _csv_syntax_error(exc: csv.Error, start: int, at: int) -> str:
    """One line for a CSV syntax error in the record starting on line ``start`` (read up to ``at``).

    The usual cause is a quote that is never closed: the reader then takes
    every following line into one field, so the error names the line where
    the record (and so the quote) began.
    """
    message = str(exc)
    if message == "unexpected end of data":
        return (f"line {start}: CSV syntax error: a quoted field of the record that starts on "
                "this line is never closed (the file ends inside it)")
    if message.startswith("field larger than field limit"):
        message = (f"a field is longer than {MAX_LINE_BYTES} bytes (the limit)")
    if at > start:
        return (f"line {start}: CSV syntax error: {message} on line {at} (a quoted field of "
                f"the record that starts on line {start} runs to line {at}: is a quote missing?)")
    return f"line {start}: CSV syntax error: {message}"


def _jsonl_records(handle, progress: Progress | None) -> Iterator[Record]:
    oversized: list[int] = []
    for number, text in enumerate(_lines(handle, progress, oversized), 1):
        if oversized and oversized[-1] == number:
            yield _too_long(number)
            continue
        if not text.strip():
            continue
        try:
            value = parse_json(text, parse_float=Decimal)
        except ValueError as exc:
            yield Record(number, None, ("json", f"not valid JSON: {exc}"))
            continue
        if not isinstance(value, dict):
            yield Record(number, None,
                         ("json", f"expected a JSON object, got {_JSON_KINDS[type(value)]}"))
            continue
        yield Record(number, value)


_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number",
               Decimal: "a number", bool: "true or false", type(None): "null"}
"""How a JSON Lines line that is no object is named: by its JSON kind (Python's names are
not the user's)."""


__all__ = ["MAX_LINE_BYTES", "Record", "SourceFile", "file_format", "neutralise",
           "unneutralise"]
