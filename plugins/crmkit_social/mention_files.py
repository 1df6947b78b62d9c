"""Reading mention files: CSV (header row) or JSON Lines, each record labelled with its line number."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from crmkit.errors import ValidationError

FORMATS = ("csv", "jsonl")
EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def detect_format(path: str, fmt: str | None) -> str:
    """``fmt`` if given, else from the file extension (.csv, .jsonl, .ndjson)."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise ValidationError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    found = EXTENSIONS.get(Path(path).suffix.lower())
    if found is None:
        raise ValidationError(f"{path}: cannot tell the format from the extension "
                              f"(use .csv or .jsonl, or give --format {'|'.join(FORMATS)})")
    return found


def read(path: str, fmt: str | None = None) -> tuple[list[dict[str, Any]], list[str],
                                                     list[tuple[str, str, str]]]:
    """Records, their labels (``line N``) and the problems of lines that are not records at all."""
    kind = detect_format(path, fmt)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        try:
            return _csv(handle) if kind == "csv" else _jsonl(handle)
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{path}: not UTF-8 text ({exc.reason})") from None


def _csv(handle) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, str, str]]]:
    reader = csv.reader(handle)
    records, labels, problems = [], [], []
    header = next(reader, None)
    if header is None:
        return records, labels, problems
    header = [h.strip() for h in header]
    start = reader.line_num
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append((f"line {reader.line_num}", "row", f"not valid CSV: {exc}"))
            break
        where = f"line {start + 1}"
        start = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append((where, "row", f"{len(values)} values for {len(header)} columns"))
            continue
        records.append(dict(zip(header, values)))
        labels.append(where)
    return records, labels, problems


def _jsonl(handle) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, str, str]]]:
    records, labels, problems = [], [], []
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append((where, "line", f"not valid JSON: {exc.msg} at column {exc.colno}"))
            continue
        if not isinstance(value, dict):
            problems.append((where, "line", f"expected a JSON object, got {type(value).__name__}"))
            continue
        records.append(value)
        labels.append(where)
    return records, labels, problems
