"""Import memory: what the import holds in Python is bounded by the batch, not by the file."""

from __future__ import annotations

import tracemalloc

from crmkit.services.importing import import_file

BATCH = 500
ROWS = 2500
"""The small file's rows; the large file has four times as many."""
BYTES_PER_EXTRA_ROW = 64
"""Allowed growth of the traced peak per extra row.  Holding the file in Python cost 616 B a
row; what is left (up to about 24 B a row on SQLAlchemy 2.0.0, whose statement caches fill
more slowly) is far below what any Python object kept per row of the file would cost."""


def interactions_file(path, rows: int, prefix: str) -> str:
    """``rows`` purchases, each of a new customer and without an external id (derived ids)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("customer,occurred_at,kind,channel,amount,currency,external_id\n")
        for i in range(rows):
            handle.write(f"{prefix}{i},2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:{i % 60:02d}:00Z,"
                         f"purchase,web,{10 + i % 90}.25,USD,\n")
    return str(path)


def traced_peak(crm, path: str):
    """The import's report and the peak of Python memory it allocated, in bytes."""
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    report = import_file(crm, "interactions", path, create_customers=True, batch_size=BATCH)
    return report, tracemalloc.get_traced_memory()[1] - before


def test_import_peak_memory_does_not_grow_with_the_file(crm, tmp_path, monkeypatch):
    """Beyond the batch, the import keeps only the customers it has looked up, up to
    ``MAX_KNOWN_CUSTOMERS``: bounded to a batch here, nothing else may grow with the file."""
    from crmkit.services import importing

    monkeypatch.setattr(importing, "MAX_KNOWN_CUSTOMERS", BATCH)
    warm = interactions_file(tmp_path / "warm.csv", 2 * BATCH, "W")
    small = interactions_file(tmp_path / "small.csv", ROWS, "S")
    large = interactions_file(tmp_path / "large.csv", 4 * ROWS, "L")
    tracemalloc.start()
    try:
        traced_peak(crm, warm)  # modules imported, statement caches filled
        small_report, small_peak = traced_peak(crm, small)
        large_report, large_peak = traced_peak(crm, large)
    finally:
        tracemalloc.stop()
    assert small_report.summary() == f"read {ROWS}, created {ROWS}, updated 0, unchanged 0, rejected 0"
    assert large_report.summary() == (f"read {4 * ROWS}, created {4 * ROWS}, updated 0, "
                                      "unchanged 0, rejected 0")
    assert (small_report.new_customers, large_report.new_customers) == (ROWS, 4 * ROWS)
    growth = large_peak - small_peak
    assert growth < 3 * ROWS * BYTES_PER_EXTRA_ROW, (
        f"peak {small_peak:,} B for {ROWS} rows, {large_peak:,} B for {4 * ROWS}: "
        f"{growth / (3 * ROWS):.0f} B per extra row")
