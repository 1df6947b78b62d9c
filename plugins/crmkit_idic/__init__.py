"""idic: identify, differentiate, interact, customise (Peppers & Rogers).

Requires the analytical plugin (customer values come from its public API).
Heavy imports (rapidfuzz, phonenumbers, SQL modules) wait inside the hooks.
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="idic",
    description="IDIC: duplicate detection, value/needs groups, contact plans, treatments with holdouts.",
    requires=("analytical",),
)

HERE = Path(__file__).parent


@hookimpl
def crmkit_config_schema():
    from crmkit.plugin import with_condition_schema

    return with_condition_schema(json.loads((HERE / "config.schema.json").read_text()))


@hookimpl
def crmkit_check_config(crm, config):
    from crmkit.plugin import ConfigError

    from .customise import group_names
    from .differentiate import VALUE_GROUPS
    from .needs import check

    check(config["needs_groups"])
    for index, group in enumerate(config["needs_groups"]):
        if group["name"] in VALUE_GROUPS:
            raise ConfigError(f"/needs_groups/{index}/name: {group['name']!r} is a value group "
                              f"name (value groups: {', '.join(VALUE_GROUPS)})")
    known = group_names(config)
    for name in config["contact_plans"]:
        if name not in known:
            raise ConfigError(f"/contact_plans/{name}: not a group (allowed: {', '.join(known)})")
    if config["mvc_share"] + config["mgc_share"] > 1:
        raise ConfigError("/mgc_share: mvc_share + mgc_share must not exceed 1")


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
        "idic.group_changed": "a customer's value group changed in a differentiation run",
        "idic.dialogue_recorded": "a dialogue with a customer was recorded under a contact plan",
        "idic.treatment_started": "a treatment started for a group (payload: treatment, group)",
    }


@hookimpl
def crmkit_customer_schema(config):
    return {"properties": {config.get("cost_attribute", "service_cost"): {
        "type": "number", "minimum": 0,
        "description": "Extra cost to serve this customer (idic), in currency units."}}}


@hookimpl
def crmkit_cli():
    from .cli import group

    return group


@hookimpl
def crmkit_plugin_api(crm):
    from .api import IdicAPI

    return IdicAPI(crm)


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
