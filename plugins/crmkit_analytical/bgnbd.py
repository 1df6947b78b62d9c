"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α);
after each repeat purchase they drop out with probability p ~ Beta(a, b).
For a customer with x repeat purchases, the last at t_x, observed for T time
units since the first purchase, the likelihood is (paper, eq. 6)

    L = A1 · A2 · (A3 + δ(x>0) · A4)
    A1 = Γ(r+x) α^r / Γ(r)            A2 = Γ(a+b) Γ(b+x) / (Γ(b) Γ(a+b+x))
    A3 = (α+T)^-(r+x)                  A4 = a / (b+x−1) · (α+t_x)^-(r+x)

computed here in log space (``ln(A3 + A4)`` with ``logaddexp``), so customers
with hundreds of purchases neither overflow nor underflow, and arranged so
that no terms cancel when parameters are huge (see :func:`mle.log_rising`).
"""

from __future__ import annotations

import attrs
import numpy as np

from . import mle
from .errors import ModelFitError
from .mle import FitResult

NAMES = ("r", "alpha", "a", "b")


@attrs.frozen
class Params:
    """BG/NBD parameters: purchase rate Gamma(r, α), dropout Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


def _arrays(x, t_x, T):
    return (np.asarray(x, dtype=float), np.asarray(t_x, dtype=float), np.asarray(T, dtype=float))


def _log_parts(r, alpha, a, b, x, t_x, T):
    """ln(α^r A3) and ln(α^r A4) per customer (the second −inf where x = 0).

    α^r (α+T)^-(r+x) is written −r ln(1 + T/α) − x ln(α+T), so that nothing
    cancels when r and α are both huge (a purchase rate the same for all).
    """
    ln_a3 = -r * np.log1p(T / alpha) - x * np.log(alpha + T)
    ln_a4 = np.full_like(ln_a3, -np.inf)
    repeat = x > 0
    xr, txr = x[repeat], t_x[repeat]
    ln_a4[repeat] = (np.log(a) - np.log(b + xr - 1) - r * np.log1p(txr / alpha)
                     - xr * np.log(alpha + txr))
    return ln_a3, ln_a4


def _log_a2(a, b, x):
    """ln A2 = ln Γ(a+b) Γ(b+x) / (Γ(b) Γ(a+b+x)), accurate for very large a and b too.

    (The plain sum of four ln Γ terms loses about 1e-5 per customer near
    a, b ≈ 1e10 to cancellation: enough to blur the identification check.)
    """
    return mle.log_rising(b, x) - mle.log_rising(a + b, x)


