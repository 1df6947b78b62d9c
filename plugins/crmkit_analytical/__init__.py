"""crmkit analytical plugin: RFM, CLV, lifecycle, retention, cohorts, satisfaction, funnel, KPIs.

All aggregation runs in SQL (SQLite and PostgreSQL); only the CLV model fits
pull per-customer summary arrays into numpy/scipy.  The public API is
``crm.plugin("analytical")`` (:class:`crmkit_analytical.api.AnalyticalAPI`).
"""

from __future__ import annotations

import crmkit
from crmkit import hookimpl

PLUGIN = crmkit.PluginInfo(
    name="analytical",
    description="Analytical CRM: RFM, CLV (BG/NBD, Gamma-Gamma), lifecycle, retention, cohorts, "
                "NPS/CSAT/CES, funnel, Pareto, loyalty ladder, segments, KPIs.",
    payload_keys=("nps", "csat", "ces", "sku", "category"),
    api="AnalyticalAPI",
    parts=("cli", "config", "settings", "migrations", "tables", "dataservices", "demo", "routes",
           "card", "dashboard", "locale"),
)


@hookimpl
def crmkit_event_types():
    return {"lifecycle.changed": "a customer's stored lifecycle stage changed "
                                 "(payload: from, to, as_of)"}


@hookimpl
def crmkit_validate_interactions(ctx, rows):
    from .settings import settings_of
    from .surveys import problems

    return problems(settings_of(ctx), rows)


@hookimpl
def crmkit_enrich_interactions(ctx, rows):
    from .settings import settings_of
    from .surveys import normalise

    normalise(settings_of(ctx), rows)


@hookimpl
def crmkit_sweep_prepare(crm, as_of):
    from .sweep import prepare

    return prepare(crm, as_of)


@hookimpl
def crmkit_sweep(ctx, prepared):
    from .sweep import write

    return write(ctx, prepared)
