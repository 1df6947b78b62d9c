"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV").

Each purchase's value z ~ Gamma(p, ν) with ν ~ Gamma(q, v) across customers.
For a customer with x repeat purchases of mean value m_x the likelihood is

    L = Γ(px+q) / (Γ(px) Γ(q)) · v^q · m_x^(px−1) · x^(px) / (v + x·m_x)^(px+q)

(computed in log space), and the expected spend per purchase given the history is

    E[M | x, m_x] = p (v + x·m_x) / (px + q − 1)

which needs q > 1: the population mean p·v/(q−1) is undefined otherwise, so a
fit with q <= 1 is refused rather than turned into a negative or infinite CLV.

The fit searches over (p, q, w = v/q), w being the mean spend scale 1/E[ν].
When customers' spends differ no more than chance allows, the likelihood
keeps rising as q → ∞ with w fixed: the limit is the model without
heterogeneity (every purchase ~ Gamma(p, 1/w)).  That limit is fitted
directly and reported with q = v = ∞ (``null`` in JSON); every customer's
expected spend is then the population mean p·w.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from . import mle
from .errors import ModelFitError
from .mle import FitResult

NAMES = ("p", "q", "v")


@attrs.frozen
class Params:
    """Gamma-Gamma parameters: spend shape p, and Gamma(q, v) for the spend scale.

    ``q = v = inf`` is the no-heterogeneity limit; ``scale`` (= v/q) is then the
    common spend scale 1/ν.
    """

    p: float
    q: float
    v: float
    scale: float | None = None

    @property
    def heterogeneous(self) -> bool:
        """False in the q → ∞ limit (no spend differences between customers)."""
        return not math.isinf(self.q)

    @property
    def population_mean(self) -> float:
        """Mean spend per purchase across customers, p·v/(q−1) (p·scale in the limit)."""
        if not self.heterogeneous:
            return self.p * self.scale
        require_q_above_one(self)
        return self.p * self.v / (self.q - 1)


def require_q_above_one(params: Params) -> None:
    """Raise :class:`ModelFitError` unless q > 1."""
    if not params.q > 1:
        raise ModelFitError(
            f"Gamma-Gamma q = {params.q:.4g} <= 1 (p = {params.p:.4g}, v = {params.v:.4g}): "
            "the mean spend p·v/(q−1) is undefined, so no expected spend or CLV can be given; "
            "spends are too heavy-tailed for the model (check for outliers)")


def log_likelihood_terms(params: Params, x, m) -> np.ndarray:
    """Each customer's ln L(p, q, v | x, m_x) (x > 0, m_x > 0)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    return _terms(params.p, params.q, params.v, x, m)


def _terms(p, q, v, x, m):
    """ln L per customer, arranged so that nothing cancels when q and v are huge
    (q ln v − (px+q) ln(v+x·m) = −q ln(1 + x·m/v) − px ln(v+x·m))."""
    from scipy.special import gammaln

    px = p * x
    return (mle.log_rising(q, px) - gammaln(px) - q * np.log1p(x * m / v)
            - px * np.log(v + x * m) + (px - 1) * np.log(m) + px * np.log(x))


def log_likelihood(params: Params, x, m, weights=None) -> float:
    """The total log-likelihood over customers (``weights`` count repeated rows)."""
    terms = log_likelihood_terms(params, x, m)
    return float(np.sum(terms if weights is None else terms * np.asarray(weights, dtype=float)))


@attrs.frozen
class Rows:
    """Distinct (x, m_x) rows with their customer counts ``w``, and each row's index into the
    distinct x values (the Gamma-function terms depend on x alone)."""

    x: np.ndarray
    m: np.ndarray
    w: np.ndarray
    xs: np.ndarray
    x_at: np.ndarray


def distinct_rows(x, m) -> Rows:
    """Group identical customers: the likelihood's cost grows with distinct rows, not customers."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    (xs, xi), (_, mi) = (np.unique(v, return_inverse=True) for v in (x, m))
    key = xi.astype(np.int64) * (int(mi.max(initial=0)) + 1) + mi
    _, first, counts = np.unique(key, return_index=True, return_counts=True)
    return Rows(x[first], m[first], counts.astype(float), xs, xi[first])


