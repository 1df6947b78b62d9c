"""Start-up benchmark: ``crmkit --help`` and ``crmkit plugins list`` against ``python -c pass``.

    python benchmarks/startup.py --runs 10
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def wall(command: list[str], runs: int) -> float:
    """Median wall time of ``command`` over ``runs`` runs (after one warm-up)."""
    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    crmkit = str(Path(sys.executable).with_name("crmkit"))
    base = wall([sys.executable, "-c", "pass"], args.runs)
    helped = wall([crmkit, "--help"], args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/s.db"
        subprocess.run([crmkit, "--db", url, "init"], capture_output=True, check=True)
        listed = wall([crmkit, "--db", url, "plugins", "list"], args.runs)
    print(f"python -c pass: {base * 1000:.0f} ms")
    print(f"crmkit --help: {helped * 1000:.0f} ms ({helped / base:.1f}x python start-up; "
          f"goal < 150 ms)")
    print(f"crmkit plugins list: {listed * 1000:.0f} ms ({listed / base:.1f}x python start-up)")


if __name__ == "__main__":
    main()
