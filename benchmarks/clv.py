"""CLV and RFM through the CLI against pandas + lifetimes (CLV) and pandas (RFM).

On one SQLite file of N customers' purchases (default 100,000 customers,
about 1,000,000 purchases; built as ``analytics.py`` builds it), in one run:

* CLV: ``crmkit analytical clv fit --format json`` then ``crmkit analytical clv
  predict --format csv`` (two processes, start-up and the default ``--store``
  included: the path users run) against pandas + lifetimes 0.11.3 doing the
  same in this process: read the purchases, ``summary_data_from_transaction_data``
  (days, in weeks: the same x, t_x, T and mean repeat spend), ``BetaGeoFitter``,
  ``GammaGammaFitter``, P(alive), expected purchases over 52 weeks, 12-month
  CLV at 1 % a month, and the same CSV. The baseline's imports are done before
  its clock starts (in its favour). Both fits' parameters and their relative
  differences are printed (goal: below 1e-4), and the ratio (goal >= 5x).
* RFM: ``crmkit analytical rfm --format csv`` against pandas reading the
  purchases, groupby, qcut scores and ``to_csv`` of the same columns (goal > 1x).

Each time is the best of ``--repeat`` runs (default 3), wall clock; the CPU
seconds of each side (user + system, the crmkit processes' own) are printed
too, since a machine shared with other work stretches wall time unevenly.
Needs the ``bench`` extra (``pip install -e '.[bench]'``: pandas, lifetimes).

    python benchmarks/clv.py                      # 100k customers, ~1M purchases
    python benchmarks/clv.py --customers 10000    # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Timer, child_env, peak_rss_mb  # noqa: E402
from analytics import AS_OF, build  # noqa: E402

AS_OF_TEXT = AS_OF.date().isoformat()
PREDICT_COLUMNS = ["customer", "frequency", "recency", "T", "monetary", "p_alive",
                   "expected_purchases", "expected_spend", "clv"]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


ENV: dict[str, str] = {}


def crmkit(url: str, *args: str, out=subprocess.DEVNULL) -> tuple[float, float]:
    """Run ``crmkit --db url args…``; (wall seconds, CPU seconds of the process)."""
    command = [str(Path(sys.executable).with_name("crmkit")), "--db", url, *args]
    cpu, start = children_cpu(), time.perf_counter()
    subprocess.run(command, stdout=out, stderr=subprocess.PIPE, check=True, env=ENV)
    return time.perf_counter() - start, children_cpu() - cpu


def ours_clv(url: str, csv_path: Path) -> tuple[float, float, dict]:
    """``clv fit`` + ``clv predict`` through the CLI: (wall, CPU, the fit document)."""
    with tempfile.TemporaryFile("w+") as fitted:
        fit_wall, fit_cpu = crmkit(url, "analytical", "clv", "fit", "--as-of", AS_OF_TEXT,
                                   "--format", "json", out=fitted)
        fitted.seek(0)
        document = json.load(fitted)
    with open(csv_path, "w") as out:
        predict_wall, predict_cpu = crmkit(url, "analytical", "clv", "predict", "--as-of",
                                           AS_OF_TEXT, "--format", "csv", out=out)
    return fit_wall + predict_wall, fit_cpu + predict_cpu, document


def purchases_frame(path: Path):
    """The purchases up to AS_OF with external ids, as pandas reads them."""
    import pandas as pd

    with sqlite3.connect(path) as conn:
        return pd.read_sql_query(
            "SELECT c.external_id AS customer, i.occurred_at, i.amount FROM interactions i "
            "JOIN customers c ON c.id = i.customer_id "
            "WHERE i.kind = 'purchase' AND i.occurred_at <= ?", conn,
            params=(AS_OF.strftime("%Y-%m-%d %H:%M:%S.%f"),))


def lifetimes_clv(path: Path, csv_path: Path) -> dict:
    """Summary, both fits, predictions and the CSV with pandas + lifetimes; the parameters."""
    import numpy as np
    import pandas as pd
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    from crmkit.types import MONEY_SCALE

    frame = purchases_frame(path)
    frame["date"] = pd.to_datetime(frame["occurred_at"].str.slice(0, 10))
    frame["amount"] = frame["amount"] / MONEY_SCALE
    summary = summary_data_from_transaction_data(
        frame, "customer", "date", monetary_value_col="amount",
        observation_period_end=AS_OF_TEXT, freq="D", freq_multiplier=7)
    x, t_x, T, m = (summary[c] for c in ("frequency", "recency", "T", "monetary_value"))
    bg = BetaGeoFitter().fit(x, t_x, T)
    repeat = (x > 0) & (m > 0)
    gg = GammaGammaFitter().fit(x[repeat], m[repeat])
    out = pd.DataFrame({
        "customer": summary.index, "frequency": x.astype(int), "recency": t_x.round(4),
        "T": T.round(4), "monetary": m.round(4),
        "p_alive": np.round(bg.conditional_probability_alive(x, t_x, T), 4),
        "expected_purchases": np.round(
            bg.conditional_expected_number_of_purchases_up_to_time(52, x, t_x, T), 4),
        "expected_spend": gg.conditional_expected_average_profit(x, m).round(2),
        "clv": gg.customer_lifetime_value(bg, x, t_x, T, m, time=12, discount_rate=0.01,
                                          freq="W").round(2)})
    out.to_csv(csv_path, index=False, columns=PREDICT_COLUMNS)
    return {**bg.params_.to_dict(), **gg.params_.to_dict()}


def pandas_rfm(path: Path, csv_path: Path, bins: int = 5) -> None:
    """RFM with pandas: read, groupby, qcut scores, the same CSV columns."""
    import pandas as pd

    from crmkit.types import MONEY_SCALE

    frame = purchases_frame(path)
    frame["day"] = pd.to_datetime(frame["occurred_at"].str.slice(0, 10))
    per = frame.groupby("customer").agg(last=("day", "max"), frequency=("amount", "size"),
                                        units=("amount", "sum"))
    per["recency_days"] = (pd.Timestamp(AS_OF_TEXT) - per["last"]).dt.days
    per["monetary"] = per["units"] / MONEY_SCALE
    per["r"] = pd.qcut(per["recency_days"].rank(method="first", ascending=False), bins,
                       labels=False) + 1
    per["f"] = pd.qcut(per["frequency"].rank(method="first"), bins, labels=False) + 1
    per["m"] = pd.qcut(per["monetary"].rank(method="first"), bins, labels=False) + 1
    per["segment"] = ""
    per.index.name = "customer"
    per.to_csv(csv_path, columns=["recency_days", "frequency", "monetary", "r", "f", "m",
                                  "segment"])


def timed(fn) -> tuple[float, float]:
    """(wall, CPU of this process) of ``fn()``."""
    cpu = own_cpu()
    with Timer() as t:
        fn()
    return t.seconds, own_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--purchases-per-customer", type=float, default=10.0)
    parser.add_argument("--keep", metavar="FILE", help="build into (or reuse) this SQLite file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    args = parser.parse_args()
    ENV.update(child_env())
    import lifetimes  # noqa: F401  the baseline's imports, untimed
    import pandas  # noqa: F401
    import scipy.optimize  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "clv.db"
        if not path.exists():
            with Timer() as t:
                created = build(path, args.customers, args.purchases_per_customer)
            print(f"built {path.name}: {args.customers:,} customers, {created:,} purchases "
                  f"in {t.seconds:.1f} s")
        url = f"sqlite:///{path}"
        ours_csv, base_csv = Path(tmp) / "ours.csv", Path(tmp) / "base.csv"
        crmkit(url, "analytical", "rfm", "--as-of", AS_OF_TEXT, "--format", "csv")  # warm cache
        clv_ours, clv_base, rfm_ours, rfm_base = [], [], [], []
        params = {}
        for _ in range(args.repeat):
            wall, cpu, document = ours_clv(url, ours_csv)
            clv_ours.append((wall, cpu))
            clv_base.append(timed(lambda: params.update(lifetimes_clv(path, base_csv))))
            with open(ours_csv, "w") as out:
                rfm_ours.append(crmkit(url, "analytical", "rfm", "--as-of", AS_OF_TEXT,
                                       "--format", "csv", out=out))
            rfm_base.append(timed(lambda: pandas_rfm(path, base_csv)))
        for name, runs in [("clv crmkit CLI", clv_ours), ("clv pandas + lifetimes", clv_base),
                           ("rfm crmkit CLI", rfm_ours), ("rfm pandas", rfm_base)]:
            print(f"  {name}: wall {', '.join(f'{w:.2f}' for w, _ in runs)} s; "
                  f"CPU {', '.join(f'{c:.2f}' for _, c in runs)} s")
        ours = {**document["bgnbd"], **document["gamma_gamma"]}
        print("parameters (crmkit / lifetimes / relative difference):")
        worst = 0.0
        for name in ("r", "alpha", "a", "b", "p", "q", "v"):
            difference = abs(ours[name] - params[name]) / abs(params[name])
            worst = max(worst, difference)
            print(f"  {name}: {ours[name]:.6g} / {params[name]:.6g} / {difference:.1e}")
        print(f"  largest relative difference {worst:.1e} (goal < 1e-4)")
        customers = document["bgnbd"]["customers"]
        for name, (base_wall, base_cpu), (our_wall, our_cpu), goal in [
                (f"CLV fit + predict, {customers:,} customers", min(clv_base), min(clv_ours), 5),
                ("RFM --format csv", min(rfm_base), min(rfm_ours), 1)]:
            print(f"{name}: baseline {base_wall:.2f} s (CPU {base_cpu:.2f} s), crmkit CLI "
                  f"{our_wall:.2f} s (CPU {our_cpu:.2f} s), speed ratio {base_wall / our_wall:.2f}x "
                  f"wall, {base_cpu / our_cpu:.2f}x CPU (goal >= {goal}x)")
    print(f"load average at the end: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
