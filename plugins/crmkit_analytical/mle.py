"""Maximum-likelihood fitting shared by the BG/NBD and Gamma-Gamma models.

Parameters are positive, so the optimiser works on their logarithms
(L-BFGS-B with the analytic gradient), from several starting points; the
best log-likelihood wins, so the result does not hang on one optimiser path.
An optional L2 penalty ``penalty · Σ (ln θ)²`` (the models pass
``clv.penalizer_coef`` × customers) shrinks every parameter towards 1 and
keeps parameters the data cannot pin down from running away.

A fit is accepted only when the data identify it (the likelihood does not keep
rising as some parameters run off towards 0 or infinity: see
:func:`unidentified`), no parameter sits at the search boundary and the
gradient at the optimum is small (relative to the objective); otherwise
:class:`ModelFitError` says which test failed.  Standard errors come from the
observed information of the (unpenalised) likelihood: the inverse of the
Hessian of the negative log-likelihood (central differences of the analytic
gradient) at the optimum.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import attrs
import numpy as np

from .errors import ModelFitError

@attrs.frozen
class FitResult:
    """A fitted model (BG/NBD or Gamma-Gamma: ``params`` is that model's ``Params``) with its
    log-likelihood, standard errors and the optimiser's iterations."""

    params: Any
    log_likelihood: float
    customers: int
    standard_errors: dict[str, float]
    iterations: int


LOG_BOUND = 18.0
"""Search box for log-parameters: each parameter stays within e^±18 (about 1.5e-8 .. 6.6e7)."""


@attrs.frozen
class Fit:
    """A converged fit: parameters, maximised log-likelihood, standard errors, iterations."""

    params: dict[str, float]
    log_likelihood: float
    standard_errors: dict[str, float]
    iterations: int


@attrs.frozen
class Optimum:
    """The best of several optimiser runs: log-parameters, objective, gradient, iterations."""

    log_theta: np.ndarray
    objective: float
    gradient: np.ndarray
    iterations: int
    message: str

    @property
    def theta(self) -> np.ndarray:
        """The natural (positive) parameters."""
        return np.exp(self.log_theta)


def penalised(neg_ll_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], penalty: float
              ) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The optimiser's objective over ln θ: −ln L(θ) + penalty · Σ (ln θ)², with its gradient.

    ``neg_ll_grad(theta)`` takes *natural* parameters and returns the negative
    log-likelihood and its gradient.
    """
    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(log_theta)
        with np.errstate(all="ignore"):
            value, grad = neg_ll_grad(theta)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(theta)
        # chain rule: d/d(ln t) = t · d/dt
        return (value + penalty * float(np.dot(log_theta, log_theta)),
                grad * theta + 2 * penalty * log_theta)
    return objective


def optimise(objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
             starts: Sequence[Sequence[float]], max_iterations: int) -> Optimum:
    """Minimise ``objective`` (see :func:`penalised`) over ln θ from each start; the lowest wins.

    ``starts`` are natural parameters; ``max_iterations`` applies to each start.
    """
    from scipy import optimize
    from threadpoolctl import threadpool_limits

    best = None
    # L-BFGS-B's BLAS calls are on vectors of a few parameters: a threaded BLAS only spins
    # its threads (about two thirds of the optimiser's CPU time on a busy 2-core machine)
    with threadpool_limits(limits=1, user_api="blas"):
        for start in starts:
            x0 = np.clip(np.log(np.asarray(start, dtype=float)), -LOG_BOUND, LOG_BOUND)
            with np.errstate(all="ignore"):
                result = optimize.minimize(
                    objective, x0, jac=True, method="L-BFGS-B",
                    bounds=[(-LOG_BOUND, LOG_BOUND)] * len(x0),
                    options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-9,
                             "maxcor": 20},
                )
            if best is None or result.fun < best.fun:
                best = result
    _, gradient = objective(best.x)
    return Optimum(best.x, float(best.fun), gradient, int(best.nit), str(best.message))


PUSH = 6.0
"""How far (in ln θ) the identification check moves parameters from the optimum."""

TOLERANCE = 1e-3
"""A fit whose log-likelihood beats such a moved point by less than this is not identified."""


def unidentified(objective, optimum: Optimum) -> tuple[tuple[int, float], ...]:
    """(index, +1 or −1) of parameters along whose runaway the likelihood does not fall.

    Every subset of the parameters (smallest first) is moved together by
    ±:data:`PUSH` in ln θ (every sign pattern): if the objective there is not
    worse than at the optimum by :data:`TOLERANCE`, the maximum lies at 0 or
    infinity in that direction (for example a, b → ∞ with a/b fixed) and the
    optimiser merely stopped somewhere along it, at a point that depends on the
    machine's rounding.  Comparing likelihoods, not positions, makes the
    verdict the same everywhere.  Empty when the data identify every parameter.
    """
    from itertools import combinations, product

    k = len(optimum.log_theta)
    outward = np.where(optimum.log_theta < 0, -1.0, 1.0)  # the way each parameter leans: tried first
    for size in range(1, k + 1):
        for subset in combinations(range(k), size):
            for flips in product((1.0, -1.0), repeat=size):
                signs = outward[list(subset)] * np.array(flips)
                moved = optimum.log_theta.copy()
                moved[list(subset)] += PUSH * signs
                if objective(moved)[0] <= optimum.objective + TOLERANCE:
                    return tuple(zip(subset, signs))
    return ()


def accept(model: str, names: Sequence[str], objective, optimum: Optimum,
           max_iterations: int) -> None:
    """Raise :class:`ModelFitError` naming ``model`` and the reason unless ``optimum`` converged
    to a point the data identify (``at_bound`` of the error names the runaway parameters)."""
    shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, optimum.theta))
    if not np.isfinite(optimum.objective):
        raise ModelFitError(f"{model} fit failed: the log-likelihood is not finite at {shown}")
    largest = float(np.max(np.abs(optimum.gradient)))
    converged = largest <= 1e-4 * max(1.0, abs(optimum.objective))  # L-BFGS-B's own flag is not enough
    if not converged and optimum.iterations >= max_iterations:
        raise ModelFitError(
            f"{model} fit did not converge within {max_iterations} iterations "
            f"(clv.max_iterations), ending at {shown} with gradient {largest:.3g}")
    runaway = unidentified(objective, optimum)
    if runaway:
        limits = {names[i]: ("∞" if sign > 0 else "0") for i, sign in runaway}
        raise ModelFitError(
            f"{model} fit is not identified: the likelihood does not fall as "
            + " and ".join(f"{n} → {v}" for n, v in limits.items()) + f" ({shown})",
            at_bound=tuple(limits), limits=limits)
    at_bound = [n for n, lt in zip(names, optimum.log_theta) if abs(lt) >= LOG_BOUND - 1e-6]
    if at_bound:
        raise ModelFitError(
            f"{model} fit did not converge: {', '.join(at_bound)} ran off to the boundary "
            f"({shown}); the data do not identify the model (too few customers or repeat purchases?)",
            at_bound=tuple(at_bound))
    if not converged:
        raise ModelFitError(f"{model} fit did not converge: {optimum.message} "
                            f"(largest gradient {largest:.3g} at {shown})")


def maximise(model: str, names: Sequence[str],
             neg_ll_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
             starts: Sequence[Sequence[float]], max_iterations: int,
             penalty: float = 0.0) -> Fit:
    """Maximise a (penalised) log-likelihood over positive parameters ``names``.

    Raises :class:`ModelFitError` naming ``model`` and the reason when the fit
    does not converge or the data do not identify it (see :func:`accept`).
    The fit's log-likelihood and standard errors are of the unpenalised model.
    """
    objective = penalised(neg_ll_grad, penalty)
    optimum = optimise(objective, starts, max_iterations)
    accept(model, names, objective, optimum, max_iterations)
    theta = optimum.theta
    value, _ = neg_ll_grad(theta)
    errors = standard_errors(neg_ll_grad, theta)
    return Fit(params={n: float(v) for n, v in zip(names, theta)},
               log_likelihood=float(-value),
               standard_errors={n: float(e) for n, e in zip(names, errors)},
               iterations=optimum.iterations)


def dot(a, b) -> float:
    """Σ a·b of two vectors, without BLAS (whose threads cost more than they save here)."""
    return float(np.einsum("i,i->", a, b))


def softplus_and_share(d):
    """ln(1 + e^d) and the logistic 1/(1 + e^−d), sharing one exponential, for any d."""
    e = np.exp(-np.abs(d))
    inverse = 1.0 / (1.0 + e)
    return np.maximum(d, 0.0) + np.log1p(e), np.where(d >= 0, inverse, e * inverse)


def log_rising(y, x):
    """ln Γ(y+x) − ln Γ(y) (x ≥ 0), without cancellation for large y (Stirling's series beyond 1000)."""
    from scipy.special import gammaln

    y, x = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(x, dtype=float))
    result = np.empty(y.shape)
    small = y < 1000.0
    result[small] = gammaln(y[small] + x[small]) - gammaln(y[small])
    yl, xl = y[~small], x[~small]
    z = yl + xl

    def series(v):
        return 1 / (12 * v) - 1 / (360 * v ** 3) + 1 / (1260 * v ** 5)

    result[~small] = (yl - 0.5) * np.log1p(xl / yl) + xl * np.log(z) - xl + series(z) - series(yl)
    return result


