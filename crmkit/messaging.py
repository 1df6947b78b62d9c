"""Outgoing messages: an outbox the worker drains through channels, and signed tracking links.

A message is written to the ``messages`` table by :meth:`MessageService.enqueue`, in the
transaction that decided to send it (a campaign's run, an automation rule): a message that
committed is never lost, one that rolled back is never sent.  Each gets an RFC 5322
Message-ID when it is queued, which never changes.

The worker's ``messages.send`` job claims due queued messages (:func:`crmkit.worker.claim_due`),
groups them by channel and hands each group to its :class:`Channel` (plugins provide channels
through the ``crmkit_channels`` hook).  Each outcome is recorded as soon as the channel reports
it: ``sent``; ``retry`` (a temporary failure: tried again after a backoff, by the CRM clock,
up to ``messages.max_attempts`` attempts, then failed); ``failed`` or ``bounced`` (permanent,
with the channel's detail).  A recorded message is never sent again; a worker killed between
a server's acceptance and the record leaves only the messages then in flight to be sent a
second time, with the same Message-ID, once their lease (``messages.lease_seconds``) has run out.
The worker waits for a channel's results no longer than that lease: the messages a stuck
channel has not reported by then are recorded as retries, and the channel starts none of
them afterwards (:meth:`Sending.expired`), so only those then in flight can go out twice.

Tracking links (:meth:`MessageService.click_url`, :meth:`~MessageService.open_pixel_url`,
:meth:`~MessageService.unsubscribe_url`) are HMAC-signed tokens under the core config
``public_url``, served without sign-in by ``crmkit serve`` (:mod:`crmkit.web.tracking`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import queue
import re
import threading
import uuid
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Protocol, runtime_checkable
from urllib.parse import urlsplit

import attrs
from sqlalchemy import bindparam, select, update

from . import tables
from .auth import database_secret
from .bulk import insert_rows
from .clock import ensure_utc
from .db import select_in
from .errors import ConfigError, NotFound, PluginError, ValidationError
from .models import EventType, jsonable
from .types import LINE, UNSTORABLE_TEXT, json_problem, text_problem, unstorable_text
from .webhooks import retry_delay
from .worker import Job, WorkContext, claim_due, describe_failure

if TYPE_CHECKING:
    from .app import CRM
    from .outbound import Deadline

QUEUED, SENT, FAILED, BOUNCED, CANCELLED = "queued", "sent", "failed", "bounced", "cancelled"
STATUSES = (QUEUED, SENT, FAILED, BOUNCED, CANCELLED)
OUTCOMES = ("sent", "retry", "failed", "bounced")
"""What a channel may report for one message (:class:`SendResult`)."""

EVENT_TYPES = {
    "message.sent": "a channel accepted a message (payload: message_id, channel, meta)",
    "message.failed": EventType("a message could not be sent (payload: message_id, channel, "
                                "error, meta)", personal="error"),
    "message.bounced": EventType("a message was refused for its recipient (payload: "
                                 "message_id, channel, error, meta)", personal="error"),
}
"""The core's events about messages (part of :data:`crmkit.events.CORE_EVENT_TYPES`); a
channel's ``error`` may name the recipient (``550 <ann@example.com>: no such user``)."""

CLICKED, OPENED, UNSUBSCRIBED = "message.clicked", "message.opened", "message.unsubscribed"
"""Interaction kinds the tracking links record on the message's customer."""

TRACKING_KEY_SETTING = "tracking_key"
"""The ``settings`` row holding the key that signs tracking links (generated on first use)."""

MESSAGE_ID = re.compile(r"<[^<>@\s]{1,100}@[^<>@\s]{1,77}>")
"""An RFC 5322 Message-ID as crmkit stores it: at most 180 characters, so the consent source
``unsubscribe link <Message-ID>`` fits."""
MAX_RECIPIENT = 2000
ADDRESSED_BY = {"email": "email", "sms": "phone"}
"""The customer column holding the address of a channel; other channels address the customer
by external id (a webhook receiver looks the customer up)."""
MAX_ERROR_LENGTH = 500
DEFAULT_LIST_LIMIT = 100


# -- what plugins see ------------------------------------------------------------------------


