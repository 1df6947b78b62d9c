"""valuechain: Buttle's CRM value chain — five primary stages in order, supporting conditions.

Requires the analytical plugin (SSC suggestions come from its predicted CLV).
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="valuechain",
    description="Buttle's CRM value chain: SSCs, intimacy, network, propositions, lifecycle; conditions.",
    requires=("analytical",),
)

HERE = Path(__file__).parent


@hookimpl
def crmkit_config_schema():
    return json.loads((HERE / "config.schema.json").read_text())


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import ALL

    return list(ALL)


@hookimpl
def crmkit_event_types():
    return {
        "valuechain.ssc_marked": "a customer was marked strategically significant (reasons, group)",
        "valuechain.stage_completed": "a primary stage of the value chain was completed",
        "valuechain.stage_reopened": "value-chain stages were reopened",
    }


@hookimpl
def crmkit_cli():
    from .cli import group

    return group


@hookimpl
def crmkit_plugin_api(crm):
    from .api import ValueChainAPI

    return ValueChainAPI(crm)


@hookimpl
def crmkit_timeline(ctx, customer_id, limit):
    from .data import timeline

    return timeline(ctx, customer_id, limit)


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    from .data import merge

    merge(ctx, keep_id, duplicate_id)


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    from .data import export

    return export(ctx, customer_id)


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    from .data import erase

    erase(ctx, customer_id)


@hookimpl
def crmkit_demo(crm, rng):
    from .demo import run

    return run(crm, rng)


@hookimpl
def crmkit_customer_card(crm, principal, customer):
    from .card import card

    return card(crm, principal, customer)
