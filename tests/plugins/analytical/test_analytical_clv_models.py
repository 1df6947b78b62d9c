"""BG/NBD and Gamma-Gamma: likelihoods against the papers, parameter recovery, CDNOW, errors.

Pure numpy/scipy (no database): the per-customer summaries are simulated or read
from the CDNOW calibration summary the papers use.
"""

from __future__ import annotations

import math
import warnings
from decimal import Decimal, getcontext
from pathlib import Path

import attrs
import numpy as np
import pytest

from analytical_simulate import bgnbd_customers, gamma_gamma_means
from crmkit_analytical import bgnbd, gammagamma, mle
from crmkit_analytical.errors import ModelFitError

DATA = Path(__file__).parent / "data" / "cdnow_summary.csv"
CDNOW_BG = bgnbd.Params(r=0.243, alpha=4.414, a=0.793, b=2.426)


def cdnow():
    return np.genfromtxt(DATA, delimiter=",", names=True)


def log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def paper_bgnbd_ll(r, alpha, a, b, x, t_x, T) -> float:
    """Fader, Hardie & Lee (2005), eq. 6, in its Beta-function form, with plain floats."""
    common = math.lgamma(r + x) + r * math.log(alpha) - math.lgamma(r)
    alive = math.exp(log_beta(a, b + x) - log_beta(a, b) + common - (r + x) * math.log(alpha + T))
    dead = 0.0
    if x > 0:
        dead = math.exp(log_beta(a + 1, b + x - 1) - log_beta(a, b) + common
                        - (r + x) * math.log(alpha + t_x))
    return math.log(alive + dead)


@pytest.mark.parametrize("x, t_x, T", [(0, 0.0, 38.86), (2, 30.43, 38.86), (1, 1.71, 38.86),
                                       (7, 29.43, 38.86), (15, 60.0, 70.0)])
def test_bgnbd_log_likelihood_matches_the_paper(x, t_x, T):
    got = bgnbd.log_likelihood_terms(CDNOW_BG, [x], [t_x], [T])[0]
    assert got == pytest.approx(paper_bgnbd_ll(0.243, 4.414, 0.793, 2.426, x, t_x, T), rel=1e-12)


def test_bgnbd_total_log_likelihood_on_cdnow_is_the_published_one():
    d = cdnow()
    # the paper reports LL = −9582.4 at its estimates
    assert bgnbd.log_likelihood(CDNOW_BG, d["x"], d["t_x"], d["T"]) == pytest.approx(-9582.4, abs=0.05)


@pytest.mark.parametrize("x, m", [(1, 11.77), (2, 22.35), (6, 40.0), (30, 5.5)])
def test_gamma_gamma_log_likelihood_is_the_mixture_integral(x, m):
    """ln ∫ f(m | p, ν, x) g(ν | q, v) dν, integrated numerically, equals the closed form."""
    from scipy import integrate, stats

    p, q, v = 6.25, 3.74, 15.44
    # the mean of x Gamma(p, rate ν) spends is Gamma(px, rate νx); ν ~ Gamma(q, rate v)
    integrand = lambda nu: (stats.gamma.pdf(m, p * x, scale=1 / (nu * x))
                            * stats.gamma.pdf(nu, q, scale=1 / v))
    # ν's density is below e^-70 beyond 5 (mean q/v = 0.24): integrate over [0, 5]
    value, _ = integrate.quad(integrand, 0, 5, limit=200, epsabs=0, epsrel=1e-11)
    # the paper's likelihood is of (x, m_x) written with m_x's density times x (Jacobian 1)
    got = gammagamma.log_likelihood_terms(gammagamma.Params(p, q, v), [x], [m])[0]
    assert got == pytest.approx(math.log(value), rel=1e-8)


