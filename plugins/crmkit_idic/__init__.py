"""idic: identify, differentiate, interact, customise (Peppers & Rogers).

Requires the analytical plugin (customer values come from its public API).
Heavy imports (rapidfuzz, phonenumbers, SQL modules) wait inside the hooks.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="idic",
    description="IDIC: duplicate detection, value/needs groups, contact plans, treatments with holdouts.",
    requires=("analytical",),
    api="IdicAPI",
    parts=("cli", "config", "settings", "migrations", "tables", "dataservices", "demo", "routes",
           "card", "locale"),
)


@hookimpl
def crmkit_event_types():
    return {
        "idic.group_changed": "a customer's value group changed in a differentiation run",
        "idic.dialogue_recorded": "a dialogue with a customer was recorded under a contact plan",
        "idic.treatment_started": "a treatment started for a group (payload: treatment, group)",
    }


@hookimpl
def crmkit_customer_schema(config):
    return {"properties": {config.get("cost_attribute", "service_cost"): {
        "type": "number", "minimum": 0,
        "description": "Extra cost to serve this customer (idic), in currency units."}}}
