"""The plugin surface: everything a crmkit plugin may import, in one place.

A plugin (built-in or a vendor's) imports from ``crmkit`` (the application
API: ``CRM``, ``hookimpl``, the models) and from this module, never from
another ``crmkit.*`` module; ``tests/test_plugin_surface.py`` enforces it for
the built-in plugins and the template.  Every name here is described in the
"The plugin surface" section of docs/plugin-author-guide.md.  Test fixtures
(``crm``, ``crm_url``, ``clock``) come from ``crmkit.devtools.testing``, a pytest plugin.

Names are imported lazily (as in ``crmkit``), so importing this module from a
plugin's ``__init__`` costs nothing until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_LAZY: dict[str, tuple[str, str]] = {
    # Hooks, contexts and models.
    "hookimpl": ("crmkit.markers", "hookimpl"),
    "HookContext": ("crmkit.transaction", "HookContext"),
    "Transaction": ("crmkit.transaction", "Transaction"),
    "PluginInfo": ("crmkit.models", "PluginInfo"),
    "TimelineEntry": ("crmkit.models", "TimelineEntry"),
    "Batch": ("crmkit.models", "Batch"),
    "CustomerDelta": ("crmkit.deltas", "CustomerDelta"),
    "Customer": ("crmkit.models", "Customer"),
    "Interaction": ("crmkit.models", "Interaction"),
    "Staff": ("crmkit.models", "Staff"),
    "Event": ("crmkit.models", "Event"),
    "EventType": ("crmkit.models", "EventType"),
    "WriteResult": ("crmkit.models", "WriteResult"),
    "ApiToken": ("crmkit.models", "ApiToken"),
    "INTERACTION_RECORDED": ("crmkit.models", "INTERACTION_RECORDED"),
    # Roles and permissions.
    "Principal": ("crmkit.auth", "Principal"),
    "CORE_PERMISSIONS": ("crmkit.auth", "CORE_PERMISSIONS"),
    "PII_FIELDS": ("crmkit.auth", "PII_FIELDS"),
    "MASK": ("crmkit.auth", "MASK"),
    "consent_channel": ("crmkit.services.consent", "consent_channel"),
    # Errors.
    "CRMError": ("crmkit.errors", "CRMError"),
    "ValidationError": ("crmkit.errors", "ValidationError"),
    "ConfigError": ("crmkit.errors", "ConfigError"),
    "PluginError": ("crmkit.errors", "PluginError"),
    "NotFound": ("crmkit.errors", "NotFound"),
    "ConflictError": ("crmkit.errors", "ConflictError"),
    "PreconditionFailed": ("crmkit.errors", "PreconditionFailed"),
    "ConsentError": ("crmkit.errors", "ConsentError"),
    "DatabaseError": ("crmkit.errors", "DatabaseError"),
    "Unauthenticated": ("crmkit.errors", "Unauthenticated"),
    "PermissionDenied": ("crmkit.errors", "PermissionDenied"),
    "MissingExtra": ("crmkit.errors", "MissingExtra"),
    "raise_problems": ("crmkit.pipeline", "raise_problems"),
    "ONE_RECORD": ("crmkit.pipeline", "ONE_RECORD"),
    "drop_repeats": ("crmkit.pipeline", "drop_repeats"),
    "record_fits": ("crmkit.pipeline", "record_fits"),
    # Core tables.
    "NAMING": ("crmkit.tables", "NAMING"),
    "customers": ("crmkit.tables", "customers"),
    "interactions": ("crmkit.tables", "interactions"),
    "staff": ("crmkit.tables", "staff"),
    "events": ("crmkit.tables", "events"),
    "consents": ("crmkit.tables", "consents"),
    "messages": ("crmkit.tables", "messages"),
    # Column types, money and JSON.
    "Money": ("crmkit.types", "Money"),
    "UTCDateTime": ("crmkit.types", "UTCDateTime"),
    "JSONType": ("crmkit.types", "JSONType"),
    "BigIdType": ("crmkit.types", "BigIdType"),
    "MONEY_SCALE": ("crmkit.types", "MONEY_SCALE"),
    "MONEY_LIMIT": ("crmkit.types", "MONEY_LIMIT"),
    "money_units": ("crmkit.types", "money_units"),
    "money_from_units": ("crmkit.types", "money_from_units"),
    "to_money": ("crmkit.types", "to_money"),
    "condition_money": ("crmkit.types", "condition_money"),
    "to_currency": ("crmkit.types", "to_currency"),
    "parse_json": ("crmkit.types", "parse_json"),
    "json_problem": ("crmkit.types", "json_problem"),
    "json_pointer": ("crmkit.types", "json_pointer"),
    "MAX_JSON_DEPTH": ("crmkit.types", "MAX_JSON_DEPTH"),
    # Free-text limits (the core configuration's max_field_length).
    "text_limit": ("crmkit.types", "text_limit"),
    "tag_problem": ("crmkit.types", "tag_problem"),
    # A purchase's line items.
    "LineItem": ("crmkit.line_items", "LineItem"),
    "amount_units": ("crmkit.line_items", "amount_units"),
    "line_total_units": ("crmkit.line_items", "line_total_units"),
    "line_item_problems": ("crmkit.line_items", "line_item_problems"),
    "times_units": ("crmkit.line_items", "times_units"),
    # Time.
    "UTC": ("crmkit.clock", "UTC"),
    "Clock": ("crmkit.clock", "Clock"),
    "SystemClock": ("crmkit.clock", "SystemClock"),
    "FixedClock": ("crmkit.clock", "FixedClock"),
    "ensure_utc": ("crmkit.clock", "ensure_utc"),
    "parse_timestamp": ("crmkit.clock", "parse_timestamp"),
    "utc_in_range": ("crmkit.clock", "utc_in_range"),
    "out_of_range": ("crmkit.clock", "out_of_range"),
    # Portable SQL and bulk writes.
    "PortableExpression": ("crmkit.db", "PortableExpression"),
    "days_between": ("crmkit.db", "days_between"),
    "month_number": ("crmkit.db", "month_number"),
    "day_number": ("crmkit.db", "day_number"),
    "day_key": ("crmkit.db", "day_key"),
    "next_day_start": ("crmkit.db", "next_day_start"),
    "json_number": ("crmkit.db", "json_number"),
    "json_text": ("crmkit.db", "json_text"),
    "add_months": ("crmkit.db", "add_months"),
    "add_days": ("crmkit.db", "add_days"),
    "at_least_zero": ("crmkit.db", "at_least_zero"),
    "json_array_contains": ("crmkit.db", "json_array_contains"),
    "lowercase": ("crmkit.db", "lowercase"),
    "allocate_ids": ("crmkit.db", "allocate_ids"),
    # A plugin's API object and typed settings.
    "PluginAPI": ("crmkit.plugin_base", "PluginAPI"),
    "typed_settings": ("crmkit.plugin_base", "typed_settings"),
    "where_given": ("crmkit.db", "where_given"),
    "insert_rows": ("crmkit.bulk", "insert_rows"),
    "insert_new": ("crmkit.bulk", "insert_new"),
    "update_rows": ("crmkit.bulk", "update_rows"),
    "driver_value": ("crmkit.bulk", "driver_value"),
    # Configuration and the condition language.
    "validate_config": ("crmkit.config", "validate"),
    "schema_validator": ("crmkit.config", "schema_validator"),
    "is_timezone": ("crmkit.config", "is_timezone"),
    "with_condition_schema": ("crmkit.condition_schema", "with_condition_schema"),
    "check_condition": ("crmkit.conditions", "check"),
    "evaluate_condition": ("crmkit.conditions", "evaluate"),
    "condition_to_sql": ("crmkit.conditions", "to_sql"),
    "CUSTOMER_FIELDS": ("crmkit.condition_sql", "CUSTOMER_FIELDS"),
    "customer_condition": ("crmkit.condition_sql", "customer_condition"),
    "customer_field": ("crmkit.condition_sql", "customer_field"),
    "customer_test": ("crmkit.condition_sql", "customer_test"),
    "is_customer_field": ("crmkit.condition_sql", "is_customer_field"),
    "column_test": ("crmkit.condition_sql", "column_test"),
    "JsonPath": ("crmkit.condition_sql", "JsonPath"),
    # Reading CSV and JSON-lines files.
    "SourceFile": ("crmkit.services.records", "SourceFile"),
    "ImportReport": ("crmkit.services.importing", "ImportReport"),
    "ImportRejected": ("crmkit.services.importing", "ImportRejected"),
    "checked_import": ("crmkit.services.importing", "checked_import"),
    "file_format": ("crmkit.services.records", "file_format"),
    "unneutralise": ("crmkit.services.records", "unneutralise"),
    "MAX_LINE_BYTES": ("crmkit.services.records", "MAX_LINE_BYTES"),
    # Sentiment of free text, by language.
    "Sentiment": ("crmkit.sentiment", "Sentiment"),
    "SentimentAnalyser": ("crmkit.sentiment", "SentimentAnalyser"),
    "detect_language": ("crmkit.sentiment", "detect_language"),
    "score_texts": ("crmkit.sentiment", "score_texts"),
    # Deferred work (crmkit worker) and webhooks.
    "Job": ("crmkit.worker", "Job"),
    "WorkContext": ("crmkit.worker", "WorkContext"),
    "claim_due": ("crmkit.worker", "claim_due"),
    "webhook_headers": ("crmkit.webhooks", "delivery_headers"),
    "check_webhook_destination": ("crmkit.webhooks", "check_destination"),
    "webhook_networks_narrowed": ("crmkit.webhooks", "networks_narrowed"),
    "masked_url": ("crmkit.webhooks", "masked_url"),
    "Poster": ("crmkit.outbound", "Poster"),
    "PostFailed": ("crmkit.outbound", "PostFailed"),
    "Deadline": ("crmkit.outbound", "Deadline"),
    "resolve_host": ("crmkit.outbound", "resolve"),
    # Outgoing messages and their channels (the crmkit_channels hook).
    "Outgoing": ("crmkit.messaging", "Outgoing"),
    "ADDRESSED_BY": ("crmkit.messaging", "ADDRESSED_BY"),
    "customer_address": ("crmkit.messaging", "customer_address"),
    "outgoing_problems": ("crmkit.messaging", "outgoing_problems"),
    "Channel": ("crmkit.messaging", "Channel"),
    "Sending": ("crmkit.messaging", "Sending"),
    "SendResult": ("crmkit.messaging", "SendResult"),
    # HTTP endpoints (the crmkit_routes hook).
    "Endpoint": ("crmkit.web.endpoints", "Endpoint"),
    "Call": ("crmkit.web.endpoints", "Call"),
    "Reply": ("crmkit.web.endpoints", "Reply"),
    "closed_object": ("crmkit.web.schemas", "closed_object"),
    "timestamp_or_none": ("crmkit.web.schemas", "timestamp_or_none"),
    "record_id": ("crmkit.web.schemas", "record_id"),
    "TEXT": ("crmkit.web.schemas", "TEXT"),
    "OPTIONAL_TEXT": ("crmkit.web.schemas", "OPTIONAL_TEXT"),
    "INSTANT": ("crmkit.web.schemas", "INSTANT"),
    "OPTIONAL_INSTANT": ("crmkit.web.schemas", "OPTIONAL_INSTANT"),
    "INTEGER": ("crmkit.web.schemas", "INTEGER"),
    "NUMBER": ("crmkit.web.schemas", "NUMBER"),
    "OPTIONAL_NUMBER": ("crmkit.web.schemas", "OPTIONAL_NUMBER"),
    "DECIMAL": ("crmkit.web.schemas", "DECIMAL"),
    "AS_OF_INSTANT": ("crmkit.web.schemas", "AS_OF_INSTANT"),
    # Per-customer reports answered a page at a time.
    "ReportPage": ("crmkit.web.reports", "ReportPage"),
    "report_query": ("crmkit.web.reports", "report_query"),
    "report_page_schema": ("crmkit.web.reports", "report_page_schema"),
    "REPORT_PAGE": ("crmkit.web.reports", "REPORT_PAGE"),
    # Listings answered a page at a time, by a unique text key.
    "KeyedPage": ("crmkit.web.reports", "KeyedPage"),
    "keyed_query": ("crmkit.web.reports", "keyed_query"),
    "text_key": ("crmkit.web.reports", "text_key"),
    "id_key": ("crmkit.web.reports", "id_key"),
    # Web app cards (the crmkit_customer_card hook).
    "Card": ("crmkit.web.cards", "Card"),
    # Web app dashboards (the crmkit_dashboard_panels hook).
    "Panel": ("crmkit.web.panels", "Panel"),
    # Web app pages (the crmkit_web_pages hook).
    "Site": ("crmkit.web.plugin_pages", "Site"),
    "WebPage": ("crmkit.web.plugin_pages", "WebPage"),
    "WebPages": ("crmkit.web.plugin_pages", "WebPages"),
    # The web app's My work page (the crmkit_my_work hook).
    "WorkSection": ("crmkit.web.mywork", "WorkSection"),
    "countdown": ("crmkit.web.mywork", "countdown"),
    # Translation into the current web request's language (the plugin part "locale").
    "N_": ("crmkit.i18n", "N_"),
    "gettext": ("crmkit.i18n", "gettext"),
    "ngettext": ("crmkit.i18n", "ngettext"),
    "current_locale": ("crmkit.i18n", "current_locale"),
    "translating": ("crmkit.i18n", "translating"),
    "format_number": ("crmkit.web.formatting", "format_number"),
    "format_money": ("crmkit.web.formatting", "format_money"),
    "format_datetime": ("crmkit.web.formatting", "format_datetime"),
    "format_date": ("crmkit.web.formatting", "format_date"),
    # Command-line helpers.
    "State": ("crmkit.cli.common", "State"),
    "pass_state": ("crmkit.cli.common", "pass_state"),
    "format_option": ("crmkit.cli.common", "format_option"),
    "as_of_option": ("crmkit.cli.common", "as_of_option"),
    "limit_option": ("crmkit.cli.common", "limit_option"),
    "resolve_as_of": ("crmkit.cli.common", "resolve_as_of"),
    "output": ("crmkit.cli.common", "output"),
    "output_rows": ("crmkit.cli.common", "output_rows"),
    "output_document": ("crmkit.cli.common", "output_document"),
    "jsonable": ("crmkit.models", "jsonable"),
    "load_json_file": ("crmkit.cli.common", "load_json_file"),
    "edited_config": ("crmkit.cli.common", "edited_config"),
    "status": ("crmkit.cli.common", "status"),
    "progress": ("crmkit.cli.common", "progress"),
    "atomic_write": ("crmkit.cli.common", "atomic_write"),
    # Charts (--plot).
    "plot_option": ("crmkit.charts", "plot_option"),
    "PLOTS_INSTALL": ("crmkit.charts", "PLOTS_INSTALL"),
    "charts_available": ("crmkit.charts", "charts_available"),
    "check_chart": ("crmkit.charts", "check_chart"),
    "chart_figure": ("crmkit.charts", "chart_figure"),
    "save_chart": ("crmkit.charts", "save_chart"),
    "draw_chart": ("crmkit.charts", "draw_chart"),
}

if TYPE_CHECKING:  # pragma: no cover
    from .auth import CORE_PERMISSIONS, MASK, PII_FIELDS, Principal
    from .bulk import driver_value, insert_new, insert_rows, update_rows
    from .cli.common import (State, as_of_option, atomic_write, edited_config, format_option,
                             limit_option,
                             jsonable, load_json_file, output, output_document, output_rows,
                             pass_state, progress, resolve_as_of, status)
    from .clock import (UTC, Clock, FixedClock, SystemClock, ensure_utc, out_of_range,
                        parse_timestamp, utc_in_range)
    from .condition_sql import (CUSTOMER_FIELDS, JsonPath, column_test, customer_condition,
                                customer_field, customer_test, is_customer_field)
    from .conditions import check as check_condition
    from .conditions import evaluate as evaluate_condition
    from .conditions import to_sql as condition_to_sql
    from .condition_schema import with_condition_schema
    from .config import is_timezone, schema_validator
    from .config import validate as validate_config
    from .deltas import CustomerDelta
    from .db import (PortableExpression, add_days, add_months, allocate_ids, at_least_zero,
                     day_key, day_number, days_between, json_array_contains, json_number,
                     json_text, lowercase, month_number, next_day_start, where_given)
    from .messaging import (ADDRESSED_BY, Channel, Outgoing, SendResult, Sending,
                            customer_address, outgoing_problems)
    from .line_items import (LineItem, amount_units, line_item_problems, line_total_units,
                             times_units)
    from .i18n import N_, current_locale, gettext, ngettext, translating
    from .charts import (PLOTS_INSTALL, chart_figure, charts_available, check_chart,
                         draw_chart, plot_option, save_chart)
    from .errors import (ConfigError, ConflictError, ConsentError, CRMError, DatabaseError,
                         MissingExtra, NotFound, PermissionDenied, PluginError,
                         PreconditionFailed, Unauthenticated, ValidationError)
    from .markers import hookimpl
    from .models import (INTERACTION_RECORDED, ApiToken, Batch, Customer, Event, EventType,
                         Interaction, PluginInfo, Staff, TimelineEntry, WriteResult)
    from .pipeline import ONE_RECORD, drop_repeats, raise_problems, record_fits
    from .plugin_base import PluginAPI, typed_settings
    from .sentiment import Sentiment, SentimentAnalyser, detect_language, score_texts
    from .services.consent import consent_channel
    from .services.importing import ImportRejected, ImportReport, checked_import
    from .services.records import MAX_LINE_BYTES, SourceFile, file_format, unneutralise
    from .tables import NAMING, consents, customers, events, interactions, messages, staff
    from .transaction import HookContext, Transaction
    from .types import (MAX_JSON_DEPTH, MONEY_LIMIT, MONEY_SCALE, BigIdType, JSONType, Money,
                        UTCDateTime,
                        json_pointer, json_problem, money_from_units, money_units, parse_json,
                        tag_problem, text_limit, to_currency, to_money, condition_money)
    from .web.cards import Card
    from .web.panels import Panel
    from .web.plugin_pages import Site, WebPage, WebPages
    from .web.mywork import WorkSection, countdown
    from .web.endpoints import Call, Endpoint, Reply
    from .web.reports import (REPORT_PAGE, KeyedPage, ReportPage, keyed_query,
                              report_page_schema, report_query, text_key,
                              id_key)
    from .web.formatting import format_date, format_datetime, format_money, format_number
    from .outbound import Deadline, PostFailed, Poster
    from .outbound import resolve as resolve_host
    from .webhooks import check_destination as check_webhook_destination
    from .webhooks import delivery_headers as webhook_headers
    from .webhooks import masked_url
    from .webhooks import networks_narrowed as webhook_networks_narrowed
    from .worker import Job, WorkContext, claim_due
    from .web.schemas import (AS_OF_INSTANT, DECIMAL, INSTANT, INTEGER, NUMBER, OPTIONAL_INSTANT,
                              OPTIONAL_NUMBER, OPTIONAL_TEXT, TEXT, closed_object, record_id,
                              timestamp_or_none)


def __getattr__(name: str):
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'crmkit.plugin' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = list(_LAZY)
