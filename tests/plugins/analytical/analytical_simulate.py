"""Simulating customer bases from the BG/NBD and Gamma-Gamma models (numpy only, no database)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import numpy as np

from analytical_support import AS_OF, UTC, row


def bgnbd_customers(rng: np.random.Generator, n: int, r: float, alpha: float, a: float, b: float,
                    T: np.ndarray):
    """(x, t_x) for ``n`` customers observed for T units after their first purchase.

    λ ~ Gamma(r, rate α) and p ~ Beta(a, b) per customer; purchases follow a
    Poisson process with rate λ; after each repeat purchase the customer drops
    out with probability p (the paper's story, simulated purchase by purchase).
    """
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    clock = np.zeros(n)
    active = np.arange(n)
    while active.size:
        clock[active] += rng.exponential(1.0 / lam[active])
        bought = clock[active] <= T[active]
        active = active[bought]
        x[active] += 1
        t_x[active] = clock[active]
        survive = rng.random(active.size) >= p[active]
        active = active[survive]
    return x, t_x


def gamma_gamma_means(rng: np.random.Generator, x: np.ndarray, p: float, q: float, v: float
                      ) -> np.ndarray:
    """Mean spend of each customer's x purchases: z ~ Gamma(p, rate ν), ν ~ Gamma(q, rate v).

    The mean of x such z is Gamma(p·x, rate ν·x), drawn directly.
    """
    nu = rng.gamma(q, 1.0 / v, len(x))
    return rng.gamma(p * x, 1.0 / (nu * x))


def purchase_history(seed: int = 11, customers: int = 300):
    """Purchase histories: (rows, {customer: sorted distinct purchase days}, {customer: [amounts]})."""
    rng = random.Random(seed)
    start = dt.datetime(2023, 1, 1, tzinfo=UTC)
    rows, days, amounts = [], {}, {}
    for i in range(customers):
        ext = f"S{i:04d}"
        rate = rng.gammavariate(0.8, 1 / 12)  # purchases per day
        alive_until = rng.uniform(60, 700)
        first = rng.randrange(0, 600)
        day, mine = first, []
        spend_scale = rng.gammavariate(5, 6)
        while day <= 730 and day - first <= alive_until:
            mine.append(day)
            amount = Decimal(str(round(rng.gammavariate(3, spend_scale / 3), 2))) + 1
            rows.append(row(ext, start + dt.timedelta(days=day, hours=9), amount=amount))
            amounts.setdefault(ext, []).append((day, amount))
            day += max(1, int(rng.expovariate(rate))) if rate > 0 else 10_000
        days[ext] = mine
    return rows, days, amounts


def history_from_summary(x, t_x, T, as_of: dt.datetime = AS_OF, amount: str = "20"):
    """Purchase rows whose weekly calibration summary at ``as_of`` is (x, t_x, T) per customer.

    Customer ``U<i>`` first buys T weeks before as_of's day and again on x
    distinct later days, the last t_x weeks after the first (x, t_x and T in
    whole days / 7, as the summaries in ``data/`` are).
    """
    end = dt.datetime(as_of.year, as_of.month, as_of.day, 9, tzinfo=UTC)
    rows = []
    for i, (xi, ti, Ti) in enumerate(zip(x, t_x, T)):
        first = end - dt.timedelta(days=round(Ti * 7))
        last_day = round(ti * 7)
        days = [0] + [round(last_day * (k + 1) / xi) for k in range(int(xi))]
        assert len(set(days)) == len(days), "x repeat purchases need x distinct days"
        rows += [row(f"U{i:03d}", first + dt.timedelta(days=d), amount=amount) for d in days]
    return rows