@attrs.frozen
class Outgoing:
    """A message to queue with :meth:`MessageService.enqueue`.

    ``customer`` is the customer's external id (None for a message to no customer);
    ``meta`` is kept with the message and copied into its events and tracked interactions
    (campaigns put ``{"campaign": NAME, "variant": "A"}``); ``not_before`` holds it back
    until then; ``message_id`` (``<…@…>``) is generated when None.
    """

    channel: str
    recipient: str
    body: str
    subject: str | None = None
    html: str | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    meta: Mapping[str, Any] = attrs.field(factory=dict)
    customer: str | None = None
    source: str = "core"
    not_before: dt.datetime | None = None
    message_id: str | None = None


@attrs.frozen
class Sending:
    """One queued message as a channel gets it (``customer``: the external id, or None;
    ``attempts``: this attempt's number, 1 the first time; ``lease``: how long the worker
    waits for the batch's results, see :meth:`expired`)."""

    message_id: str
    recipient: str
    subject: str | None
    body: str
    html: str | None
    headers: dict[str, str]
    meta: dict[str, Any]
    customer: str | None
    attempts: int
    lease: "Deadline | None" = attrs.field(default=None, eq=False, repr=False)

    def expired(self) -> bool:
        """Whether the worker has stopped waiting for this message's result (its batch's
        lease ran out, and it was recorded as a retry): a channel must not start sending it
        then, or it would go out twice."""
        return self.lease is not None and self.lease.remaining() <= 0


@attrs.frozen
class SendResult:
    """What happened to one message: ``outcome`` is ``sent``, ``retry`` (temporary: try again
    later), ``failed`` or ``bounced`` (permanent); ``detail`` says why (a server's reply)."""

    message_id: str
    outcome: str
    detail: str = ""


@runtime_checkable
class Channel(Protocol):
    """A way to deliver messages, provided by a plugin through ``crmkit_channels``.

    ``send(batch)`` gets queued messages of this channel (``name``) and returns one
    :class:`SendResult` per message: a list, or an iterator that yields each result as soon
    as it is known (the worker then records it at once, so a crash resends nothing already
    reported).  The channel may use several connections at once.  A message without a
    result is tried again later; an exception is recorded as a retry of the messages not yet
    reported and then reported by the worker.  A channel starts no message that has
    :meth:`Sending.expired`: the worker stopped waiting for it and will send it again.
    """

    name: str

    def send(self, batch: list[Sending]) -> Iterable[SendResult]: ...


@attrs.frozen
class Message:
    """A stored message with its delivery state."""

    message_id: str
    channel: str
    customer: str | None
    recipient: str
    subject: str | None
    body: str
    html: str | None
    headers: dict[str, str]
    meta: dict[str, Any]
    source: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    error: str | None
    created_at: dt.datetime


def customer_address(channel: str, customer: Mapping[str, Any]) -> str | None:
    """The recipient of a message on ``channel`` to ``customer`` (a mapping with the customer
    columns): its column of :data:`ADDRESSED_BY` (email, phone), else its ``external_id``;
    None when that is empty (the customer cannot be reached there)."""
    column = ADDRESSED_BY.get(channel)
    address = customer[column] if column is not None else customer["external_id"]
    return address or None


# -- the service -----------------------------------------------------------------------------


