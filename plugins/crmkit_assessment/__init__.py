"""assessment: the CRM capability assessment — questionnaire, scores, band, gaps, history.

It holds no customer data (answers are about the organisation), so it takes no
part in merge, export or erase.
"""

from __future__ import annotations

import json
from pathlib import Path

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="assessment",
    description="CRM capability assessment: scores, band, gaps mapped to crmkit modules, history.",
    after=("*",),  # its evidence reads what the other plugins hold
)

HERE = Path(__file__).parent


@hookimpl
def crmkit_config_schema():
    return json.loads((HERE / "config.schema.json").read_text())


@hookimpl
def crmkit_check_config(crm, config):
    from crmkit.plugin import ConfigError

    from .questionnaire import BY_KEY

    if config["cutoffs"]["average"] >= config["cutoffs"]["leading"]:
        raise ConfigError("/cutoffs/leading: must be above cutoffs/average "
                          f"({config['cutoffs']['average']})")
    for key in config["gap_modules"]:
        if key not in BY_KEY:
            raise ConfigError(f"/gap_modules/{key}: not a questionnaire item "
                              f"(allowed: {', '.join(BY_KEY)})")


@hookimpl
def crmkit_migrations():
    return HERE / "migrations"


@hookimpl
def crmkit_tables():
    from .tables import ALL

    return list(ALL)


@hookimpl
def crmkit_event_types():
    return {"assessment.completed": "a capability assessment was taken (overall score, band)"}


@hookimpl
def crmkit_cli():
    from .cli import group

    return group


@hookimpl
def crmkit_plugin_api(crm):
    from .api import AssessmentAPI

    return AssessmentAPI(crm)


@hookimpl
def crmkit_demo(crm, rng):
    from .demo import run

    return run(crm, rng)


@hookimpl
def crmkit_routes(crm):
    from .routes import endpoints

    return endpoints()


@hookimpl
def crmkit_permissions():
    from .routes import PERMISSIONS

    return dict(PERMISSIONS)
