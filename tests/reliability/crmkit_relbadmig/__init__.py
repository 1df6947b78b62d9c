"""relbadmig: a plugin whose second migration fails half-way (after creating and filling a table)."""

from __future__ import annotations

from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(name="relbadmig", description="Its migration 0002 fails half-way.")


@hookimpl
def crmkit_migrations():
    return Path(__file__).parent / "migrations"