class MessageService:
    """``crm.messages``: queue messages, read the outbox, make tracking links."""

    def __init__(self, crm: "CRM"):
        self.crm = crm
        self._key: bytes | None = None

    def enqueue(self, messages: Iterable[Outgoing]) -> list[str]:
        """Queue ``messages`` in one bulk insert and return their Message-IDs, in order.

        Joins the transaction open in this thread (``crm.run_transaction``), else runs its
        own.  Every message is checked first: any bad one is one ValidationError naming it
        (``message N``, counted from 1) and the field, and nothing is queued.
        """
        items = list(messages)

        def write(tx) -> list[str]:
            now = tx.now()
            customers = _customer_ids(tx.conn, {m.customer for m in items
                                                if isinstance(m, Outgoing) and
                                                isinstance(m.customer, str)})
            domain = self._domain()
            problems: list[tuple[str, str, str]] = []
            rows = [_row(item, f"message {n}", customers, now, domain, problems)
                    for n, item in enumerate(items, 1)]
            ids = [row["message_id"] for row in rows if row is not None]
            if len(set(ids)) != len(ids):
                twice = next(i for i in ids if ids.count(i) > 1)
                problems.append(("messages", "message_id", f"{twice} is given twice"))
            elif ids:
                m = tables.messages
                taken = select_in(tx.conn, select(m.c.message_id).where(
                    m.c.message_id.in_(bindparam("ids", expanding=True))), "ids", ids)
                if taken:
                    problems.append(("messages", "message_id",
                                     f"{taken[0][0]} is already queued (a Message-ID is unique)"))
            if problems:
                raise ValidationError.from_problems(problems)
            insert_rows(tx.conn, tables.messages, rows)
            return ids

        return self.crm.run_transaction(write)

    def get(self, message_id: str) -> Message:
        """One message by its Message-ID."""
        m = tables.messages
        with self.crm.read() as conn:
            row = conn.execute(_SELECT.where(m.c.message_id == message_id)).mappings().first()
        if row is None:
            raise NotFound(f"no message {message_id!r}")
        return Message(**row)

    def list(self, status: str | None = None, channel: str | None = None,
             meta: Mapping[str, Any] | None = None, limit: int | None = DEFAULT_LIST_LIMIT
             ) -> list[Message]:
        """Messages in the order they were queued, filtered by status, channel and ``meta``
        (each key equal: ``meta={"campaign": "spring"}``)."""
        from .condition_sql import JsonPath

        if status is not None and status not in STATUSES:
            raise ValidationError(f"message status: {status!r} is not one of "
                                  f"{', '.join(STATUSES)}")
        m = tables.messages
        query = _SELECT.order_by(m.c.id)
        if status is not None:
            query = query.where(m.c.status == status)
        if channel is not None:
            query = query.where(m.c.channel == channel)
        for key, value in (meta or {}).items():
            query = query.where(JsonPath(m.c.meta, [key]).test("eq", value))
        if limit is not None:
            query = query.limit(limit)
        with self.crm.read() as conn:
            return [Message(**row) for row in conn.execute(query).mappings()]

    def jobs(self) -> list[Job]:
        """The worker job that sends queued messages: ``messages.send``."""
        return [Job("messages.send", send_due)]

    def channels(self) -> dict[str, Channel]:
        """The channels of the enabled plugins (``crmkit_channels``), by name."""
        return collect_channels(self.crm)

    # -- tracking links --------------------------------------------------------------------

    def click_url(self, message_id: str, target_url: str) -> str:
        """A link that records a click on ``message_id`` and redirects to ``target_url``
        (an absolute http(s) URL)."""
        from .webhooks import check_url

        try:
            target = check_url(target_url)
        except ValidationError as exc:
            raise ValidationError(f"click link target: {exc.problems[0][2]}",
                                  [("click link", "target_url", exc.problems[0][2])]) from None
        return self._link("c", message_id, target)

    def open_pixel_url(self, message_id: str) -> str:
        """The address of a 1×1 image that records an opening of ``message_id``."""
        return self._link("o", message_id)

    def unsubscribe_url(self, message_id: str) -> str:
        """The one-click unsubscribe link of ``message_id`` (GET confirms, POST withdraws the
        customer's consent on the message's channel; RFC 8058)."""
        return self._link("u", message_id)

    def resolve(self, kind: str, token: str) -> tuple[Message, str | None] | None:
        """The message (and, for a click, the target URL) a tracking token of ``kind``
        (``c`` click, ``o`` open, ``u`` unsubscribe) stands for; None for a forged, altered
        or malformed token or a message that does not exist.  The message of an erased
        customer comes without its customer: nothing more is recorded about them."""
        found = self.read_token(kind, token)
        if found is None:
            return None
        m, c = tables.messages, tables.customers
        with self.crm.read() as conn:
            row = conn.execute(_SELECT.add_columns(c.c.erased_at)
                               .where(m.c.message_id == found[0])).mappings().first()
        if row is None:
            return None
        row = dict(row)
        if row.pop("erased_at") is not None:
            row["customer"] = None
        return Message(**row), found[1]

    def record_click(self, message: Message, url: str) -> None:
        """Record ``message.clicked`` (payload: the message's meta, message_id, url)."""
        self._record_interaction(message, CLICKED, {"url": url})

    def record_open(self, message: Message) -> None:
        """Record ``message.opened`` (payload: the message's meta, message_id)."""
        self._record_interaction(message, OPENED, {})

    def unsubscribe(self, message: Message) -> bool:
        """Withdraw the customer's consent on the message's channel through the consent
        ledger (source ``unsubscribe link <Message-ID>``) and record
        ``message.unsubscribed``, in one transaction; False (nothing recorded) when consent
        on that channel was already withdrawn or the message has no customer."""
        if message.customer is None:
            return False

        def withdraw(tx) -> bool:
            current = {c.channel: c.granted for c in self.crm.customers.consents(
                message.customer)}
            if current.get(message.channel) is False:
                return False
            self.crm.customers.set_consent(message.customer, message.channel, False,
                                           source=f"unsubscribe link {message.message_id}")
            self._record_interaction(message, UNSUBSCRIBED, {})
            return True

        return self.crm.run_transaction(withdraw)

    def _record_interaction(self, message: Message, kind: str, extra: dict[str, Any]) -> None:
        if message.customer is None:
            return
        self.crm.interactions.record(
            customer=message.customer, occurred_at=self.crm.clock.now(), kind=kind,
            channel=message.channel, direction="inbound",
            payload={**message.meta, "message_id": message.message_id, **extra})

    def read_token(self, kind: str, token: str) -> tuple[str, str | None] | None:
        """``(message_id, target URL or None)`` of a tracking token of ``kind`` (``c``, ``o``,
        ``u``) this database signed; None for a forged, altered or malformed one."""
        body, _, mac = token.partition(".")
        if not body or not mac or not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            return None
        try:
            parts = _unb64(body).decode("utf-8").split("\n")
        except (ValueError, UnicodeDecodeError):
            return None
        if parts[0] != kind or len(parts) != (3 if kind == "c" else 2):
            return None
        return parts[1], (parts[2] if kind == "c" else None)

    def _link(self, kind: str, message_id: str, target: str | None = None) -> str:
        base = self.crm.core_config.get("public_url")
        if not base:
            raise ConfigError("tracking links need the core config public_url (the address "
                              "people reach crmkit serve at): crmkit config --set "
                              "public_url=https://crm.example.com")
        if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
            raise ValidationError(f"tracking link: {message_id!r} is not a Message-ID (<…@…>)")
        parts = [kind, message_id] + ([target] if target is not None else [])
        body = _b64("\n".join(parts).encode("utf-8"))
        return f"{base.rstrip('/')}/t/{kind}/{body}.{self._mac(body)}"

    def _mac(self, body: str) -> str:
        if self._key is None:
            self._key = database_secret(self.crm, TRACKING_KEY_SETTING)
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:16])

    def _domain(self) -> str:
        host = urlsplit(self.crm.core_config.get("public_url") or "").hostname
        return host or "crmkit.invalid"


