"""Analytics benchmark: RFM and CLV through the analytical plugin against plain baselines.

On one SQLite file holding N customers' purchases (default 100,000 customers,
about 1,000,000 purchases, recorded with ``crm.interactions.record_many``), in
one process:

* RFM through ``crm.plugin("analytical").rfm()`` against a hand-written SQL
  GROUP BY + NTILE on the same database (goal: at most 2x its time), and
  against pandas (read the table, groupby, qcut; load included; goal: faster);
  one customer's score as the customer 360 card reads it, scored on the view
  (``rfm_score``) and as the sweep stored it (``stored_rfm_score``);
* CLV — calibration summary, BG/NBD and Gamma-Gamma fits, predictions —
  through ``clv_run()`` against a plain pandas/scipy pipeline doing the same
  steps (read, per-day summary, Nelder-Mead fits of the papers' likelihoods,
  the papers' prediction formulas; goal: faster). Both pipelines' fitted
  parameters are printed so that equal answers are visible.

With ``--catalogue``, a second database holds purchases with line items over
10,000 products (recorded through the pipeline with the catalogue plugin) and:

* association rules through the catalogue's miner against mlxtend's own
  one-hot encoding (``TransactionEncoder``, sparse) + ``fpgrowth`` +
  ``association_rules`` on the same baskets (goal: at most 2x its time; the
  rule counts are printed so that equal answers are visible), and the same
  rules end to end through ``crm.plugin("catalogue").rules()`` (reading the
  baskets included);
* profit per customer through ``crm.plugin("catalogue").profit()`` against a
  hand-written SQL GROUP BY of the same sums (goal: at most 2x its time).

Ratios are baseline time / crmkit time (above 1 = crmkit faster), each time the
best of ``--repeat`` runs (default 3) so that a busy machine disturbs the ratio
less; there are no assertions. Peak memory (RSS) of the process is printed at
the end.

    python benchmarks/analytics.py                      # 100k customers, ~1M purchases
    python benchmarks/analytics.py --customers 10000    # a quick run
    python benchmarks/analytics.py --catalogue          # also rules and profit (~1M purchases)
"""

from __future__ import annotations

import argparse
import datetime as dt
import sqlite3
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import START, Timer, peak_rss_mb  # noqa: E402

import numpy as np  # noqa: E402

from crmkit import CRM, FixedClock  # noqa: E402

AS_OF = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
DAYS = (AS_OF - START).days


def purchases(customers: int, per_customer: float, seed: int = 1):
    """BG/NBD-like histories: first purchase in the first 18 months, then a Poisson
    process with a customer rate until a dropout after some purchase; about
    ``per_customer`` purchases each on average."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, per_customer / 340.0, customers)  # purchases per day
    dropout = rng.beta(1.0, 9.0, customers)
    spend_scale = 1.0 / rng.gamma(4.0, 1.0 / 3000.0, customers)  # customers differ in spend
    serial = 0
    for c in range(customers):
        day = rng.uniform(0, DAYS * 0.75)
        while day < DAYS:
            serial += 1
            amount = Decimal(int(rng.gamma(3.0, spend_scale[c])) + 100) / 100
            yield {"customer": f"C{c}", "occurred_at": START + dt.timedelta(days=day),
                   "kind": "purchase", "channel": "web", "amount": amount,
                   "external_id": f"P{serial}"}
            if rng.random() < dropout[c]:
                break
            day += rng.exponential(1.0 / rate[c])


def build(path: Path, customers: int, per_customer: float) -> int:
    """Create the database with the analytical plugin enabled; returns the purchases recorded."""
    with CRM.open(f"sqlite:///{path}", create=True) as crm:
        crm.plugins.enable("analytical")
        crm.customers.add_many(({"external_id": f"C{i}"} for i in range(customers)),
                               batch_size=5000)
        result = crm.interactions.record_many(purchases(customers, per_customer), batch_size=5000)
    return result.created


# -- RFM ---------------------------------------------------------------------------------------

HAND_RFM = """
WITH per AS (
  SELECT customer_id, MAX(occurred_at) AS last, COUNT(*) AS f, SUM(amount) AS m
  FROM interactions WHERE kind = 'purchase' AND occurred_at <= :as_of
  GROUP BY customer_id)
