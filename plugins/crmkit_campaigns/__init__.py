"""campaigns: marketing campaigns planned for a segment, delivered over channels, measured.

A campaign names its audience (an analytical saved segment, or a condition in
the segments' condition language), its channel, a message template (sandboxed
Jinja2 over the customer's fields), A/B variants, a random holdout and its
costs.  ``crmkit campaigns run`` plans the recipients set-based: consent and
preferred channel, frequency caps, holdout and variants, with a reason for
every recipient skipped; the worker renders due recipients into the core's
outbox (``messages``), which the channels (email over SMTP, a signed webhook)
deliver.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

from .channels import crmkit_channels  # noqa: F401  (the email and webhook channels)

PLUGIN = crmkit.PluginInfo(
    name="campaigns",
    description="Marketing campaigns: segment or condition audiences, consent and frequency "
                "caps, A/B variants, holdout, email and webhook delivery.",
    after=("analytical", "collaborative"),
    api="CampaignsAPI",
    parts=("cli", "config", "migrations", "tables", "dataservices", "demo", "routes"),
)


@hookimpl
def crmkit_worker_jobs(crm):
    """``campaigns.render``: plan due scheduled campaigns, render due recipients into messages."""
    from .rendering import jobs

    return jobs(crm)