_SELECT = select(*[c for c in tables.messages.c if c.name not in ("id", "customer_id")],
                 tables.customers.c.external_id.label("customer")).select_from(
    tables.messages.outerjoin(tables.customers,
                              tables.customers.c.id == tables.messages.c.customer_id))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- checking what is queued -----------------------------------------------------------------


def _customer_ids(conn, external_ids: set[str]) -> dict[str, int]:
    c = tables.customers
    query = select(c.c.external_id, c.c.id).where(c.c.external_id.in_(bindparam("ids",
                                                                               expanding=True)))
    return dict(select_in(conn, query, "ids", sorted(external_ids)))


def outgoing_problems(item: Outgoing) -> list[tuple[str, str]]:
    """``(field, problem)`` for each field of ``item`` that :meth:`MessageService.enqueue`
    refuses in itself (its channel, recipient, source, subject, body, html, headers and meta;
    an unknown customer or a Message-ID already queued is found when it is queued); empty
    when there is none."""
    problems: list[tuple[str, str]] = []

    def refuse(field: str, detail: str) -> None:
        problems.append((field, detail))

    for field, value, limit, required in (
            ("channel", item.channel, 40, True), ("recipient", item.recipient, MAX_RECIPIENT, True),
            ("source", item.source, 100, True), ("subject", item.subject, 1000, False)):
        if value is None and not required:
            continue
        if not isinstance(value, str) or not value.strip():
            refuse(field, "required: one line of text")
        elif len(value) > limit:
            refuse(field, f"{len(value)} characters; at most {limit}")
        elif text_problem(value, LINE):
            refuse(field, text_problem(value, LINE))
        elif unstorable_text(value):
            refuse(field, UNSTORABLE_TEXT)
    for field, value in (("body", item.body), ("html", item.html)):
        if not isinstance(value, str) and (field == "body" or value is not None):
            refuse(field, "must be text")
        elif unstorable_text(value):
            refuse(field, UNSTORABLE_TEXT)
    headers = item.headers
    if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        refuse("headers", "must map header names to text")
    else:
        for name, value in headers.items():
            if not re.fullmatch(r"[!-9;-~]{1,100}", name):
                refuse("headers", f"{name!r} is not a header name (printable ASCII, no colon)")
            elif text_problem(value, LINE):
                refuse("headers", f"{name}: {text_problem(value, LINE)}")
            elif unstorable_text(value):
                refuse("headers", f"{name}: {UNSTORABLE_TEXT}")
    meta = item.meta
    if not isinstance(meta, Mapping):
        refuse("meta", "must be a JSON object")
    elif json_problem(dict(meta)):
        refuse("meta", json_problem(dict(meta)))
    elif unstorable_text(dict(meta)):
        refuse("meta", UNSTORABLE_TEXT)
    return problems


