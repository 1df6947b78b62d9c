"""valuechain's errors."""

from crmkit.plugin import CRMError


class StageError(CRMError):
    """A stage cannot be completed: an earlier stage is open, or its own check is not met."""
