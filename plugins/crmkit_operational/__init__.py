"""operational: lead-to-cash funnel, lead scoring, assignment, tasks, service cases, automation.

Hook implementations only; the work lives in the sibling modules, imported
when a hook first runs so that ``crmkit --help`` stays fast.
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="operational",
    description="Funnel and weighted pipeline, lead scoring, assignment, tasks, service cases "
                "with SLAs, automation rules.",
    payload_keys=("priority",),
    api="OperationalAPI",
    parts=("cli", "config", "settings", "migrations", "tables", "dataservices", "demo", "routes",
           "card", "dashboard", "pages", "work", "locale"),
)


@hookimpl
def crmkit_event_types():
    from .catalogue import EVENT_TYPES

    return dict(EVENT_TYPES)


@hookimpl
def crmkit_react_customers(ctx, batch):
    from .reactions import new_customers

    new_customers(ctx, batch)


@hookimpl
def crmkit_react_interactions(ctx, batch):
    from .reactions import new_interactions

    new_interactions(ctx, batch)


@hookimpl
def crmkit_on_events(ctx, events):
    from .reactions import events as react

    react(ctx, events)


@hookimpl
def crmkit_sweep(ctx):
    from .reactions import sweep

    return sweep(ctx)
