"""relupgrade: a plugin with two releases, for the upgrade tests.

Release 1 creates ``relupgrade_notes`` (customer notes); release 2 adds a
``body_length`` column and fills it from the existing rows.  ``release2bad``
is a broken release 2 whose revision fails half-way (after altering the
table).  :data:`RELEASE` picks the release this "installed version" ships; a
test sets it to play the admin installing a new version over an old database.
"""

from __future__ import annotations

import os
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(name="relupgrade", description="Two releases of a schema.")

RELEASE = os.environ.get("RELUPGRADE_RELEASE", "release2")
"""The migrations folder of the installed release: release1, release2 or release2bad
(``RELUPGRADE_RELEASE`` in the environment of a child process)."""


@hookimpl
def crmkit_migrations():
    return Path(__file__).parent / RELEASE
