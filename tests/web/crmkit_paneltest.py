"""A local test plugin whose dashboard panels fail (a bug in the plugin)."""

from __future__ import annotations

import crmkit

PLUGIN = crmkit.PluginInfo(name="paneltest", description="Failing panels for the web app tests.")


@crmkit.hookimpl
def crmkit_dashboard_panels(crm, principal, as_of):
    raise RuntimeError("a bug in the panels")