def log_likelihood_terms(params: Params, x, t_x, T) -> np.ndarray:
    """Each customer's log-likelihood ln L(r, α, a, b | x, t_x, T)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    ln_a3, ln_a4 = _log_parts(r, alpha, a, b, x, t_x, T)
    return mle.log_rising(r, x) + _log_a2(a, b, x) + np.logaddexp(ln_a3, ln_a4)


def log_likelihood(params: Params, x, t_x, T, weights=None) -> float:
    """The total log-likelihood of a customer base (``weights`` count repeated rows)."""
    terms = log_likelihood_terms(params, x, t_x, T)
    return float(np.sum(terms if weights is None else terms * np.asarray(weights, dtype=float)))


@attrs.frozen
class Rows:
    """Distinct (x, t_x, T) rows with their customer counts ``w``, and each row's index into
    the distinct x, t_x and T values (the likelihood's costly pieces depend on one of them)."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    w: np.ndarray
    xs: np.ndarray
    x_at: np.ndarray
    ts: np.ndarray
    t_at: np.ndarray
    Ts: np.ndarray
    T_at: np.ndarray


def distinct_rows(x, t_x, T, weights=None) -> Rows:
    """Group identical customers: the likelihood's cost grows with distinct rows, not customers."""
    x, t_x, T = _arrays(x, t_x, T)
    weights = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    (xs, xi), (ts, ti), (Ts, Ti) = (np.unique(v, return_inverse=True) for v in (x, t_x, T))
    key = (xi.astype(np.int64) * len(ts) + ti) * len(Ts) + Ti
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    w = np.bincount(group.ravel(), weights, minlength=len(first))
    return Rows(x[first], t_x[first], T[first], w, xs, xi[first], ts, ti[first], Ts, Ti[first])


def neg_log_likelihood(rows: Rows):
    """``theta -> (−ln L, −∇ ln L)`` over (r, α, a, b) for ``rows``, with the analytic gradient.

    Terms that depend on x, t_x or T alone are evaluated once per distinct
    value; only the mixture of A3 and A4 is computed per row (repeat buyers).
    A4/A3 = e^d with d = ln a − ln(b+x−1) − (r+x)·ln((α+t_x)/(α+T)), so
    ln(A3+A4) = ln A3 + ln(1+e^d) and A4's share of the sum is the logistic
    function of d.
    """
    w, xs, ts, Ts = rows.w, rows.xs, rows.ts, rows.Ts
    w_x = np.bincount(rows.x_at, w, minlength=len(xs))
    w_T = np.bincount(rows.T_at, w, minlength=len(Ts))
    wx_T = np.bincount(rows.T_at, w * rows.x, minlength=len(Ts))
    repeat = rows.x > 0
    xr, wr = rows.x[repeat], w[repeat]
    x_at, t_at, T_at = rows.x_at[repeat], rows.t_at[repeat], rows.T_at[repeat]
    gap = Ts[T_at] - ts[t_at]  # T − t_x >= 0
    positive = xs > 0

    def evaluate(theta):
        r, alpha, a, b = theta
        log1p_T, log_T, inv_T = np.log1p(Ts / alpha), np.log(alpha + Ts), 1.0 / (alpha + Ts)
        log1p_t, log_t, inv_t = np.log1p(ts / alpha), np.log(alpha + ts), 1.0 / (alpha + ts)
        inv_bx = 1.0 / np.where(positive, b + xs - 1, 1.0)
        log_odds = np.where(positive, np.log(a) + np.log(inv_bx), 0.0)
        d_r_log = log1p_t[t_at] - log1p_T[T_at]  # ln((α+t_x)/(α+T)) without cancellation
        d = log_odds[x_at] - r * d_r_log - xr * (log_t[t_at] - log_T[T_at])
        softplus, share = mle.softplus_and_share(d)
        share *= wr  # weight × A4's share of A3 + A4
        dot = mle.dot
        ll = (dot(w_x, mle.log_rising(r, xs) + _log_a2(a, b, xs))
              - r * dot(w_T, log1p_T) - dot(wx_T, log_T) + dot(wr, softplus))
        # r/α − (r+x)/(α+T) = (r·T/α − x)/(α+T); 1/(α+t_x) − 1/(α+T) = (T − t_x)/((α+t_x)(α+T))
        d_alpha = (dot(w_T * r * Ts / alpha - wx_T, inv_T)
                   - dot(share * (r + xr) * gap, inv_t[t_at] * inv_T[T_at]))
        rising_ab = mle.digamma_rising(a + b, xs)
        grad = np.array([
            dot(w_x, mle.digamma_rising(r, xs)) - dot(w_T, log1p_T) - dot(share, d_r_log),
            d_alpha,
            -dot(w_x, rising_ab) + float(np.sum(share)) / a,
            dot(w_x, mle.digamma_rising(b, xs) - rising_ab) - dot(share, inv_bx[x_at]),
        ])
        return -ll, -grad

    return evaluate


def starts(x, t_x, T) -> list[list[float]]:
    """Data-driven starting points (r, α, a, b) for the optimiser.

    r and α match the mean and the spread of the customers' purchase rates x/T
    (method of moments, r kept within [0.1, 10]); the mean dropout probability
    a/(a+b) is the share of repeat purchases after which the customer went
    quiet (no purchase for three of their mean inter-purchase times), tried with
    two concentrations a + b (2 and 10); a third start is the plain
    (1, 1/rate, 1, 2).
    """
    rates = x / np.maximum(T, 1e-9)
    mean = max(float(np.mean(rates)), 1e-6)
    excess = float(np.var(rates)) - mean * float(np.mean(1.0 / np.maximum(T, 1e-9)))
    r0 = float(np.clip(mean * mean / excess, 0.1, 10.0)) if excess > 0 else 10.0
    repeat = x > 0
    gap = t_x[repeat] / x[repeat]
    quiet = np.sum(T[repeat] - t_x[repeat] > 3 * gap)
    p0 = float(np.clip(quiet / np.sum(x[repeat]), 0.01, 0.9))
    overall = max(float(np.sum(x)) / max(float(np.sum(T)), 1e-9), 1e-6)
    return [[r0, r0 / mean, p0 * k, (1 - p0) * k] for k in (2.0, 10.0)] + [[1.0, 1.0 / overall, 1.0, 2.0]]


def fit(x, t_x, T, max_iterations: int = 1000, penalizer_coef: float = 0.0) -> FitResult:
    """Fit by maximum likelihood.  Identical customers are grouped first (weights), so
    the cost grows with the number of distinct (x, t_x, T) rows, not customers.

    ``penalizer_coef`` > 0 adds ``penalizer_coef · n · Σ (ln θ)²`` over
    θ = (r, α, a, b) to the negative log-likelihood of the n customers.
    Raises :class:`ModelFitError` with the reason when the data cannot identify
    the model (for example, the likelihood is highest as a and b grow together:
    one dropout probability for every customer) or the optimiser does not converge.
    """
    x, t_x, T = _arrays(x, t_x, T)
    n = len(x)
    if n == 0:
        raise ModelFitError("BG/NBD fit needs customers with purchases; there are none")
    if not np.any(x > 0):
        raise ModelFitError(f"BG/NBD fit needs repeat purchases; none of the {n} customers "
                            "has bought on more than one day")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(T < t_x):
        raise ModelFitError("BG/NBD fit needs x >= 0 and 0 <= t_x <= T for every customer")
    try:
        result = mle.maximise("BG/NBD", NAMES, neg_log_likelihood(distinct_rows(x, t_x, T)),
                              starts(x, t_x, T), max_iterations, penalizer_coef * n)
    except ModelFitError as exc:
        if not exc.at_bound:
            raise
        raise ModelFitError(f"{exc}{_explain(exc.limits)}; {n} customers, "
                            f"{int(np.sum(x > 0))} with repeat purchases: more customers, or a "
                            "penalty (clv.penalizer_coef, e.g. 0.01), give a fit",
                            at_bound=exc.at_bound, limits=exc.limits) from None
    return FitResult(Params(**result.params), result.log_likelihood, n,
                     result.standard_errors, result.iterations)


def _explain(limits: dict[str, str]) -> str:
    """What a and b running off together means for the customers."""
    if set(limits) != {"a", "b"}:
        return ""
    if limits["a"] == limits["b"] == "∞":
        return (": the data look as if every customer had the same dropout probability, "
                "so its spread across customers cannot be estimated")
    if limits["a"] == limits["b"] == "0":
        return (": the data look as if some customers dropped out at their first repeat "
                "purchase and the others never")
    return ""


def p_alive(params: Params, x, t_x, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x))."""
    from scipy.special import expit

    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    safe = np.where(x > 0, b + x - 1, 1.0)
    log_odds_dead = (np.log(a) - np.log(safe) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
    return np.where(x > 0, expit(-log_odds_dead), 1.0)


def expected_purchases(params: Params, t: float, x, t_x, T) -> np.ndarray:
    """E[purchases in (T, T+t] | x, t_x, T] (paper, eq. 10), numerically stable:
    P(alive) × :func:`purchases_if_alive`."""
    x, t_x, T = _arrays(x, t_x, T)
    return purchases_if_alive(params, t, x, T) * p_alive(params, x, t_x, T)


def purchases_if_alive(params: Params, t: float, x, T) -> np.ndarray:
    """E[purchases in (T, T+t] | alive at T, x] = (a+b+x−1)/(a−1) · [1 − G]: depends on x and T
    only (not t_x), so customers sharing (x, T) share it.

    G = ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z), z = t/(α+T+t), is
    evaluated three ways, each used where the previous one is not finite:

    1. Euler's transformation (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z), whose
       first parameters do not grow with x (customers with hundreds of purchases);
    2. Pfaff's transformation 2F1(r+x, a−1; a+b+x−1; −t/(α+T)), which has no
       prefactor (very large a and b: a dropout probability nearly equal for all);
    3. the defining series of G summed term by term in log space (all terms
       positive, so no cancellation).
    """
    from scipy.special import hyp2f1

    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-6:  # removable singularity at a = 1: step off it (error ~1e-6 relative)
        a = 1.0 + 1e-6
    if t <= 0:
        return np.zeros_like(x)
    z = t / (alpha + T + t)
    c = a + b + x - 1
    with np.errstate(all="ignore"):
        g = np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        bad = ~np.isfinite(g)
        if np.any(bad):
            g[bad] = hyp2f1(r + x[bad], a - 1, c[bad], -t / (alpha + T[bad]))
            bad = ~np.isfinite(g) | (g < 0) | (g > 1)
        if np.any(bad):
            g[bad] = _g_series(r + x[bad], b + x[bad], c[bad], z[bad])
        result = c / (a - 1) * (1.0 - g)
    if not np.all(np.isfinite(result)):
        raise ModelFitError(f"BG/NBD expected purchases are not finite for r={r:.4g}, "
                            f"alpha={alpha:.4g}, a={a:.4g}, b={b:.4g} (a + b + x - 1 must be > 0)")
    return result


SERIES_TERMS = 2_000_000
"""Most terms :func:`_g_series` sums before giving up (terms shrink at least like z^k)."""


def _g_series(A, B, C, z) -> np.ndarray:
    """(1−z)^A · Σ_k (A)_k (B)_k / ((C)_k k!) z^k, term by term in log space (A, B, C > 0, 0 < z < 1)."""
    A, B, C, z = (np.asarray(v, dtype=float) for v in (A, B, C, z))
    log_term = A * np.log1p(-z)
    total = np.exp(log_term)
    log_z = np.log(z)
    active = np.arange(len(A))
    k = 0
    while active.size and k < SERIES_TERMS:
        a_, b_, c_ = A[active], B[active], C[active]
        ratio = np.log(a_ + k) + np.log(b_ + k) - np.log(c_ + k) - np.log(k + 1.0) + log_z[active]
        log_term[active] += ratio
        term = np.exp(log_term[active])
        total[active] += term
        k += 1
        done = (ratio < 0) & (term <= 1e-17 * total[active])
        active = active[~done]
    if active.size:
        raise ModelFitError(f"BG/NBD expected purchases: the series did not converge within "
                            f"{SERIES_TERMS} terms for {active.size} customers")
    return total


def expected_purchases_new(params: Params, t: float) -> float:
    """E[X(t)] for a customer just acquired (paper, eq. 7): the population purchase curve."""
    from scipy.special import hyp2f1

    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1.0) < 1e-6:
        a = 1.0 + 1e-6
    return float((a + b - 1) / (a - 1)
                 * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, t / (alpha + t))))
