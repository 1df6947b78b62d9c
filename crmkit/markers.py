"""The pluggy markers: ``hookspec`` for the core, ``hookimpl`` for plugins."""

import pluggy

PROJECT = "crmkit"

hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a hook specification in :mod:`crmkit.hookspecs`."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's hook implementation: ``@crmkit.hookimpl``."""


__all__ = ["PROJECT", "hookspec", "hookimpl"]