def test_cdnow_fits_give_the_published_parameters():
    d = cdnow()
    bg = bgnbd.fit(d["x"], d["t_x"], d["T"])
    # published: r = 0.243, α = 4.414, a = 0.793, b = 2.426 (rounded to 3 decimals)
    assert (bg.params.r, bg.params.alpha, bg.params.a, bg.params.b) == pytest.approx(
        (0.243, 4.414, 0.793, 2.426), abs=6e-4)
    # a maximum: at least the published log-likelihood (−9582.4, −9582.43 to two decimals)
    assert bg.log_likelihood >= -9582.43
    assert bg.customers == 2357
    gg = gammagamma.fit(d["x"], d["zbar"])
    # published: p = 6.25, q = 3.74, v = 15.44 (946 customers with repeat purchases)
    assert (gg.params.p, gg.params.q, gg.params.v) == pytest.approx((6.25, 3.74, 15.44), abs=0.011)
    repeat = (d["x"] > 0) & (d["zbar"] > 0)
    published = gammagamma.log_likelihood(gammagamma.Params(6.25, 3.74, 15.44),
                                          d["x"][repeat], d["zbar"][repeat])
    assert gg.log_likelihood >= published - 1e-9
    assert gg.customers == 946


def simulated_base(seed: int, n: int = 20_000):
    rng = np.random.default_rng(seed)
    T = rng.uniform(26, 78, n)  # weeks since the first purchase: acquisition spread over a year
    x, t_x = bgnbd_customers(rng, n, r=0.25, alpha=4.0, a=0.8, b=2.5, T=T)
    return rng, x, t_x, T


def within_4_se(fit, truth: dict[str, float]) -> dict[str, float]:
    """Each estimate's distance from the truth in its own standard errors."""
    params = fit.params
    return {k: abs(getattr(params, k) - v) / fit.standard_errors[k] for k, v in truth.items()}


def test_simulated_parameters_are_recovered_within_sampling_error():
    """20,000 simulated customers; tolerance: 4 standard errors of each estimate.

    The standard errors come from the observed information at the optimum.  An
    unbiased maximum-likelihood estimate lands within 4 of them with
    probability above 0.9999 per parameter, so the check is not flaky; and the
    band is narrow: parameters 50 % off the truth lie outside it (checked below).
    """
    rng, x, t_x, T = simulated_base(seed=2)
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    bg = bgnbd.fit(x, t_x, T)
    assert max(within_4_se(bg, truth).values()) < 4
    assert min(within_4_se(bg, {k: 1.5 * v for k, v in truth.items()}).values()) > 4
    assert bg.log_likelihood >= bgnbd.log_likelihood(bgnbd.Params(**truth), x, t_x, T)

    repeat = x > 0
    m = gamma_gamma_means(rng, x[repeat], p=6.0, q=4.0, v=15.0)
    gg = gammagamma.fit(x[repeat], m)
    assert max(within_4_se(gg, {"p": 6.0, "q": 4.0, "v": 15.0}).values()) < 4
    assert min(within_4_se(gg, {"p": 9.0, "q": 6.0, "v": 22.5}).values()) > 4
    assert gg.log_likelihood >= gammagamma.log_likelihood(gammagamma.Params(6.0, 4.0, 15.0),
                                                          x[repeat], m)
    assert gg.customers == int(repeat.sum())


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_small_simulated_bases_are_fitted_within_three_standard_errors(seed):
    """400 customers: every estimate within 3 of its standard errors of the truth, and the
    fit's log-likelihood at least the truth's (whatever path the optimiser took)."""
    rng, x, t_x, T = simulated_base(seed=seed, n=400)
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    bg = bgnbd.fit(x, t_x, T)
    assert max(within_4_se(bg, truth).values()) < 3
    assert bg.log_likelihood >= bgnbd.log_likelihood(bgnbd.Params(**truth), x, t_x, T)


def demo_base(name: str):
    d = np.genfromtxt(DATA.parent / f"unidentified_{name}.csv", delimiter=",", names=True)
    return d["x"], d["t_x"], d["T"]


