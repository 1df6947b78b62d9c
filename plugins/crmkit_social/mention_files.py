"""Reading mention files (CSV with a header, or JSON Lines) through the core's record reader."""

from __future__ import annotations

from typing import Any

from crmkit.plugin import SourceFile, file_format


def read(path: str, fmt: str | None = None, max_bytes: int | None = None
         ) -> tuple[list[dict[str, Any]], list[str], list[tuple[str, str, str]]]:
    """Records, their labels (``line N``) and the problems of lines that are not records at all.

    CSV cells get the core's spreadsheet-formula escaping undone, so a file
    written by ``crmkit export`` reads back exactly.
    """
    return SourceFile(path, file_format(path, fmt), max_bytes).read_all()