def _row(item: Any, where: str, customers: dict[str, int], now: dt.datetime, domain: str,
         problems: list[tuple[str, str, str]]) -> dict[str, Any] | None:
    """The ``messages`` row of one Outgoing, or None (with its problems added)."""
    if not isinstance(item, Outgoing):
        problems.append((where, "message", f"expected crmkit.plugin.Outgoing, got "
                                           f"{type(item).__name__}"))
        return None
    bad = len(problems)

    def refuse(field: str, detail: str) -> None:
        problems.append((where, field, detail))

    for field, detail in outgoing_problems(item):
        refuse(field, detail)
    customer_id = None
    if item.customer is not None:
        customer_id = customers.get(item.customer) if isinstance(item.customer, str) else None
        if customer_id is None:
            refuse("customer", f"no customer {item.customer!r}")
    due = now
    if item.not_before is not None:
        try:
            due = max(now, ensure_utc(item.not_before, "not_before"))
        except (ValidationError, AttributeError, TypeError):
            refuse("not_before", "must be a timezone-aware datetime")
    message_id = item.message_id
    if message_id is None:
        message_id = f"<{uuid.uuid4().hex}@{domain}>"
    elif not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
        refuse("message_id", f"{message_id!r} is not a Message-ID (<local@domain>, no spaces)")
    if len(problems) > bad:
        return None
    return {"message_id": message_id, "channel": item.channel.strip(),
            "customer_id": customer_id, "recipient": item.recipient.strip(),
            "subject": item.subject, "body": item.body, "html": item.html,
            "headers": dict(item.headers), "meta": jsonable(dict(item.meta)), "source": item.source,
            "status": QUEUED, "attempts": 0, "next_attempt_at": due, "sent_at": None,
            "error": None, "created_at": now}


# -- channels --------------------------------------------------------------------------------


def collect_channels(crm: "CRM") -> dict[str, Channel]:
    """Every enabled plugin's channels (``crmkit_channels``), by name; a result that is not
    a Channel, two channels of one name, or a name consent is not recorded under (upper
    case, surrounding spaces: :func:`crmkit.services.consent.consent_channel`) is a
    PluginError naming the plugin."""
    from .services.consent import consent_channel

    found = crm.hooks.collect_named("crmkit_channels", Channel,
                                    "channels (a name and a send method)", {}, crm=crm)
    for plugin, channel in found:
        try:
            usable = consent_channel(channel.name, "channel name") == channel.name
        except ValidationError as exc:
            raise PluginError(f"plugin {plugin!r}: crmkit_channels: {exc}") from None
        if not usable:
            raise PluginError(f"plugin {plugin!r}: crmkit_channels: channel name "
                              f"{channel.name!r} must be written as consent is recorded: "
                              f"{consent_channel(channel.name)!r}")
    return {channel.name: channel for _plugin, channel in found}