@pytest.mark.parametrize("name, limit, meaning", [
    ("demo80", "a → ∞ and b → ∞", "as if every customer had the same dropout probability"),
    ("demo25", "a → 0 and b → 0", "as if some customers dropped out at their first repeat"),
])
def test_an_unidentified_bgnbd_fit_is_refused_whatever_the_optimiser_path(
        monkeypatch, name, limit, meaning):
    """The demo's 80- and 25-customer bases: the likelihood is highest with a and b at a limit.

    Where the optimiser stops along such a ridge depends on the starting point
    (and, in the last bits, on the CPU); the verdict must not.  From each
    start alone the fit is refused as not identified; with the data-driven
    starts together the refusal names the limit with the highest likelihood.
    """
    x, t_x, T = demo_base(name)
    with pytest.raises(ModelFitError) as caught:
        bgnbd.fit(x, t_x, T)
    message = str(caught.value)
    assert message.startswith(f"BG/NBD fit is not identified: the likelihood does not fall as {limit}")
    assert meaning in message
    assert f"; {len(x)} customers, {int(np.sum(x > 0))} with repeat purchases: more customers, " \
           "or a penalty (clv.penalizer_coef, e.g. 0.01), give a fit" in message
    for start in bgnbd.starts(x, t_x, T) + [[0.5, 5.0, 0.5, 0.5], [2.0, 20.0, 3.0, 30.0],
                                             [0.1, 1.0, 50.0, 50.0]]:
        monkeypatch.setattr(bgnbd, "starts", lambda *args, start=start: [start])
        with pytest.raises(ModelFitError, match="BG/NBD fit is not identified: the likelihood "
                                                "does not fall as a → (0|∞) and b → (0|∞)"):
            bgnbd.fit(x, t_x, T)


def test_a_penalty_on_the_log_parameters_gives_a_fit_and_shrinks_towards_one():
    x, t_x, T = demo_base("demo80")
    sizes = []
    for coef in (0.001, 0.01, 0.1):
        bg = bgnbd.fit(x, t_x, T, penalizer_coef=coef)
        theta = np.array([bg.params.r, bg.params.alpha, bg.params.a, bg.params.b])
        assert np.all(np.isfinite(theta)) and np.all(theta > 0)
        sizes.append(float(np.sum(np.log(theta) ** 2)))
        # the penalised estimate maximises LL − coef·n·Σ(ln θ)²: no nearby point does better
        penalised = lambda th: (bgnbd.log_likelihood(bgnbd.Params(*th), x, t_x, T)
                                - coef * len(x) * float(np.sum(np.log(th) ** 2)))
        for step in np.eye(4) * 0.01:
            assert penalised(theta) >= max(penalised(theta * np.exp(step)),
                                           penalised(theta * np.exp(-step))) - 1e-9
    assert sizes[0] > sizes[1] > sizes[2]
    d = cdnow()
    gg = gammagamma.fit(d["x"], d["zbar"], penalizer_coef=0.01)
    plain = gammagamma.fit(d["x"], d["zbar"])
    assert gg.log_likelihood < plain.log_likelihood


def test_q_at_most_one_is_a_clear_error():
    rng = np.random.default_rng(5)
    x = rng.integers(1, 8, 4000).astype(float)
    m = gamma_gamma_means(rng, x, p=2.0, q=0.6, v=5.0)  # heavy-tailed spend: mean undefined
    with pytest.raises(ModelFitError, match=r"Gamma-Gamma q = 0\.\d+ <= 1 .*mean spend p·v/\(q−1\) "
                                            r"is undefined"):
        gammagamma.fit(x, m)
    with pytest.raises(ModelFitError, match="q = 1 <= 1"):
        gammagamma.expected_spend(gammagamma.Params(2.0, 1.0, 5.0), [1.0], [10.0])


