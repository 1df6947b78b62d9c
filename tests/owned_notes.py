"""A test plugin "notes" whose row-level rule lets an agent read only the notes they own."""

from __future__ import annotations

import types

import crmkit
from crmkit import hookimpl


def owned_notes_plugin(module_name: str) -> types.ModuleType:
    """A plugin module named ``module_name`` for plugin "notes": permission ``notes.read``,
    and a row-level rule by which an agent reads a note only when its resource is
    ``{"owner": their handle}`` (they are restricted on ``notes.read``; no other role is).
    The caller adds the hooks the test is about."""
    module = types.ModuleType(module_name)
    module.PLUGIN = crmkit.PluginInfo(name="notes", description="notes with owners")
    module.crmkit_permissions = hookimpl(lambda: {"notes.read": "Read notes."})
    module.crmkit_permission_allowed = hookimpl(lambda principal, permission, resource: (
        False if (permission == "notes.read" and principal.role == "agent"
                  and resource is not None and resource.get("owner") != principal.handle)
        else None))
    module.crmkit_permission_restricted = hookimpl(
        lambda principal, permission: permission == "notes.read" and principal.role == "agent")
    return module
