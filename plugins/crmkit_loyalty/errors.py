"""The loyalty plugin's own errors (each a CRMError: one line and a non-zero exit in the CLI)."""

from crmkit.plugin import CRMError


class NotEnoughPoints(CRMError):
    """A redemption or deduction asked for more points than the member can spend."""


class OutOfStock(CRMError):
    """The reward has no stock left."""