def test_non_convergence_and_too_little_data_are_clear_errors():
    d = cdnow()
    with pytest.raises(ModelFitError, match="BG/NBD fit did not converge within 3 iterations "
                                            r"\(clv.max_iterations\)"):
        bgnbd.fit(d["x"], d["t_x"], d["T"], max_iterations=3)
    with pytest.raises(ModelFitError, match="needs repeat purchases; none of the 3 customers"):
        bgnbd.fit([0, 0, 0], [0, 0, 0], [5, 6, 7])
    with pytest.raises(ModelFitError, match="there is 1"):
        gammagamma.fit([0, 3], [0, 10.0])


def test_spend_without_variation_within_customers_is_refused_as_not_identified():
    """Each customer spends the same on every purchase: p → ∞ (with p·scale fixed) is the
    maximum, a refusal that names the limit and the remedy; a penalty gives a fit."""
    rng = np.random.default_rng(1)
    x = rng.integers(1, 6, 300).astype(float)
    m = 1.0 / rng.gamma(4.0, 1 / 100.0, 300)
    with pytest.raises(ModelFitError, match=r"^Gamma-Gamma fit is not identified: the likelihood "
                                            r"does not fall as p → ∞ and scale → 0 \(.*\); 300 "
                                            r"customers with repeat purchases: more customers, or "
                                            r"a penalty \(clv.penalizer_coef, e.g. 0.01\), give a fit$"):
        gammagamma.fit(x, m)
    penalised = gammagamma.fit(x, m, penalizer_coef=0.01)
    assert penalised.params.heterogeneous and 1 < penalised.params.q < 100


def test_no_heterogeneity_in_spend_is_fitted_as_the_limit():
    """Every customer's purchases from one Gamma(p, scale): q, v → ∞ (or huge); spend = the common mean."""
    rng = np.random.default_rng(9)
    x = rng.integers(1, 6, 3000).astype(float)
    m = rng.gamma(4.0 * x, 25.0 / x)  # mean of x Gamma(4, scale 25) spends: mean 100
    gg = gammagamma.fit(x, m)
    assert not gg.params.heterogeneous or gg.params.q > 1e4
    assert gg.params.population_mean == pytest.approx(100, rel=0.02)
    # a history says nothing about a customer's own mean: both get the population mean
    assert gammagamma.expected_spend(gg.params, [1.0, 5.0], [40.0, 300.0]) == pytest.approx(
        [gg.params.population_mean] * 2, rel=1e-3)


def series_expected_purchases(params: bgnbd.Params, t: float, x: float, t_x: float, T: float
                              ) -> float:
    """Paper eq. 10 with the hypergeometric series summed in 60-digit decimals (reference)."""
    getcontext().prec = 60
    r, alpha, a, b = (Decimal(repr(v)) for v in (params.r, params.alpha, params.a, params.b))
    x_, t_, T_ = Decimal(repr(float(x))), Decimal(repr(float(t))), Decimal(repr(float(T)))
    z = t_ / (alpha + T_ + t_)
    A, B, C = r + x_, b + x_, a + b + x_ - 1
    total, term, k = Decimal(0), Decimal(1), 0
    while k < 10 or term > total * Decimal("1e-40"):
        total += term
        term = term * (A + k) * (B + k) / ((C + k) * (k + 1)) * z
        k += 1
    bracket = 1 - ((alpha + T_) / (alpha + T_ + t_)) ** A * total
    alive = float(bgnbd.p_alive(params, [x], [t_x], [T])[0])
    return float(C / (a - 1) * bracket) * alive


@pytest.mark.parametrize("params", [CDNOW_BG,
                                    bgnbd.Params(0.698, 3.206, 733400.5, 13022642.9)],
                         ids=["cdnow", "near-degenerate-beta"])
@pytest.mark.parametrize("x, t_x, T, t", [(0, 0, 30, 52), (2, 30, 40, 52), (300, 95, 100, 52),
                                          (5, 40, 60, 365), (1, 1, 2, 500)])
def test_expected_purchases_match_the_series(params, x, t_x, T, t):
    got = bgnbd.expected_purchases(params, t, [x], [t_x], [T])[0]
    assert got == pytest.approx(series_expected_purchases(params, t, x, t_x, T), rel=1e-8)


