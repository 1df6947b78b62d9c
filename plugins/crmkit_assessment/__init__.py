"""assessment: the CRM capability assessment — questionnaire, scores, band, gaps, history.

It holds no customer data (answers are about the organisation), so it takes no
part in merge, export or erase.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="assessment",
    description="CRM capability assessment: scores, band, gaps mapped to crmkit modules, history.",
    after=("*",),  # its evidence reads what the other plugins hold
    api="AssessmentAPI",
    parts=("cli", "config", "settings", "migrations", "tables", "demo", "routes"),
)


@hookimpl
def crmkit_event_types():
    return {"assessment.completed": "a capability assessment was taken (overall score, band)"}