SELECT customer_id, CAST(julianday(:as_of) - julianday(last) AS INTEGER) AS recency, f, m,
       NTILE(5) OVER (ORDER BY last) AS r_score,
       NTILE(5) OVER (ORDER BY f) AS f_score,
       NTILE(5) OVER (ORDER BY m) AS m_score
FROM per
"""


def as_of_text(conn) -> str:
    """AS_OF in the stored timestamp format (sortable text, as the column holds it)."""
    from crmkit.types import sqlite_timestamp

    return sqlite_timestamp(AS_OF)


def hand_sql_rfm(path: Path) -> int:
    conn = sqlite3.connect(path)
    rows = conn.execute(HAND_RFM, {"as_of": as_of_text(conn)}).fetchall()
    conn.close()
    return len(rows)


def pandas_rfm(path: Path) -> int:
    import pandas as pd

    conn = sqlite3.connect(path)
    frame = pd.read_sql_query("SELECT customer_id, occurred_at, kind, amount FROM interactions",
                              conn)
    conn.close()
    frame = frame[frame["kind"] == "purchase"]
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True, format="ISO8601")
    frame = frame[frame["occurred_at"] <= AS_OF]
    per = frame.groupby("customer_id").agg(last=("occurred_at", "max"), f=("amount", "size"),
                                           m=("amount", "sum"))
    per["recency"] = (pd.Timestamp(AS_OF) - per["last"]).dt.days
    per["r"] = pd.qcut(per["recency"].rank(method="first", ascending=False), 5, labels=False) + 1
    per["f_score"] = pd.qcut(per["f"].rank(method="first"), 5, labels=False) + 1
    per["m_score"] = pd.qcut(per["m"].rank(method="first"), 5, labels=False) + 1
    return len(per)


# -- CLV baseline: pandas + scipy, the papers' formulas --------------------------------------------

def pandas_clv(path: Path, horizon: float = 52.0, months: int = 12, discount: float = 0.01):
    """Summary with pandas, Nelder-Mead fits of both likelihoods, the papers' predictions."""
    import pandas as pd
    from scipy import optimize
    from scipy.special import gammaln, hyp2f1

    from crmkit.types import MONEY_SCALE

    conn = sqlite3.connect(path)
    frame = pd.read_sql_query("SELECT customer_id, occurred_at, kind, amount FROM interactions",
                              conn)
    conn.close()
    frame = frame[frame["kind"] == "purchase"]
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True, format="ISO8601")
    frame = frame[frame["occurred_at"] <= AS_OF]
    frame["day"] = (frame["occurred_at"] - pd.Timestamp("1970-01-01", tz="UTC")).dt.days
    daily = frame.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    first = daily.groupby("customer_id")["day"].transform("min")
    daily["repeat"] = daily["day"] > first
    per = daily.groupby("customer_id").agg(first=("day", "min"), last=("day", "max"),
                                           days=("day", "size"))
    repeat = daily[daily["repeat"]].groupby("customer_id")["amount"].sum()
    end = (AS_OF - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).days
    x = (per["days"] - 1).to_numpy(float)
    t_x = ((per["last"] - per["first"]) / 7).to_numpy(float)
    T = ((end - per["first"]) / 7).to_numpy(float)
    m = (repeat.reindex(per.index, fill_value=0).to_numpy(float) / MONEY_SCALE
         / np.where(x > 0, x, 1))

    def bg_nll(log_params):
        r, alpha, a, b = np.exp(log_params)
        a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
        a3 = -(r + x) * np.log(alpha + T)
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12))
                      - (r + x) * np.log(alpha + t_x), -np.inf)
        return -np.sum(a1 + a2 + np.logaddexp(a3, a4))

    bg = optimize.minimize(bg_nll, np.log([1.0, 10.0, 1.0, 2.0]), method="Nelder-Mead",
                           options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-7})
    r, alpha, a, b = np.exp(bg.x)
    keep = (x > 0) & (m > 0)
    gx, gm = x[keep], m[keep]

    def gg_nll(log_params):
        p, q, v = np.exp(log_params)
        return -np.sum(gammaln(p * gx + q) - gammaln(p * gx) - gammaln(q) + q * np.log(v)
                       + (p * gx - 1) * np.log(gm) + p * gx * np.log(gx)
                       - (p * gx + q) * np.log(v + gx * gm))

    gg = optimize.minimize(gg_nll, np.log([1.0, 2.0, float(np.mean(gm))]), method="Nelder-Mead",
                           options={"maxiter": 4000, "xatol": 1e-7, "fatol": 1e-7})
    p, q, v = np.exp(gg.x)

    def alive():
        return np.where(x > 0, 1 / (1 + a / np.maximum(b + x - 1, 1e-12)
                                    * ((alpha + T) / (alpha + t_x)) ** (r + x)), 1.0)

    def expected(t):
        z = t / (alpha + T + t)
        g = ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * (1 - g) * alive()

    purchases_h = expected(horizon)
    spend = p * (v + x * np.where(x > 0, m, 0)) / (p * x + q - 1)
    weeks_per_month = 365.25 / 12 / 7
    total, previous = np.zeros_like(x), np.zeros_like(x)
    for i in range(1, months + 1):
        cumulative = expected(i * weeks_per_month)
        total += (cumulative - previous) / (1 + discount) ** i
        previous = cumulative
    clv = spend * total
    return ({"r": r, "alpha": alpha, "a": a, "b": b, "ll": -bg.fun},
            {"p": p, "q": q, "v": v, "ll": -gg.fun}, purchases_h, clv)


