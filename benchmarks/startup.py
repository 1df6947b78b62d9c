"""Start-up benchmark: ``crmkit --help`` and ``crmkit plugins list`` against ``python -c pass``.

    python benchmarks/startup.py --runs 10
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import child_env  # noqa: E402


def wall(label: str, command: list[str], runs: int, env: dict[str, str]) -> float:
    """Median wall time of ``command`` over ``runs`` runs (after one warm-up); the median CPU
    seconds (user + system) of the runs are printed too (less disturbed by a busy machine)."""
    subprocess.run(command, capture_output=True, check=True, env=env)
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True, env=env)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    print(f"  {label}: median CPU {statistics.median(cpu) * 1000:.0f} ms")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    crmkit = str(Path(sys.executable).with_name("crmkit"))
    env = child_env()
    base = wall("python -c pass", [sys.executable, "-c", "pass"], args.runs, env)
    helped = wall("crmkit --help", [crmkit, "--help"], args.runs, env)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/s.db"
        subprocess.run([crmkit, "--db", url, "init"], capture_output=True, check=True, env=env)
        listed = wall("crmkit plugins list", [crmkit, "--db", url, "plugins", "list"], args.runs, env)
    print(f"python -c pass: {base * 1000:.0f} ms")
    print(f"crmkit --help: {helped * 1000:.0f} ms ({helped / base:.1f}x python start-up; "
          f"goal < 150 ms)")
    print(f"crmkit plugins list: {listed * 1000:.0f} ms ({listed / base:.1f}x python start-up; "
          f"goal < 300 ms)")
    print(f"load average: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
