"""Simulating customer bases from the BG/NBD and Gamma-Gamma models (numpy only, no database)."""

from __future__ import annotations

import numpy as np


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
