"""operational: lead-to-cash funnel, lead scoring, assignment, tasks, service cases, automation.

Hook implementations only; the work lives in the sibling modules, imported
when a hook first runs so that ``crmkit --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="operational",
    description="Funnel and weighted pipeline, lead scoring, assignment, tasks, service cases "
                "with SLAs, automation rules.",
)

HERE = Path(__file__).parent


@hookimpl
def crmkit_config_schema():
    from crmkit.plugin import with_condition_schema

    return with_condition_schema(json.loads((HERE / "config.schema.json").read_text()))


@hookimpl
def crmkit_check_config(crm, config):
    from .checks import check_config

    check_config(crm, config)


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import ALL

    return list(ALL)


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


@hookimpl
def crmkit_cli():
    from .cli import group

    return group


@hookimpl
def crmkit_plugin_api(crm):
    from .api import OperationalAPI

    return OperationalAPI(crm)


@hookimpl
def crmkit_timeline(ctx, customer_id, limit):
    from .privacy import timeline

    return timeline(ctx, customer_id, limit)


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    from .privacy import merge

    merge(ctx, keep_id, duplicate_id)


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    from .privacy import export

    return export(ctx, customer_id)


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    from .privacy import erase

    erase(ctx, customer_id)


@hookimpl
def crmkit_demo(crm, rng):
    from .demo import run

    return run(crm, rng)


@hookimpl
def crmkit_customer_card(crm, principal, customer):
    from .card import card

    return card(crm, principal, customer)