# -- catalogue: line items, association rules, profit ------------------------------------------

PRODUCTS = 10_000


def item_purchases(customers: int, per_customer: float, seed: int = 2):
    """Purchases of 1–3 line items over PRODUCTS products by popularity (a Zipf-like law), with
    pairs of products planted to go together; ids from ``purchases``'s histories."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, PRODUCTS + 1) ** 0.8
    popularity /= popularity.sum()
    partner = rng.permutation(PRODUCTS)
    for row in purchases(customers, per_customer, seed):
        chosen = set(rng.choice(PRODUCTS, rng.integers(1, 4), p=popularity).tolist())
        if rng.random() < 0.3:
            chosen.add(int(partner[min(chosen)]))
        lines = [{"sku": f"P{p}", "qty": 1, "unit_price": f"{p % 90 + 10}"} for p in sorted(chosen)]
        yield dict(row, amount=Decimal(sum(p % 90 + 10 for p in chosen)),
                   payload={"items": lines})


def build_catalogue(path: Path, customers: int, per_customer: float) -> tuple[int, int]:
    """The catalogue database; returns (purchases, line items)."""
    from crmkit_catalogue.tables import items
    from sqlalchemy import func, select

    with CRM.open(f"sqlite:///{path}", create=True) as crm:
        crm.plugins.enable("catalogue")
        crm.plugin("catalogue").add_products([
            {"sku": f"P{p}", "name": f"Product {p}", "category": f"c{p % 50}/s{p % 7}",
             "list_price": f"{p % 90 + 10}", "unit_cost": f"{(p % 90 + 10) * 6 // 10}"}
            for p in range(PRODUCTS)])
        crm.customers.add_many(({"external_id": f"C{i}"} for i in range(customers)),
                               batch_size=5000)
        result = crm.interactions.record_many(item_purchases(customers, per_customer),
                                              batch_size=5000)
        with crm.read() as conn:
            lines = conn.execute(select(func.count()).select_from(items)).scalar_one()
    return result.created, lines


HAND_PROFIT = """
WITH parts AS (
  SELECT customer_id, SUM(total_units) AS revenue, SUM(cost_units) AS cogs, 0 AS serve
  FROM catalogue_items WHERE occurred_at <= :as_of GROUP BY customer_id
  UNION ALL
  SELECT customer_id, 0, 0, SUM(CASE type WHEN 'case.opened' THEN 250000 ELSE 50000 END)
  FROM events WHERE type IN ('case.opened', 'task.created') AND customer_id IS NOT NULL
    AND occurred_at <= :as_of GROUP BY customer_id)
SELECT c.external_id, SUM(revenue), SUM(cogs), SUM(serve), SUM(revenue) - SUM(cogs) - SUM(serve)
FROM parts JOIN customers c ON c.id = parts.customer_id GROUP BY parts.customer_id, c.external_id
"""


def hand_sql_profit(path: Path) -> int:
    conn = sqlite3.connect(path)
    rows = conn.execute(HAND_PROFIT, {"as_of": as_of_text(conn)}).fetchall()
    conn.close()
    return len(rows)


def mlxtend_rules(baskets: list[list[int]], min_support: float) -> int:
    """mlxtend's own pipeline: sparse one-hot, fpgrowth (pairs), association_rules."""
    import pandas as pd
    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    onehot = encoder.fit(baskets).transform(baskets, sparse=True)
    frame = pd.DataFrame.sparse.from_spmatrix(onehot, columns=encoder.columns_)
    frequent = fpgrowth(frame, min_support=min_support, max_len=2)
    if frequent.empty:
        return 0
    return len(association_rules(frequent, num_itemsets=len(frame), metric="confidence",
                                 min_threshold=0.0))


