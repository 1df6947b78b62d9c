"""The analytical plugin's own error: a probabilistic model that could not be fitted or used."""

from __future__ import annotations

from crmkit.plugin import CRMError


class ModelFitError(CRMError):
    """A BG/NBD or Gamma-Gamma fit failed or gave unusable parameters; the message says why.

    Raised instead of returning a number that cannot be trusted: no convergence,
    parameters running off to a boundary, too little data, or a Gamma-Gamma
    ``q <= 1`` (mean spend undefined).  ``at_bound`` names the parameters that
    ran off to the search boundary or that the data do not identify, if that
    was the reason; ``limits`` maps each of the latter to where the likelihood
    pulls it (``"0"`` or ``"∞"``).
    """

    def __init__(self, message: str, at_bound: tuple[str, ...] = (),
                 limits: dict[str, str] | None = None):
        super().__init__(message)
        self.at_bound = at_bound
        self.limits = limits or {}
