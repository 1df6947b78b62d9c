"""crmkit analytical plugin: RFM, CLV, lifecycle, retention, cohorts, satisfaction, funnel, KPIs.

All aggregation runs in SQL (SQLite and PostgreSQL); only the CLV model fits
pull per-customer summary arrays into numpy/scipy.  The public API is
``crm.plugin("analytical")`` (:class:`crmkit_analytical.api.Analytical`).
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="analytical",
    description="Analytical CRM: RFM, CLV (BG/NBD, Gamma-Gamma), lifecycle, retention, cohorts, "
                "NPS/CSAT/CES, funnel, Pareto, loyalty ladder, segments, KPIs.",
)

HERE = Path(__file__).parent


@hookimpl
def crmkit_config_schema():
    from crmkit.plugin import with_condition_schema

    return with_condition_schema(json.loads((HERE / "config.schema.json").read_text()))


@hookimpl
def crmkit_check_config(crm, config):
    from .configcheck import check

    check(config)


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import ALL

    return list(ALL)


@hookimpl
def crmkit_event_types():
    return {"lifecycle.changed": "a customer's stored lifecycle stage changed "
                                 "(payload: from, to, as_of)"}


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    from .surveys import problems

    return problems(ctx.config, rows)


@hookimpl
def crmkit_enrich_interactions(ctx, rows):
    from .surveys import normalise

    normalise(ctx.config, rows)


@hookimpl
def crmkit_sweep(ctx):
    from .lifecycle import update

    if not ctx.config["lifecycle"]["update_on_sweep"]:
        return None
    result = update(ctx, ctx.config, ctx.now())
    return {"lifecycle_changes": result.changed}


@hookimpl
def crmkit_cli():
    from .cli import group

    return group


@hookimpl
def crmkit_plugin_api(crm):
    from .api import Analytical

    return Analytical(crm)


@hookimpl
def crmkit_timeline(ctx, customer_id, limit):
    from .dataservices import timeline

    return timeline(ctx, customer_id, limit)


@hookimpl
def crmkit_merge_customers(ctx, keep_id, duplicate_id):
    from .dataservices import merge

    merge(ctx, keep_id, duplicate_id)


@hookimpl
def crmkit_export_customer(ctx, customer_id):
    from .dataservices import export

    return export(ctx, customer_id)


@hookimpl
def crmkit_erase_customer(ctx, customer_id):
    from .dataservices import erase

    erase(ctx, customer_id)


@hookimpl
def crmkit_demo(crm, rng):
    from .demo import run

    return run(crm, rng)


@hookimpl
def crmkit_demo_refresh(crm):
    from .demo import refresh

    return refresh(crm)


@hookimpl
def crmkit_customer_card(crm, principal, customer):
    from .card import card

    return card(crm, principal, customer)