# -- sending (the worker's job) --------------------------------------------------------------


def send_due(ctx: WorkContext) -> int:
    """Claim a batch of due queued messages, send each through its channel, record each
    outcome as soon as it is known; return how many were handled."""
    from .outbound import Deadline

    crm = ctx.crm
    settings = crm.core_config["messages"]
    lease = Deadline()
    lease.start(settings["lease_seconds"])
    m = tables.messages
    rows = claim_due(ctx, m, lease=dt.timedelta(seconds=settings["lease_seconds"]),
                     where=[m.c.status == QUEUED], values={"attempts": m.c.attempts + 1})
    if not rows:
        return 0
    with crm.read() as conn:
        c = tables.customers
        external = dict(conn.execute(select(c.c.id, c.c.external_id).where(
            c.c.id.in_(bindparam("ids", expanding=True))),
            {"ids": sorted({r["customer_id"] for r in rows if r["customer_id"] is not None})}
        ).all())
    channels = collect_channels(crm)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["channel"], []).append(row)
    failures: list[str] = []
    for name, group in groups.items():
        channel = channels.get(name)
        if channel is None:
            reason = f"no channel {name!r} (enable the plugin that provides it)"
            _record(crm, group, [SendResult(r["message_id"], "failed", reason) for r in group],
                    settings)
            continue
        failure = _send_group(crm, channel, group, external, settings, lease)
        if failure is not None:
            failures.append(failure)
    if failures:
        raise PluginError("; ".join(failures))
    return len(rows)


def _send_group(crm: "CRM", channel: Channel, group: list[dict[str, Any]],
                external: dict[int, str], settings: dict[str, Any],
                lease: "Deadline") -> str | None:
    """Send one channel's messages, recording results as they come until the batch's
    ``lease`` runs out; the channel's error (its unreported messages are recorded as
    retries), or None."""
    batch = [Sending(r["message_id"], r["recipient"], r["subject"], r["body"], r["html"],
                     dict(r["headers"]), dict(r["meta"]), external.get(r["customer_id"]),
                     r["attempts"], lease) for r in group]
    by_id = {r["message_id"]: r for r in group}
    pending = dict(by_id)
    error = None
    try:
        for results in _as_they_come(lambda: channel.send(batch), lease, settings):
            known = []
            for result in results:
                if not isinstance(result, SendResult) or result.outcome not in OUTCOMES:
                    raise PluginError(f"its send returned {result!r}, not a SendResult with "
                                      f"an outcome of {', '.join(OUTCOMES)}")
                if pending.pop(result.message_id, None) is not None:
                    known.append(result)
            if known:
                _record(crm, [by_id[r.message_id] for r in known], known, settings)
    except Exception as exc:
        error = f"channel {channel.name!r} failed: {describe_failure(exc)}"
    if pending:
        detail = error or f"channel {channel.name!r} reported no result for it"
        _record(crm, list(pending.values()),
                [SendResult(i, "retry", detail) for i in pending], settings)
    return error


_END = object()