def _log_inverse_beta(q, px):
    """−ln B(q, px) = ln Γ(q+px) − ln Γ(q) − ln Γ(px), the rising factorial taken from the
    larger argument so that nothing cancels when q or px is huge."""
    from scipy.special import gammaln

    with np.errstate(all="ignore"):
        from_q = mle.log_rising(q, px) - gammaln(px)
        from_px = mle.log_rising(px, q) - gammaln(q)
    return np.where(q >= px, from_q, from_px)


def neg_log_likelihood(rows: Rows):
    """``theta -> (−ln L, −∇ ln L)`` over (p, q, v) for ``rows``, with the analytic gradient.

    With u = x·m_x/v a customer's ln L is
    −ln B(q, px) − q ln(1+u) − px ln(1+1/u) − ln m_x: the Gamma functions are
    evaluated once per distinct x, two logarithms per row, and no terms cancel
    when p, q or v is huge.
    """
    w, xs, x = rows.w, rows.xs, rows.x
    w_x = np.bincount(rows.x_at, w, minlength=len(xs))
    xm, wx = x * rows.m, w * x
    log_xm = np.log(xm)
    w_log_m = mle.dot(w, np.log(rows.m))
    dot = mle.dot

    def evaluate(theta):
        p, q, v = theta
        pxs = p * xs
        u = xm / v
        log1p_u = np.log1p(u)
        # ln(1 + 1/u) = ln(1+u) − ln u: relative error about u·1e-16, so directly for u > 100
        log1p_inverse = log1p_u - (log_xm - np.log(v))
        huge = u > 100
        if huge.any():
            log1p_inverse[huge] = np.log1p(1 / u[huge])
        sum_l, sum_xl = dot(w, log1p_u), dot(wx, log1p_inverse)
        ll = dot(w_x, _log_inverse_beta(q, pxs)) - q * sum_l - p * sum_xl - w_log_m
        d_p = dot(w_x * xs, mle.digamma_rising(pxs, q)) - sum_xl
        d_q = dot(w_x, mle.digamma_rising(q, pxs)) - sum_l
        # q/v − (px+q)/(v+x·m) = (q·u − p·x)/(v·(1+u)): no cancellation when q and v are huge
        d_v = dot(w, (q * u - p * x) / (1 + u)) / v
        return -ll, -np.array([d_p, d_q, d_v])

    return evaluate


def _in_scale(natural):
    """The objective of :func:`neg_log_likelihood` over (p, q, w = v/q) instead of (p, q, v)."""
    def evaluate(theta):
        p, q, scale = theta
        value, (g_p, g_q, g_v) = natural(np.array([p, q, scale * q]))
        return value, np.array([g_p, g_q + scale * g_v, q * g_v])
    return evaluate


def limit_neg_log_likelihood(rows: Rows):
    """The q → ∞ limit, x·m_x ~ Gamma(px, rate 1/scale): ``theta -> (−ln L, −∇ ln L)`` over
    (p, scale); every term depends on x alone or sums over rows once."""
    from scipy.special import digamma, gammaln

    w, xs = rows.w, rows.xs
    w_x = np.bincount(rows.x_at, w, minlength=len(xs))
    wx, w_xm = float(np.dot(w, rows.x)), float(np.dot(w, rows.x * rows.m))
    wx_log_m, w_log_m = float(np.dot(w * rows.x, np.log(rows.m))), float(np.dot(w, np.log(rows.m)))
    log_xs = np.log(xs)

    def evaluate(theta):
        p, scale = theta
        pxs = p * xs
        ll = (np.dot(w_x, pxs * log_xs - gammaln(pxs)) - p * wx * np.log(scale)
              + p * wx_log_m - w_log_m - w_xm / scale)
        d_p = np.dot(w_x * xs, log_xs - digamma(pxs)) - wx * np.log(scale) + wx_log_m
        d_scale = -p * wx / scale + w_xm / scale ** 2
        return -float(ll), -np.array([d_p, d_scale])
    return evaluate