def test_hundreds_of_purchases_raise_no_overflow_warnings():
    x = np.array([0, 1, 250, 600, 900], dtype=float)
    t_x = np.array([0, 3, 300, 380, 399.5])
    T = np.array([400, 400, 400, 400, 400.0])
    m = np.array([0, 20, 35.5, 12.25, 80])
    gg_params = gammagamma.Params(6.25, 3.74, 15.44)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        values = [bgnbd.log_likelihood_terms(CDNOW_BG, x, t_x, T),
                  bgnbd.neg_log_likelihood(bgnbd.distinct_rows(x, t_x, T))(
                      np.array([0.243, 4.414, 0.793, 2.426]))[1],
                  bgnbd.p_alive(CDNOW_BG, x, t_x, T),
                  bgnbd.expected_purchases(CDNOW_BG, 52, x, t_x, T),
                  gammagamma.log_likelihood_terms(gg_params, x[1:], m[1:]),
                  gammagamma.expected_spend(gg_params, x, m)]
        fit = bgnbd.fit(np.r_[x, cdnow()["x"]], np.r_[t_x, cdnow()["t_x"]], np.r_[T, cdnow()["T"]])
    assert all(np.all(np.isfinite(v)) for v in values)
    assert np.isfinite(fit.log_likelihood)
    # a buyer of 900 whose last purchase was 0.5 weeks ago is almost surely alive
    assert values[2][4] > 0.99
    assert values[3][4] == pytest.approx(
        series_expected_purchases(CDNOW_BG, 52, 900, 399.5, 400), rel=1e-8)


def test_log_likelihoods_stay_exact_for_huge_parameters():
    """Near a limit (a, b → ∞; r, α → ∞; q → ∞) the terms must not cancel: the
    identification check compares log-likelihoods there to 0.001 over a whole base."""
    getcontext().prec = 60
    D = lambda v: Decimal(repr(float(v)))  # noqa: E731

    def bgnbd_reference(r, alpha, a, b, x, t_x, T):
        r, alpha, a, b, t_x, T = map(D, (r, alpha, a, b, t_x, T))
        rising = sum(((r + k).ln() for k in range(x)), Decimal(0))
        a2 = sum(((b + k) / (a + b + k)).ln() for k in range(x))
        ln3 = r * (alpha / (alpha + T)).ln() - x * (alpha + T).ln()
        total = ln3.exp()
        if x > 0:
            total += (a.ln() - (b + x - 1).ln() + r * (alpha / (alpha + t_x)).ln()
                      - x * (alpha + t_x).ln()).exp()
        return float(rising + a2 + total.ln())

    for params in [(0.243, 4.414, 3e8, 1.6e10), (2e8, 4e8, 0.793, 2.426), (3e9, 5e9, 2e9, 7e10)]:
        for x, t_x, T in [(0, 0.0, 38.0), (3, 20.0, 38.0), (25, 60.0, 70.0)]:
            got = bgnbd.log_likelihood_terms(bgnbd.Params(*params), [x], [t_x], [T])[0]
            assert got == pytest.approx(bgnbd_reference(*params, x, t_x, T), abs=1e-9)

    p, q, scale = 4.0, 1e12, 25.0
    v = q * scale
    for x, m in [(1, 80.0), (3, 120.0), (10, 95.5)]:
        px = int(p) * x
        reference = (sum((D(q) + k).ln() for k in range(px)) - D(math.lgamma(px))
                     - D(q) * (1 + D(x) * D(m) / D(v)).ln() - px * (D(v) + D(x) * D(m)).ln()
                     + (px - 1) * D(m).ln() + px * D(x).ln())
        got = gammagamma.log_likelihood_terms(gammagamma.Params(p, q, v), [x], [m])[0]
        assert got == pytest.approx(float(reference), abs=1e-9)