def _as_they_come(produce, lease: "Deadline", settings: dict[str, Any]
                  ) -> Iterator[list[Any]]:
    """Run ``produce()`` (an iterable of results) in a thread and yield, each time, every
    result that has arrived since the last yield (at least one): results reported while the
    previous ones were being recorded are recorded together, none waits for the batch.
    Once ``lease`` has run out with results still to come, a PluginError: the thread is left
    to itself."""
    arrived: queue.SimpleQueue = queue.SimpleQueue()

    def pump() -> None:
        try:
            for item in produce():
                arrived.put(item)
        except BaseException as exc:  # handed to the recording thread, raised there
            arrived.put(_Raised(exc))
        finally:
            arrived.put(_END)

    threading.Thread(target=pump, name="crmkit-channel", daemon=True).start()
    while True:
        try:
            items = [arrived.get(timeout=max(lease.remaining(), 0))]
        except queue.Empty:
            raise PluginError(f"no result within the lease of its batch ("
                              f"{settings['lease_seconds']:g} s, core config "
                              "messages.lease_seconds)") from None
        while True:
            try:
                items.append(arrived.get_nowait())
            except queue.Empty:
                break
        done = _END in items
        items = [i for i in items if i is not _END]
        raised = next((i for i in items if isinstance(i, _Raised)), None)
        results = [i for i in items if not isinstance(i, _Raised)]
        if results:
            yield results
        if raised is not None:
            raise raised.exc
        if done:
            return


@attrs.frozen
class _Raised:
    exc: BaseException


_RECORD = (update(tables.messages)
           .where(tables.messages.c.id == bindparam("row_id"),
                  tables.messages.c.status == QUEUED)
           .values(status=bindparam("new_status"), sent_at=bindparam("new_sent_at"),
                   error=bindparam("new_error"),
                   next_attempt_at=bindparam("new_next_attempt_at")))
"""The UPDATE of one outcome (built once: the worker records hundreds a second)."""


def _record(crm: "CRM", rows: list[dict[str, Any]], results: list[SendResult],
            settings: dict[str, Any]) -> None:
    """Record the outcomes of ``rows`` in one transaction (only rows still queued change)."""

    def write(tx) -> None:
        now = tx.now()
        changes = []
        for row, result in zip(rows, results):
            detail = (result.detail or "")[:MAX_ERROR_LENGTH] or None
            status = {"sent": SENT, "failed": FAILED, "bounced": BOUNCED}.get(result.outcome)
            values: dict[str, Any] = {"row_id": row["id"], "status": status or QUEUED,
                                      "sent_at": now if status == SENT else None,
                                      "error": None if status == SENT else detail,
                                      "next_attempt_at": row["next_attempt_at"]}
            if status is None:
                if row["attempts"] >= settings["max_attempts"]:
                    values["status"] = status = FAILED
                    values["error"] = (f"gave up after {row['attempts']} attempts: "
                                       f"{detail}")[:MAX_ERROR_LENGTH]
                else:
                    values["next_attempt_at"] = now + retry_delay(
                        row["attempts"], settings["backoff_base_seconds"],
                        settings["backoff_cap_seconds"])
            changes.append((values, row, status))
        errors = {id(row): values["error"] for values, row, _ in changes}
        tx.conn.execute(_RECORD, [{"row_id": values.pop("row_id"),
                                   **{f"new_{k}": v for k, v in values.items()}}
                                  for values, _, _ in changes])
        for _, row, status in changes:
            if status is not None:
                payload = {"message_id": row["message_id"], "channel": row["channel"],
                           "meta": row["meta"]}
                if status != SENT:
                    payload["error"] = errors[id(row)]
                tx.emit(f"message.{status}", row["customer_id"], payload)

    crm.run_transaction(write)


# -- privacy ---------------------------------------------------------------------------------


def erase_messages(conn, customer_id: int) -> int:
    """Erasure: remove the personal content of the customer's messages (recipient, subject,
    bodies, headers) and cancel those still queued; return how many rows changed."""
    m = tables.messages
    about = m.c.customer_id == customer_id
    changed = conn.execute(update(m).where(about).values(
        recipient="erased", subject=None, body="", html=None, headers={}, error=None)).rowcount
    conn.execute(update(m).where(about, m.c.status == QUEUED)
                 .values(status=CANCELLED, error="cancelled: the customer was erased"))
    return changed


__all__ = [
    "Outgoing", "Sending", "SendResult", "Channel", "Message", "MessageService",
    "collect_channels", "send_due", "erase_messages", "STATUSES", "OUTCOMES", "EVENT_TYPES",
    "QUEUED", "SENT", "FAILED", "BOUNCED", "CANCELLED", "CLICKED", "OPENED", "UNSUBSCRIBED",
    "TRACKING_KEY_SETTING", "MESSAGE_ID", "ADDRESSED_BY", "customer_address",
]
