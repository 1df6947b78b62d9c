"""Summary cards on the customer 360 page: what each enabled plugin knows about a customer.

A plugin implements ``crmkit_customer_card(crm, principal, customer)`` and returns a
:class:`Card` (or None: nothing to show for this customer).  The page renders every card in
an element ``data-panel="<plugin name>"``, with every value shown as text (autoescaped).
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

import attrs

from ..errors import CRMError
from ..i18n import gettext

log = logging.getLogger("crmkit.web")


def _rows(value: Any) -> tuple[tuple[str, str], ...]:
    rows = []
    for row in value:
        label, shown = row
        rows.append((str(label), "" if shown is None else str(shown)))
    return tuple(rows)


@attrs.frozen
class Card:
    """One plugin's summary of a customer: a title and rows of (label, value), shown as text.

    ``rows`` values are converted to text (None shows empty); ``note`` is an optional line
    under the rows (``"not a loyalty member"``).
    """

    title: str = attrs.field(converter=str)
    rows: tuple[tuple[str, str], ...] = attrs.field(converter=_rows, factory=tuple)
    note: str | None = None


@attrs.frozen
class ShownCard:
    """A card as the 360 page shows it: the plugin it comes from, and its card or the
    problem that kept it from being drawn."""

    plugin: str
    card: Card | None
    problem: str | None = None


def readable_answers(crm, hook: str, principal, arguments: dict[str, Any],
                     resource: dict[str, Any] | None = None, only: str | None = None
                     ) -> Iterator[tuple[str, Any, CRMError | None]]:
    """Each enabled plugin's answer to the web hook ``hook`` (called with ``arguments``), in
    plugin order (``only``'s when given), asked only when ``principal`` holds
    ``<plugin>.read`` (on ``resource``): ``(plugin, answer, None)``, or
    ``(plugin, None, error)`` when the hook raised a CRMError."""
    for name, _, _ in crm.hooks.impls(hook):
        if only is not None and name != only:
            continue
        if not crm.auth.allowed(principal, f"{name}.read", resource):
            continue
        try:
            yield name, crm.hooks.call_one(name, hook, None, **arguments), None
        except CRMError as exc:
            yield name, None, exc


def customer_cards(crm, principal, customer: dict[str, Any]) -> list[ShownCard]:
    """Every enabled plugin's card for ``customer`` (the customer document as the principal
    may see it), in plugin order.

    A plugin's card is asked for only when the principal holds ``<plugin>.read`` (on this
    customer); a plugin that fails, or returns something that is not a :class:`Card`,
    gets a card saying so (its error logged) and the other cards are still shown.
    """
    shown = []
    failed = gettext("this card could not be shown (the server logged why)")
    arguments = {"crm": crm, "principal": principal, "customer": customer}
    for name, card, error in readable_answers(crm, "crmkit_customer_card", principal, arguments,
                                              resource=customer):
        if error is not None:
            log.error("plugin %r: its customer card failed: %s", name, error)
            shown.append(ShownCard(name, None, failed))
            continue
        if card is None:
            continue
        if not isinstance(card, Card):
            log.error("plugin %r: crmkit_customer_card returned %s, not a crmkit.plugin.Card",
                      name, type(card).__name__)
            shown.append(ShownCard(name, None, failed))
            continue
        shown.append(ShownCard(name, card))
    return shown


__all__ = ["Card", "ShownCard", "customer_cards", "readable_answers"]