def catalogue_part(path: Path, repeat: int, min_support: float) -> None:
    import attrs

    from crmkit_catalogue import offers as catalogue_offers
    from crmkit_catalogue import rules as mining

    with CRM.open(f"sqlite:///{path}") as crm:
        api = crm.plugin("catalogue")
        rules = attrs.evolve(api.settings.rules, min_support=min_support, min_confidence=0.0,
                             min_lift=0.0, max_itemset=2)
        with crm.read() as conn:
            basket, product, skus = catalogue_offers.load_baskets(conn, rules, AS_OF)
        order = np.argsort(basket, kind="stable")
        starts = np.flatnonzero(np.r_[True, basket[order][1:] != basket[order][:-1]])
        baskets = [chunk.tolist() for chunk in np.split(product[order], starts[1:])]
        print(f"association rules over {len(baskets):,} baskets, {len(product):,} line items, "
              f"{len(skus):,} products, min_support {min_support}, pairs; best of {repeat}")

        def ours():
            x = mining.basket_matrix(basket, product, len(skus))
            return len(mining.mine(x, min_support, 0.0, 0.0, 2).support)

        mine, count = best_of(repeat, ours)
        theirs, their_count = best_of(repeat, lambda: mlxtend_rules(baskets, min_support))
        print(f"  rules: crmkit {count:,}, mlxtend {their_count:,}")
        ratio_line("association rules vs mlxtend one-hot + fpgrowth + association_rules",
                   theirs, mine, "goal >= 0.5x, i.e. at most 2x its time")
        end_to_end, _ = best_of(repeat, lambda: api.rules(AS_OF, min_support=min_support,
                                                          min_confidence=0.0, min_lift=0.0))
        print(f"  rules end to end through the API (reading the baskets included): "
              f"{end_to_end:.2f} s")
        api.profit("customer", AS_OF)  # warm the page cache for both
        hand_sql_profit(path)
        ours_profit, lines = best_of(repeat, lambda: api.profit("customer", AS_OF))
        hand, hand_rows = best_of(repeat, lambda: hand_sql_profit(path))
        print(f"profit of {len(lines):,} customers (hand-written SQL: {hand_rows:,} rows), "
              f"best of {repeat}")
        ratio_line("profit per customer vs hand-written GROUP BY", hand, ours_profit,
                   "goal >= 0.5x, i.e. at most 2x its time")


def best_of(repeat: int, fn):
    """(fastest seconds, the last result) of ``repeat`` calls of ``fn``."""
    times, result = [], None
    for _ in range(repeat):
        with Timer() as t:
            result = fn()
        times.append(t.seconds)
    return min(times), result


def one_customer(crm, repeat: int) -> None:
    """One customer's RFM as the customer 360 card reads it: scored among every customer on
    the view, against the score the sweep stored (the sweep's own time printed)."""
    api = crm.plugin("analytical")
    customer = crm.customers.list(limit=1)[0].external_id
    live, score = best_of(repeat, lambda: api.rfm_score(customer))
    sweep, writing = timed_sweep(crm)
    stored, (_, kept) = best_of(repeat, lambda: api.stored_rfm_score(customer))
    same = "the same score" if kept == score else "DIFFERENT scores"
    print(f"one customer's RFM (the 360 card): scored on the view {live * 1000:.1f} ms, "
          f"stored by the sweep {stored * 1000:.2f} ms ({same}; the sweep, lifecycle "
          f"stages included, {sweep:.2f} s, of which its write transaction, what other "
          f"writers wait for, {writing:.2f} s)")


def timed_sweep(crm) -> tuple[float, float]:
    """``crm.sweep()``'s time, and that of its write transaction (the rest, its reading, is
    done before it and holds no lock)."""
    run, held = crm.run_transaction, []

    def timed(*args, **kwargs):
        with Timer() as transaction:
            try:
                return run(*args, **kwargs)
            finally:
                held.append(transaction)

    crm.run_transaction = timed
    try:
        with Timer() as sweep:
            crm.sweep()
    finally:
        del crm.run_transaction
    return sweep.seconds, sum(t.seconds for t in held)


