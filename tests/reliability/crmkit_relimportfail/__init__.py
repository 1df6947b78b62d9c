"""relimportfail: a plugin that fails to import while ``RELIMPORTFAIL=1`` is in the environment.

The suite installs it through an entry point (a dist-info folder written into a
temporary directory on ``PYTHONPATH``), exactly as a vendor's wheel would be.
"""

from __future__ import annotations

import os

import crmkit
from crmkit import hookimpl

if os.environ.get("RELIMPORTFAIL"):
    raise ImportError("relimportfail cannot import: RELIMPORTFAIL is set")

PLUGIN = crmkit.PluginInfo(name="relimportfail", description="Fails to import on demand.")


@hookimpl
def crmkit_react_interactions(ctx, batch):
    """Nothing to do: the plugin exists to be broken."""
