"""Reading mention files (CSV with a header, or JSON Lines) through the core's record reader."""

from __future__ import annotations

from typing import Any

from crmkit.plugin import SourceFile, file_format, unneutralise


def read(path: str, fmt: str | None = None, max_bytes: int | None = None
         ) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, str, str]]]:
    """Records, their labels (``line N``) and the problems of lines that are not records at all.

    CSV cells get the core's spreadsheet-formula escaping undone, so a file
    written by ``crmkit export`` reads back exactly.
    """
    source = SourceFile(path, file_format(path, fmt), max_bytes)
    header = source.header() if source.format == "csv" else None
    records, labels, problems = [], [], []
    for record in source.records():
        where = f"line {record.line}"
        if record.values is None:
            field, message = record.problem or ("row", "unreadable")
            problems.append((where, field, message))
            continue
        values = record.values
        if header is not None:  # a CSV record is its cells in header order
            values = {k: unneutralise(v) for k, v in zip(header, values)}
        records.append(values)
        labels.append(where)
    return records, labels, problems
