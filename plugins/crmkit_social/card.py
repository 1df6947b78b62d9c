"""The social card of the customer 360 page: linked handles and the sentiment of mentions."""

from __future__ import annotations

import collections

from crmkit.plugin import Card, format_date, gettext as _

RECENT_MENTIONS = 50
"""How many of the customer's newest mentions the sentiment counts cover."""


def card(crm, principal, customer) -> Card:
    """Linked handles (shown to members allowed ``customers.pii`` on this customer) and the
    sentiment labels of the customer's newest mentions."""
    api = crm.plugin("social")
    external_id = customer["external_id"]
    rows: list[tuple[str, str]] = []
    identities = api.identities(external_id)
    if crm.auth.allowed(principal, "customers.pii", customer):
        for identity in identities:
            rows.append((identity["platform"], identity["handle"]))
    else:
        rows.append((_("Handles"), _("{count} linked (hidden: personal data)").format(
            count=len(identities))))
    mentions = api.mentions(customer=external_id, limit=RECENT_MENTIONS)
    labels = collections.Counter(m.label for m in mentions)
    rows.append((_("Mentions"), _("{count} (newest {limit})").format(
        count=len(mentions), limit=RECENT_MENTIONS) if len(mentions) == RECENT_MENTIONS
        else str(len(mentions))))
    for label, count in sorted(labels.items(), key=lambda item: (-item[1], str(item[0]))):
        rows.append((_("Sentiment: {label}").format(label=label or _("unscored")), str(count)))
    if mentions:
        newest = mentions[0]
        rows.append((_("Latest mention"), _("{date} on {platform}, {label}").format(
            date=format_date(newest.posted_at), platform=newest.platform,
            label=newest.label or _("unscored"))))
    return Card(_("Social"), rows)
