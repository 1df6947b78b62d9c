"""``crmkit import``: two streaming passes over a file — check everything, then write atomically.

Pass 1 reads the file record by record, turns each into a row
(:mod:`.columns`) and checks it in batches with the pipeline's own checks
(``crm.customers.preview`` / ``crm.interactions.check``: core rules, the
attributes schema, every plugin's ``crmkit_validate_*``).  Across batches it
keeps only three 8-byte numbers per row (hash of the external id, hash of the
content, line), so a repeated external id with different content is found
anywhere in a 1M-row file without holding the file.

Pass 2 runs only when nothing was rejected (or with ``skip_invalid``): it reads
the file again and streams the good rows through ``record_many`` /
``add_many`` with ``atomic=True`` — one transaction, so a failure leaves
nothing behind.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import json
import os
from contextlib import nullcontext
from typing import Any, Callable, ContextManager, Iterator

import attrs
from sqlalchemy import bindparam, select

from .. import tables
from ..errors import ValidationError
from ..pipeline import Problem, batched
from ..types import to_money
from .columns import CustomerReader, InteractionReader, attribute_types, check_header
from .records import SourceFile, file_format

KINDS = ("customers", "interactions")
MAX_KEPT_PROBLEMS = 10_000
"""Problems kept (and printed) per import; further ones are only counted."""

_SAME, _NEW, _UPDATED = 0, 1, 2

ProgressFactory = Callable[[str, int], ContextManager[Callable[[int], None]]]
"""``progress(label, total_bytes)`` gives a context whose value is called with bytes read."""


@attrs.define
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    kind: str
    path: str
    dry_run: bool = False
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    new_customers: int = 0
    """Customers created from interaction rows (``create_customers``)."""
    written: bool = False
    problems: list[Problem] = attrs.field(factory=list)
    problems_not_kept: int = 0
    after_commit_errors: list[str] = attrs.field(factory=list)

    def summary(self) -> str:
        """``read R, created C, updated U, unchanged K, rejected X``."""
        return (f"read {self.read}, created {self.created}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected {self.rejected}")


class ImportRejected(ValidationError):
    """The file has bad rows and ``skip_invalid`` was not given: nothing was written."""

    def __init__(self, report: ImportReport):
        head = ValidationError.from_problems(list(report.problems))
        super().__init__(f"{report.path}: {report.rejected} bad row(s), nothing written:\n"
                         f"{head}", list(report.problems))
        self.report = report


def import_file(crm, kind: str, path: str, fmt: str | None = None, *,
                create_customers: bool = False, skip_invalid: bool = False,
                dry_run: bool = False, batch_size: int = 5000,
                progress: ProgressFactory | None = None) -> ImportReport:
    """Import customers or interactions from a CSV or JSON Lines file.

    The whole file is checked before anything is written; every bad row is
    reported as ``line N: field: problem``.  Bad rows reject the file
    (:class:`ImportRejected`) unless ``skip_invalid``, which writes the good
    rows.  ``dry_run`` checks everything and writes nothing.  Customers are
    upserted by external id; interactions without an external id get one
    derived from their content, so re-importing a file changes nothing.
    """
    if kind not in KINDS:
        raise ValidationError(f"cannot import {kind!r}: use one of {', '.join(KINDS)}")
    source = SourceFile(path, file_format(path, fmt), crm.core_config["max_import_bytes"])
    if source.format == "csv":
        check_header(kind, source.header())
    job = _Import(crm, kind, source, create_customers, batch_size, progress)
    report = job.report
    report.dry_run = dry_run
    job.check()
    if source.format == "jsonl" and report.read == 0:
        raise ValidationError(f"{path}: no records (only blank lines)")
    if report.rejected and not skip_invalid:
        raise ImportRejected(report)
    if dry_run:
        job.predict()
        return report
    job.write()
    with crm.transaction() as tx:
        tx.audit("import", kind, os.path.basename(path)[:200], {
            "file": os.path.basename(path), "read": report.read, "created": report.created,
            "updated": report.updated, "unchanged": report.unchanged,
            "rejected": report.rejected, "new_customers": report.new_customers,
            "skip_invalid": skip_invalid})
    return report


class _DerivedIds:
    """External ids for interactions that have none: a content hash and its occurrence number.

    The same file always gives the same ids (so a re-import is a no-op), and
    two identical rows in one file stay two interactions.  Memory: one small
    entry per row without an external id.
    """

    def __init__(self):
        self.seen: dict[int, int] = {}

    def __call__(self, row: dict[str, Any]) -> None:
        if row.get("external_id"):
            return
        digest = hashlib.blake2b(_canonical(row).encode("utf-8", "surrogatepass"), digest_size=12).digest()
        key = int.from_bytes(digest[:8], "big")
        count = self.seen.get(key, 0)
        self.seen[key] = count + 1
        text = "h:" + digest.hex()
        row["external_id"] = text if count == 0 else f"{text}:{count}"


def _content_hash(values: dict[str, Any], csv_file: bool) -> int:
    """A hash of a record's cells: a repeated external id must repeat exactly these."""
    if csv_file:
        return hash(tuple(values))
    return hash(json.dumps(values, sort_keys=True, default=str))


