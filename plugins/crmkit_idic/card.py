"""The IDIC card of the customer 360 page: value group and progress through the four steps."""

from __future__ import annotations

from crmkit.plugin import Card, gettext as _


def card(crm, principal, customer) -> Card:
    """The customer's value group (latest differentiation run) and IDIC steps reached."""
    api = crm.plugin("idic")
    external_id = customer["external_id"]
    progress = api.progress(external_id)
    steps = [(_("Identified"), progress.identified),
             (_("Differentiated"), progress.differentiated),
             (_("Interacted"), progress.interacted), (_("Customised"), progress.customised)]
    rows = [(_("Value group"), api.group_of(external_id) or _("not differentiated yet")),
            (_("Progress"), _("{score} of 4 steps").format(score=progress.score))]
    rows += [(name, _("✓ yes") if reached else _("✗ no")) for name, reached in steps]
    return Card(_("IDIC"), rows)
