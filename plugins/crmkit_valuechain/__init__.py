"""valuechain: Buttle's CRM value chain — five primary stages in order, supporting conditions.

Requires the analytical plugin (SSC suggestions come from its predicted CLV).
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="valuechain",
    description="Buttle's CRM value chain: SSCs, intimacy, network, propositions, lifecycle; conditions.",
    requires=("analytical",),
    api="ValueChainAPI",
    parts=("cli", "config", "migrations", "tables", "dataservices", "demo", "routes", "card",
           "locale"),
)


@hookimpl
def crmkit_event_types():
    return {
        "valuechain.ssc_marked": "a customer was marked strategically significant (reasons, group)",
        "valuechain.stage_completed": "a primary stage of the value chain was completed",
        "valuechain.stage_reopened": "value-chain stages were reopened",
    }
