"""Maximum-likelihood fitting shared by the BG/NBD and Gamma-Gamma models.

Parameters are positive, so the optimiser works on their logarithms
(L-BFGS-B with the analytic gradient).  A fit is accepted only when the
gradient at the optimum is small (relative to the log-likelihood) and no
parameter sits at the search boundary; otherwise :class:`ModelFitError` says which test failed.
Standard errors come from the observed information: the inverse of the
Hessian of the negative log-likelihood (central differences of the analytic
gradient) at the optimum.
"""

from __future__ import annotations

from typing import Callable, Sequence

import attrs
import numpy as np

from .errors import ModelFitError

LOG_BOUND = 18.0
"""Search box for log-parameters: each parameter stays within e^±18 (about 1.5e-8 .. 6.6e7)."""


@attrs.frozen
class Fit:
    """A converged fit: parameters, maximised log-likelihood, standard errors, iterations."""

    params: dict[str, float]
    log_likelihood: float
    standard_errors: dict[str, float]
    iterations: int


def maximise(model: str, names: Sequence[str],
             neg_ll_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
             start: Sequence[float], max_iterations: int) -> Fit:
    """Maximise a log-likelihood over positive parameters ``names``.

    ``neg_ll_grad(theta)`` takes *natural* parameters and returns the negative
    log-likelihood and its gradient.  Raises :class:`ModelFitError` naming
    ``model`` and the reason when the fit does not converge.
    """
    from scipy import optimize

    def objective(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(log_theta)
        value, grad = neg_ll_grad(theta)
        if not np.isfinite(value):
            return np.inf, np.zeros_like(theta)
        return value, grad * theta  # chain rule: d/d(log t) = t * d/dt

    x0 = np.log(np.asarray(start, dtype=float))
    with np.errstate(all="ignore"):
        result = optimize.minimize(
            objective, x0, jac=True, method="L-BFGS-B",
            bounds=[(-LOG_BOUND, LOG_BOUND)] * len(names),
            options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20},
        )
    theta = np.exp(result.x)
    shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, theta))
    if not np.isfinite(result.fun):
        raise ModelFitError(f"{model} fit failed: the log-likelihood is not finite at {shown}")
    at_bound = [n for n, lt in zip(names, result.x) if abs(lt) >= LOG_BOUND - 1e-6]
    if at_bound:
        raise ModelFitError(
            f"{model} fit did not converge: {', '.join(at_bound)} ran off to the boundary "
            f"({shown}); the data do not identify the model (too few customers or repeat purchases?)",
            at_bound=tuple(at_bound))
    _, grad = objective(result.x)
    largest = float(np.max(np.abs(grad)))
    if largest > 1e-4 * max(1.0, abs(result.fun)):  # L-BFGS-B's own flag is not enough either way
        if result.nit >= max_iterations:
            raise ModelFitError(
                f"{model} fit did not converge within {max_iterations} iterations "
                f"(clv.max_iterations), ending at {shown} with gradient {largest:.3g}")
        raise ModelFitError(f"{model} fit did not converge: {result.message} "
                            f"(largest gradient {largest:.3g} at {shown})")
    errors = standard_errors(neg_ll_grad, theta)
    return Fit(params={n: float(v) for n, v in zip(names, theta)},
               log_likelihood=float(-result.fun),
               standard_errors={n: float(e) for n, e in zip(names, errors)},
               iterations=int(result.nit))


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
