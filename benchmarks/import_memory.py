"""Import memory benchmark: peak RSS of ``crmkit import interactions FILE --create-customers``.

One CSV of R interactions for C customers (``import_bench``'s generator) is
imported three ways, each in its own child process into a fresh SQLite
database, and the peak resident memory of each child is read from its own
rusage (``os.wait4``, as GNU time's ``%M`` reports it):

* baseline — the raw loader of ``import_bench``: ``csv.reader`` and
  ``sqlite3`` ``executemany`` in chunks, one commit;
* crmkit with no plugin enabled;
* crmkit with all eight built-in plugins enabled.

crmkit runs as users run it: ``crmkit --db URL import interactions FILE
--create-customers`` with its default batch size, after ``init`` and
``plugins enable``.  The goal is a peak under 200 MB whatever the file's size.
Prints each peak with its ratio to the baseline's; no assertions.

    python benchmarks/import_memory.py                      # 1,000,000 rows, 100,000 customers
    python benchmarks/import_memory.py --rows 10000000 --plugins none
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import PLUGINS, baseline, crmkit_import, run, write_csv  # noqa: E402

GOAL_MB = 200


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--plugins", choices=("both", "none", "all"), default="both",
                        help="which crmkit runs: no plugin, all eight, or both (default)")
    parser.add_argument("--raw", nargs=2, metavar=("FILE", "DB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.raw:  # the baseline's child process
        baseline(Path(args.raw[0]), Path(args.raw[1]), args.customers)
        return
    sides = {"none": [()], "all": [PLUGINS], "both": [(), PLUGINS]}[args.plugins]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "interactions.csv"
        write_csv(path, args.rows, args.customers)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.rows:,} rows for {args.customers:,} customers, {size_mb:.0f} MB CSV")
        base_mb, base_s, _ = run([sys.executable, __file__, "--customers", str(args.customers),
                                  "--raw", str(path), str(folder / "raw.db")])
        print(f"baseline (csv + sqlite3 executemany): peak RSS {base_mb:.0f} MB ({base_s:.0f} s)")
        figures = {"rows": args.rows, "baseline_mb": round(base_mb)}
        for plugins in sides:
            label = "all eight plugins" if plugins else "no plugin"
            with tempfile.TemporaryDirectory(dir=tmp) as scratch:
                peak, seconds, out = crmkit_import(Path(scratch), path, plugins)
            summary = out.strip().splitlines()[0] if out.strip() else ""
            print(f"crmkit import, {label + ':':19} peak RSS {peak:.0f} MB "
                  f"(goal < {GOAL_MB} MB), {peak / base_mb:.1f}x the baseline "
                  f"({seconds:.0f} s) [{summary}]")
            figures["all_mb" if plugins else "none_mb"] = round(peak)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