def starts(x, m, w) -> list[list[float]]:
    """Data-driven starting points (p, q, w = v/q) for the optimiser.

    The spread of the customers' mean spends, beyond what their own purchase
    counts explain, gives q by the method of moments (kept within [1.5, 50]);
    p is tried at 1 and 4, with w set so that the mean spend p·v/(q−1) matches
    the data.
    """
    mean = float(np.sum(w * x * m) / np.sum(w * x))
    variance = float(np.sum(w * (m - mean) ** 2) / np.sum(w))
    q0 = float(np.clip(2 + mean * mean / variance, 1.5, 50.0)) if variance > 0 else 50.0
    return [[p0, q0, mean * (q0 - 1) / (p0 * q0)] for p0 in (1.0, 4.0)]


def fit(x, m, max_iterations: int = 1000, penalizer_coef: float = 0.0) -> FitResult:
    """Fit on customers with x > 0 repeat purchases and mean repeat spend m > 0.

    ``penalizer_coef`` > 0 adds ``penalizer_coef · n · Σ (ln θ)²`` over the
    searched θ = (p, q, v/q) to the negative log-likelihood of the n customers.
    Raises :class:`ModelFitError` when there are too few such customers, the
    optimiser does not converge, or the fitted q <= 1.
    """
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if len(x) < 2:
        raise ModelFitError(f"Gamma-Gamma fit needs customers with repeat purchases of positive "
                            f"value; there {'is' if len(x) == 1 else 'are'} {len(x)}")
    rows = distinct_rows(x, m)
    natural = neg_log_likelihood(rows)
    penalty = penalizer_coef * len(x)
    begin = starts(rows.x, rows.m, rows.w)
    try:
        result = mle.maximise("Gamma-Gamma", ("p", "q", "scale"), _in_scale(natural),
                              begin, max_iterations, penalty)
    except ModelFitError as exc:
        if exc.limits != {"q": "∞"} and exc.at_bound != ("q",):
            if not exc.at_bound:
                raise
            raise ModelFitError(f"{exc}; {len(x)} customers with repeat purchases: more customers, "
                                "or a penalty (clv.penalizer_coef, e.g. 0.01), give a fit",
                                at_bound=exc.at_bound, limits=exc.limits) from None
        limit = mle.maximise("Gamma-Gamma (no heterogeneity)", ("p", "scale"),
                             limit_neg_log_likelihood(rows),
                             [[p, scale * q / (q - 1)] for p, q, scale in begin], max_iterations, penalty)
        params = Params(limit.params["p"], math.inf, math.inf, limit.params["scale"])
        errors = {"p": limit.standard_errors["p"], "q": math.nan, "v": math.nan}
        return FitResult(params, limit.log_likelihood, len(x), errors, limit.iterations)
    fitted = result.params
    params = Params(fitted["p"], fitted["q"], fitted["scale"] * fitted["q"])
    require_q_above_one(params)
    # standard errors of (p, q, v) from the observed information in those parameters
    errors = mle.standard_errors(natural, np.array([params.p, params.q, params.v]))
    return FitResult(params, result.log_likelihood, len(x),
                     dict(zip(NAMES, (float(e) for e in errors))), result.iterations)


def expected_spend(params: Params, x, m) -> np.ndarray:
    """E[spend per purchase | x, m_x] = p(v + x·m_x)/(px + q − 1); the population mean when x = 0
    (and for everyone in the no-heterogeneity limit)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    if not params.heterogeneous:
        return np.full_like(x, params.population_mean)
    require_q_above_one(params)
    m = np.where(x > 0, m, 0.0)
    p, q, v = params.p, params.q, params.v
    return p * (v + x * m) / (p * x + q - 1)