def show(label: str, params: dict) -> str:
    return f"{label}: " + ", ".join(f"{k}={v:.4g}" for k, v in params.items())


def ratio_line(name: str, baseline: float, ours: float, goal: str) -> None:
    print(f"{name}: baseline {baseline:.2f} s, crmkit {ours:.2f} s, "
          f"speed ratio {baseline / ours:.2f}x ({goal})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--purchases-per-customer", type=float, default=10.0,
                        help="average purchases per customer (default 10: 1M for 100k)")
    parser.add_argument("--keep", metavar="FILE", help="build into (or reuse) this SQLite file")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument("--catalogue", action="store_true",
                        help="also association rules and profit on purchases with line items")
    parser.add_argument("--rules-min-support", type=float, default=0.0005,
                        help="min_support of the association rules (default 0.0005)")
    args = parser.parse_args()
    try:
        import pandas  # noqa: F401
        have_pandas = True
    except ImportError:
        have_pandas = False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "analytics.db"
        if not path.exists():
            with Timer() as t:
                created = build(path, args.customers, args.purchases_per_customer)
            print(f"built {path.name}: {args.customers:,} customers, {created:,} purchases "
                  f"through record_many in {t.seconds:.1f} s")
        with CRM.open(f"sqlite:///{path}", clock=FixedClock(AS_OF)) as crm:
            api = crm.plugin("analytical")
            import scipy.optimize  # noqa: F401  both CLV pipelines use it: import it untimed
            import scipy.special  # noqa: F401

            api.rfm(AS_OF)  # warm the imports and the page cache for everyone alike
            hand_sql_rfm(path)
            n = args.repeat
            ours, scores = best_of(n, lambda: api.rfm(AS_OF))
            hand, hand_rows = best_of(n, lambda: hand_sql_rfm(path))
            print(f"RFM of {len(scores):,} customers (hand-written SQL: {hand_rows:,} rows), "
                  f"best of {n}")
            ratio_line("RFM vs hand-written GROUP BY + NTILE", hand, ours,
                       "goal >= 0.5x, i.e. at most 2x its time")
            if have_pandas:
                pd_rfm, _ = best_of(n, lambda: pandas_rfm(path))
                ratio_line("RFM vs pandas (read, groupby, qcut)", pd_rfm, ours, "goal > 1x")
            else:
                print("RFM vs pandas: skipped (pandas is not installed)")
            one_customer(crm, n)
            ours_clv, (fit, predictions) = best_of(n, lambda: api.clv_run(AS_OF))
            bg, gg = fit.bgnbd, fit.gamma_gamma
            print(f"CLV of {len(predictions):,} customers through clv_run: {ours_clv:.2f} s")
            print("  " + show("crmkit BG/NBD", {k: bg[k] for k in ("r", "alpha", "a", "b",
                                                                     "log_likelihood")}))
            print("  " + show("crmkit Gamma-Gamma", {k: gg[k] for k in ("p", "q", "v",
                                                                          "log_likelihood")
                                                     if gg[k] is not None}))
            if have_pandas:
                base_clv, (base_bg, base_gg, _, base_clv_values) = best_of(
                    n, lambda: pandas_clv(path))
                print("  " + show("pandas/scipy BG/NBD", base_bg))
                print("  " + show("pandas/scipy Gamma-Gamma", base_gg))
                ours_total = float(sum(p.clv for p in predictions))
                print(f"  total 12-month CLV: crmkit {ours_total:,.2f}, "
                      f"pandas/scipy {float(np.nansum(base_clv_values)):,.2f} "
                      f"({int(np.sum(~np.isfinite(base_clv_values)))} non-finite)")
                ratio_line("CLV summary + fits + predictions vs pandas/scipy", base_clv,
                           ours_clv, "goal > 1x")
            else:
                print("CLV vs pandas/scipy: skipped (pandas is not installed)")
        if args.catalogue:
            items_path = path.with_name(path.stem + "-catalogue.db")
            if not items_path.exists():
                with Timer() as t:
                    created, lines = build_catalogue(items_path, args.customers,
                                                     args.purchases_per_customer)
                print(f"built {items_path.name}: {created:,} purchases with {lines:,} line items "
                      f"through record_many in {t.seconds:.1f} s")
            catalogue_part(items_path, args.repeat, args.rules_min_support)
    print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
