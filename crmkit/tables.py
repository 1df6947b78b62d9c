"""The core's tables (SQLAlchemy Core).

Plugins define their own tables on :data:`metadata` too (named
``<plugin>_<thing>``) and reference core tables only by foreign key.  Every
plugin table that holds customer data carries a ``customer_id`` so that merge,
export and erase reach it through the plugin's hooks.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .types import BigIdType, JSONType, Money, UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)
"""The core's MetaData.  Plugins may use their own MetaData with the same naming convention."""

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("external_id", String(200), nullable=False, unique=True),
    Column("type", String(20), nullable=False, default="person"),
    Column("organisation_id", Integer, ForeignKey("customers.id"), nullable=True, index=True),
    Column("name", String(300)),
    Column("email", String(320), index=True),
    Column("phone", String(64)),
    Column("preferred_channel", String(40)),
    Column("lifecycle_stage", String(40)),
    Column("tags", JSONType, nullable=False),
    Column("attributes", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("erased_at", UTCDateTime, nullable=True),
)
"""People and organisations (``type``); ``external_id`` is the key users and imports use,
``erased_at`` marks a customer whose personal data was erased."""

interactions = Table(
    "interactions",
    metadata,
    Column("id", BigIdType, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("channel", String(40)),
    Column("kind", String(40), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("amount", Money),
    Column("currency", String(3)),
    Column("external_id", String(200), unique=True),
    Column("payload", JSONType),
    Column("actor", String(200)),
    Column("recorded_at", UTCDateTime, nullable=False),
    Index("ix_interactions_customer_occurred", "customer_id", "occurred_at"),
)
"""Everything that happened with a customer: purchases, visits, calls, surveys, … (``kind``),
append-only; ``amount`` is money in whole units of :data:`crmkit.types.MONEY_SCALE`."""

staff = Table(
    "staff",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("handle", String(100), nullable=False, unique=True),
    Column("name", String(300), nullable=False),
    Column("email", String(320)),
    Column("team", String(100), nullable=False, index=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("role", String(100), nullable=False),
    Column("password_hash", String(300)),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime),
    Column("locale", String(35)),
)
"""The people who use crmkit: their role, team, password hash and sign-in lock-out."""

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("staff_id", Integer, ForeignKey("staff.id"), nullable=False, index=True),
    Column("name", String(200)),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
)
"""Staff members' API tokens, stored as hashes (``crmkit tokens``)."""

events = Table(
    "events",
    metadata,
    Column("id", BigIdType, primary_key=True),
    Column("type", String(100), nullable=False),
    Column("customer_id", Integer, nullable=True, index=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("source", String(100), nullable=False),
    Column("depth", Integer, nullable=False, default=0),
    Column("payload", JSONType, nullable=False),
    Index("ix_events_type_id", "type", "id"),
)
"""The append-only domain event log (``crm.events``); ``depth``: how many events led to this
one (0 for an event no other caused; 1 for one emitted in reaction to a recorded interaction)."""

plugin_state = Table(
    "plugin_state",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("version", String(50), nullable=False),
    Column("config", JSONType, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("times_enabled", Integer, nullable=False),
)
"""Each installed plugin's enabled flag, version and validated configuration, and how many
times it was enabled (each enable of a disabled or never enabled plugin adds one)."""

settings = Table(
    "settings",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", JSONType, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""Named core settings as JSON: the core configuration and the generated keys (the web
app's session key, the tracking links' key)."""

id_counters = Table(
    "id_counters",
    metadata,
    Column("table_name", String(100), primary_key=True),
    Column("last_id", BigInteger, nullable=False),
)
"""SQLite: the highest id :func:`crmkit.db.allocate_ids` has given out per table, so that an
id is never given again after its row was deleted (a merged-away customer's audit rows keep
its id).  PostgreSQL's sequences do this; there the table stays empty."""

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigIdType, primary_key=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(50), nullable=False),
    Column("table_name", String(100), nullable=False),
    Column("record_key", String(200)),
    Column("customer_id", Integer, nullable=True, index=True),
    Column("changes", JSONType, nullable=False),
    Column("command", Text),
)
"""Who changed what and when, with the command that did it (``crmkit audit``)."""

consents = Table(
    "consents",
    metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("channel", String(40), primary_key=True),
    Column("granted", Boolean, nullable=False),
    Column("source", String(200), nullable=False),
    Column("recorded_at", UTCDateTime, nullable=False),
)
"""The consent ledger's current decision per customer and channel, with its source."""

privacy_requests = Table(
    "privacy_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False, index=True),
    Column("kind", String(20), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("details", JSONType, nullable=False),
)
"""Exports and erasures of a customer's personal data: kind, who, when and counts, never
the data itself."""

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("actor", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("headers", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    UniqueConstraint("actor", "key"),
)
"""API requests' Idempotency-Keys with the response they got (crmkit.web.idempotency)."""

revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
)
"""Web app sessions signed out before they expired (crmkit.web.session): refused until
``expires_at``, when they would have expired anyway; a sign-out deletes the rows past it."""

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", JSONType, nullable=False),
    Column("secret", String(500), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
"""Webhook subscriptions: where to POST which event types, signed with ``secret``
(emptied when the webhook is removed; the row stays for its delivery log)."""

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigIdType, primary_key=True),
    Column("delivery_id", String(36), nullable=False, unique=True),
    Column("webhook_id", Integer, ForeignKey("webhooks.id"), nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("event_id", BigInteger, nullable=True),
    Column("interaction_id", BigInteger, nullable=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("delivered_at", UTCDateTime, nullable=True),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_webhook", "webhook_id", "id"),
)
"""The webhooks' outbox and delivery log: one row per event and subscribed webhook, written in
the event's transaction (``event_id``, or ``interaction_id`` for ``interaction.recorded``);
``status`` pending → delivered, or failed after the last attempt."""

messages = Table(
    "messages",
    metadata,
    Column("id", BigIdType, primary_key=True),
    Column("message_id", String(250), nullable=False, unique=True),
    Column("channel", String(40), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=True, index=True),
    Column("recipient", String(2000), nullable=False),
    Column("subject", Text, nullable=True),
    Column("body", Text, nullable=False),
    Column("html", Text, nullable=True),
    Column("headers", JSONType, nullable=False),
    Column("meta", JSONType, nullable=False),
    Column("source", String(100), nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("error", String(500), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_messages_due", "status", "next_attempt_at"),
)
"""The outbox of outgoing messages (crmkit.messaging): one row per message, written in the
transaction that decided to send it; ``status`` queued → sent, or failed / bounced (with
``error``), or cancelled.  ``message_id`` (an RFC 5322 Message-ID) never changes, so a message
sent twice after a crash carries the same one."""

__all__ = [
    "metadata",
    "customers",
    "interactions",
    "staff",
    "api_tokens",
    "events",
    "plugin_state",
    "settings",
    "id_counters",
    "audit_log",
    "consents",
    "privacy_requests",
    "idempotency_keys",
    "revoked_sessions",
    "webhooks",
    "webhook_deliveries",
    "messages",
]