def finite_difference_gradient(objective, log_theta: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central differences of ``objective`` in each log-parameter."""
    gradient = []
    for unit in np.eye(len(log_theta)) * step:
        gradient.append((objective(log_theta + unit)[0] - objective(log_theta - unit)[0]) / (2 * step))
    return np.array(gradient)


@pytest.mark.parametrize("theta", [(0.243, 4.414, 0.793, 2.426), (2e8, 4e8, 0.793, 2.426),
                                   (0.243, 4.414, 3e8, 1.6e10), (3e9, 5e9, 2e9, 7e10)],
                         ids=["cdnow", "huge-r-alpha", "huge-a-b", "all-huge"])
def test_bgnbd_analytic_gradient_matches_finite_differences(theta):
    """The objective the optimiser sees (over ln θ, on distinct rows with weights) equals the
    per-customer log-likelihood and its gradient equals central differences, near the
    limits the identification check visits too."""
    d = cdnow()
    x, t_x, T = np.r_[d["x"], d["x"][:500]], np.r_[d["t_x"], d["t_x"][:500]], np.r_[d["T"], d["T"][:500]]
    rows = bgnbd.distinct_rows(x, t_x, T)
    assert len(rows.x) < len(x) and rows.w.sum() == len(x)
    objective = mle.penalised(bgnbd.neg_log_likelihood(rows), 0.0)
    log_theta = np.log(theta)
    value, gradient = objective(log_theta)
    assert -value == pytest.approx(bgnbd.log_likelihood(bgnbd.Params(*theta), x, t_x, T), abs=1e-8)
    numeric = finite_difference_gradient(objective, log_theta)
    assert gradient == pytest.approx(numeric, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("theta", [(6.25, 3.74, 15.44), (4.0, 1e12, 2.5e13), (8e6, 3.97, 1e-5)],
                         ids=["cdnow", "huge-q-v", "huge-p"])
def test_gamma_gamma_analytic_gradient_matches_finite_differences(theta):
    d = cdnow()
    repeat = (d["x"] > 0) & (d["zbar"] > 0)
    x, m = d["x"][repeat], d["zbar"][repeat]
    objective = mle.penalised(gammagamma.neg_log_likelihood(gammagamma.distinct_rows(x, m)), 0.0)
    log_theta = np.log(theta)
    value, gradient = objective(log_theta)
    assert -value == pytest.approx(gammagamma.log_likelihood(gammagamma.Params(*theta), x, m),
                                   abs=1e-4 if theta[0] > 1e6 else 1e-8)
    numeric = finite_difference_gradient(objective, log_theta)
    assert gradient == pytest.approx(numeric, rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("base", ["cdnow", "simulated"])
def test_every_starting_point_reaches_the_same_optimum(monkeypatch, base):
    """Each data-driven start alone gives the parameters of the best-of-all fit (to 1e-6)."""
    if base == "cdnow":
        d = cdnow()
        x, t_x, T, m = d["x"], d["t_x"], d["T"], d["zbar"]
    else:
        rng, x, t_x, T = simulated_base(seed=2)
        m = np.zeros_like(x)
        m[x > 0] = gamma_gamma_means(rng, x[x > 0], p=6.0, q=4.0, v=15.0)
    bg, gg = bgnbd.fit(x, t_x, T), gammagamma.fit(x, m)
    bg_starts, gg_starts = bgnbd.starts(x, t_x, T), gammagamma.starts
    assert len(bg_starts) == 3
    for start in bg_starts:
        monkeypatch.setattr(bgnbd, "starts", lambda *args, start=start: [start])
        alone = bgnbd.fit(x, t_x, T)
        assert attrs.astuple(alone.params) == pytest.approx(attrs.astuple(bg.params), rel=1e-6)
    for index in range(2):
        monkeypatch.setattr(gammagamma, "starts", lambda *args, i=index: [gg_starts(*args)[i]])
        alone = gammagamma.fit(x, m)
        assert attrs.astuple(alone.params)[:3] == pytest.approx(attrs.astuple(gg.params)[:3], rel=1e-6)