def digamma_rising(y, x):
    """ψ(y+x) − ψ(y) (x ≥ 0), the derivative of :func:`log_rising` in y, without cancellation
    for large y (the asymptotic series of ψ beyond 1000)."""
    from scipy.special import digamma

    y, x = np.broadcast_arrays(np.asarray(y, dtype=float), np.asarray(x, dtype=float))
    result = np.empty(y.shape)
    small = y < 1000.0
    result[small] = digamma(y[small] + x[small]) - digamma(y[small])
    yl, xl = y[~small], x[~small]

    def series(v):  # ψ(v) − ln v
        return -1 / (2 * v) - 1 / (12 * v ** 2) + 1 / (120 * v ** 4) - 1 / (252 * v ** 6)

    result[~small] = np.log1p(xl / yl) + series(yl + xl) - series(yl)
    return result


def standard_errors(neg_ll_grad, theta: np.ndarray) -> np.ndarray:
    """Square roots of the diagonal of the inverse observed information (NaN if singular)."""
    k = len(theta)
    hessian = np.empty((k, k))
    with np.errstate(all="ignore"):
        for i in range(k):
            h = 1e-5 * max(abs(theta[i]), 1e-3)
            up, down = theta.copy(), theta.copy()
            up[i] += h
            down[i] -= h
            hessian[:, i] = (neg_ll_grad(up)[1] - neg_ll_grad(down)[1]) / (2 * h)
        hessian = (hessian + hessian.T) / 2
        try:
            covariance = np.linalg.inv(hessian)
        except np.linalg.LinAlgError:
            return np.full(k, np.nan)
        diagonal = np.diag(covariance)
    return np.where(diagonal > 0, np.sqrt(np.abs(diagonal)), np.nan)
