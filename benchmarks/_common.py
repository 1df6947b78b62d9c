"""Helpers shared by the benchmarks: timing, peak memory, generated rows."""

from __future__ import annotations

import datetime as dt
import os
import random
import resource
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterator

UTC = dt.timezone.utc
START = dt.datetime(2023, 1, 1, tzinfo=UTC)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB.

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this
    program's own memory.  ``ru_maxrss`` is not used there: it survives
    ``exec``, so a child started by a large parent would report the parent's
    peak.  Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def child_env() -> dict[str, str]:
    """The environment for timed crmkit processes: as this one, but with bytecode caching on.

    ``PYTHONDONTWRITEBYTECODE`` would make every run compile crmkit from source
    (an installed crmkit has its bytecode); a note says when it was dropped.
    """
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        print("note: PYTHONDONTWRITEBYTECODE dropped for the timed crmkit processes")
    return env


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        return False


def best_of(repeat: int, runs: dict[str, Callable[[Path], float]]) -> dict[str, float]:
    """Each run's fastest time of ``repeat``, the runs interleaved (a, b, c, a, b, c, …).

    A run gets a fresh scratch directory and returns its timed seconds.
    Interleaving spreads the shared machine's slow spells over every side and
    the minimum is the run least disturbed by other work (as ``timeit``
    reports); every time is printed, so the spread is visible.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            with tempfile.TemporaryDirectory() as tmp:
                times[name].append(run(Path(tmp)))
    for name, seconds in times.items():
        print(f"  {name}: {', '.join(f'{s:.1f}' for s in seconds)} s")
    return {name: min(seconds) for name, seconds in times.items()}


def interaction_rows(count: int, customers: int, seed: int = 1) -> Iterator[dict]:
    """Purchases spread over customers and two years, each with an external id."""
    rng = random.Random(seed)
    for i in range(count):
        yield {
            "customer": f"C{rng.randrange(customers)}",
            "occurred_at": START + dt.timedelta(seconds=rng.randrange(63_000_000)),
            "kind": "purchase",
            "channel": "web",
            "amount": Decimal(rng.randrange(100, 50_000)) / 100,
            "external_id": f"I{i}",
        }


def report(name: str, baseline_s: float, ours_s: float, rows: int, goal: float) -> None:
    """Print baseline, ours and the ratio (baseline time / our time; 1.0 = as fast)."""
    ratio = baseline_s / ours_s if ours_s else float("inf")
    print(f"{name}: baseline {baseline_s:.2f} s ({rows / baseline_s:,.0f} rows/s), "
          f"crmkit {ours_s:.2f} s ({rows / ours_s:,.0f} rows/s), "
          f"speed ratio {ratio:.2f}x (goal >= {goal}x)")
