"""A local test plugin whose routes cannot be mounted (an invalid body schema)."""

from __future__ import annotations

import crmkit
from crmkit.plugin import Endpoint

PLUGIN = crmkit.PluginInfo(name="webbroken", description="Routes that cannot be mounted.")


@crmkit.hookimpl
def crmkit_routes(crm):
    return [
        Endpoint("GET", "fine", lambda call: {"ok": True}, "customers.read", "A fine route."),
        Endpoint("POST", "bad", lambda call: None, "customers.write", "A bad schema.",
                 body_schema={"type": "no-such-type"}),
    ]