def _canonical(row: dict[str, Any]) -> str:
    occurred = row.get("occurred_at")
    amount = row.get("amount")
    try:
        amount = None if amount is None else str(to_money(amount).normalize())
    except ValidationError:
        pass  # the check pass rejects the row
    payload = row.get("payload")
    return "\x1f".join(str(v) for v in (
        row.get("customer"), occurred.isoformat() if occurred is not None else None,
        row.get("kind") or "purchase", row.get("channel"), row.get("direction") or "inbound",
        amount, row.get("currency"), row.get("actor"),
        None if payload is None else json.dumps(payload, sort_keys=True, default=str)))


class _Import:
    """The state of one import across its passes."""

    def __init__(self, crm, kind, source, create_customers, batch_size, progress):
        self.crm = crm
        self.kind = kind
        self.source = source
        self.create_customers = create_customers
        self.batch_size = batch_size
        self.progress = progress
        self.report = ImportReport(kind, source.path)
        self.rejected: set[int] = set()
        self.ext_hash = array.array("q")
        self.content_hash = array.array("q")
        self.lines = array.array("I")
        self.flags = array.array("b")
        self.pending_orgs: list[tuple[int, str]] = []
        self.file_orgs: set[str] = set()
        self.missing_customers: set[str] = set()
        header = source.header() if source.format == "csv" else None
        with crm.read() as conn:
            crm.refresh_plugins(conn)
        max_length = crm.core_config["max_field_length"]
        if kind == "customers":
            types = attribute_types(crm.customers.attribute_schema())
            self.reader = CustomerReader(types, max_length, header)
        else:
            self.reader = InteractionReader(max_length, header)

    # -- pass 1: check ----------------------------------------------------------------

    def check(self) -> None:
        """Read and check the whole file; remember rejected lines and duplicate evidence."""
        report = self.report
        derive = _DerivedIds() if self.kind == "interactions" else None
        reader = self.reader
        csv_file = self.source.format == "csv"
        with self._bar("checking", self.source.size) as tick:
            for chunk in batched(self.source.records(tick), self.batch_size):
                rows, lines, contents = [], [], {}
                for record in chunk:
                    report.read += 1
                    if record.problem is not None:
                        self.reject(record.line, *record.problem)
                        continue
                    row, problems = reader(record.values)
                    if row is None:
                        for field, message in problems:
                            self.reject(record.line, field, message)
                        continue
                    if derive is not None:
                        derive(row)
                    rows.append(row)
                    lines.append(record.line)
                    contents[record.line] = _content_hash(record.values, csv_file)
                if rows:
                    if self.kind == "customers":
                        self._check_customers(rows, lines, contents)
                    else:
                        self._check_interactions(rows, lines, contents)
        for line, ref in self.pending_orgs:
            if ref not in self.file_orgs:
                self.reject(line, "organisation", f"{ref!r} is not an organisation customer "
                            "(neither stored nor an organisation row of this file)")
        self._find_conflicting_repeats()
        report.rejected = len(self.rejected)
        report.problems.sort(key=lambda p: int(p[0].split()[1]))

    def reject(self, line: int, field: str, message: str) -> None:
        """Record a problem of ``line`` (kept up to MAX_KEPT_PROBLEMS, counted beyond)."""
        self.rejected.add(line)
        if len(self.report.problems) < MAX_KEPT_PROBLEMS:
            self.report.problems.append((f"line {line}", field, message))
        else:
            self.report.problems_not_kept += 1

    def _take_problems(self, problems: list[Problem]) -> set[int]:
        bad = set()
        for where, field, message in problems:
            line = int(where.split()[1])
            bad.add(line)
            self.reject(line, field, message)
        return bad

    def _check_interactions(self, rows, lines, contents) -> None:
        labels = [f"line {n}" for n in lines]
        bad = self._take_problems(
            self.crm.interactions.check(rows, labels, create_customers=self.create_customers))
        good = [(row, line) for row, line in zip(rows, lines) if line not in bad]
        stored: set[str] = set()
        with self.crm.read() as conn:
            if self.create_customers:
                refs = {row["customer"] for row, _ in good}
                known = self.crm.customers.ids_by_external_id(refs, conn)
                self.missing_customers.update(refs - known.keys())
            if self.report.dry_run:
                stored = _stored_interaction_ids(conn, [row["external_id"] for row, _ in good])
        for row, line in good:
            self._remember(row["external_id"], contents[line], line,
                           _SAME if row["external_id"] in stored else _NEW)

    def _check_customers(self, rows, lines, contents) -> None:
        refs = {row["organisation"] for row in rows if row.get("organisation")}
        in_chunk = {row.get("external_id") for row in rows if row.get("type") == "organisation"}
        stored_orgs = _stored_organisations(self.crm, refs - in_chunk) if refs else set()
        checked = []
        for row, line in zip(rows, lines):
            ref = row.get("organisation")
            if ref and ref not in in_chunk and ref not in stored_orgs:
                self.pending_orgs.append((line, ref))
                row = {k: v for k, v in row.items() if k != "organisation"}
            checked.append(row)
        labels = [f"line {n}" for n in lines]
        new, updated, problems = self.crm.customers.preview(checked, labels)
        bad = self._take_problems(problems)
        new_ids, updated_ids = set(new), set(updated)
        for row, line in zip(rows, lines):
            if line in bad:
                continue
            ext = row["external_id"].strip()
            if row.get("type") == "organisation":
                self.file_orgs.add(ext)
            flag = _NEW if ext in new_ids else _UPDATED if ext in updated_ids else _SAME
            self._remember(ext, contents[line], line, flag)

    def _remember(self, external_id: str, content: int, line: int, flag: int) -> None:
        self.ext_hash.append(hash(external_id))
        self.content_hash.append(content)
        self.lines.append(line)
        self.flags.append(flag)

    def _find_conflicting_repeats(self) -> None:
        """A repeated external id with different content rejects the later lines.

        One stable sort of the external-id hashes (rows stay in line order
        within a group); content is compared only where a hash repeats, so the
        peak is about two 8-byte arrays of the row count.
        """
        import numpy as np

        self._order = self._repeat = None
        if not self.lines:
            return
        ext = np.frombuffer(self.ext_hash, dtype=np.int64)
        order = np.argsort(ext, kind="stable")
        ordered = ext[order]
        repeat = ordered[1:] == ordered[:-1]
        del ordered
        self._order, self._repeat = order, repeat
        if not repeat.any():
            return
        at = np.flatnonzero(repeat) + 1
        starts = np.flatnonzero(np.concatenate(([True], ~repeat)))
        first = starts[np.searchsorted(starts, at, side="right") - 1]
        content = np.frombuffer(self.content_hash, dtype=np.int64)
        lines = np.frombuffer(self.lines, dtype=np.uint32)
        for later, earlier in zip(order[at], order[first]):
            if content[later] != content[earlier]:
                self.reject(int(lines[later]), "external_id",
                            f"repeats the external id of line {int(lines[earlier])} "
                            "with different content")

    # -- dry run ----------------------------------------------------------------------

    def predict(self) -> None:
        """Fill the report's counts with what the write pass would do (``dry_run``)."""
        import numpy as np

        report = self.report
        report.new_customers = len(self.missing_customers)
        if self._order is None:
            return
        order = self._order
        first = np.concatenate(([True], ~self._repeat))  # first row of each external id
        lines = np.frombuffer(self.lines, dtype=np.uint32)[order]
        flags = np.frombuffer(self.flags, dtype=np.int8)[order]
        rejected = np.fromiter(self.rejected, dtype=np.uint32, count=len(self.rejected))
        keep = ~np.isin(lines, rejected)
        report.created = int(np.count_nonzero(first & keep & (flags == _NEW)))
        report.updated = int(np.count_nonzero(first & keep & (flags == _UPDATED)))
        report.unchanged = int(np.count_nonzero(keep)) - report.created - report.updated

    # -- pass 2: write ----------------------------------------------------------------

    def write(self) -> None:
        """Stream the good rows through the write pipeline in one atomic transaction."""
        report = self.report
        crm = self.crm
        if self.kind == "interactions":
            with self._bar("writing", self.source.size) as tick:
                result = crm.interactions.record_many(
                    self._rows(tick), batch_size=self.batch_size, atomic=True,
                    create_customers=self.create_customers)
            report.new_customers = len(self.missing_customers)
        else:
            passes = 2 if self.file_orgs else 1
            with self._bar("writing", self.source.size * passes) as tick:
                if self.file_orgs:  # organisations first: people refer to them
                    rows: Iterator[dict] = itertools.chain(
                        self._rows(tick, lambda r: r.get("type") == "organisation"),
                        self._rows(tick, lambda r: r.get("type") != "organisation"))
                else:
                    rows = self._rows(tick)
                result = crm.customers.add_many(rows, batch_size=self.batch_size, atomic=True,
                                                upsert=True)
        report.created, report.updated = result.created, result.updated
        report.unchanged = result.unchanged
        report.after_commit_errors = list(result.after_commit_errors)
        report.written = True

    def _rows(self, tick, wanted: Callable[[dict], bool] | None = None) -> Iterator[dict]:
        derive = _DerivedIds() if self.kind == "interactions" else None
        rejected = self.rejected
        reader = self.reader
        for record in self.source.records(tick):
            if record.problem is not None:
                continue
            row, _ = reader(record.values)
            if row is None:
                continue
            if derive is not None:
                derive(row)
            if record.line in rejected or (wanted is not None and not wanted(row)):
                continue
            yield row

    def _bar(self, label: str, length: int):
        if self.progress is None:
            return nullcontext(None)
        return self.progress(label, length)


def _stored_interaction_ids(conn, external_ids: list[str]) -> set[str]:
    t = tables.interactions
    query = select(t.c.external_id).where(t.c.external_id.in_(bindparam("ids", expanding=True)))
    found: set[str] = set()
    for start in range(0, len(external_ids), 5000):
        found.update(conn.execute(query, {"ids": external_ids[start:start + 5000]}).scalars())
    return found


def _stored_organisations(crm, refs: set[str]) -> set[str]:
    c = tables.customers.c
    query = select(c.external_id).where(c.external_id.in_(bindparam("refs", expanding=True)),
                                        c.type == "organisation")
    with crm.read() as conn:
        return set(conn.execute(query, {"refs": sorted(refs)}).scalars())


__all__ = ["ImportRejected", "ImportReport", "KINDS", "MAX_KEPT_PROBLEMS", "import_file"]
