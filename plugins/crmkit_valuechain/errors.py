"""valuechain's errors."""

from crmkit.plugin import CRMError


class StageError(CRMError):
    """A stage cannot be completed: an earlier stage is open, or its own check is not met."""


class MissingCLV(CRMError):
    """No SSCs can be suggested from CLV: the analytical plugin has no predicted CLV (says why)."""
