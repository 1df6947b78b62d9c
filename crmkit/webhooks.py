"""Webhooks: signed HTTP POSTs of domain events to other systems, delivered by ``crmkit worker``.

A webhook subscribes a URL to event types.  Whenever a transaction stores an event of a
subscribed type (or, for ``interaction.recorded``, writes an interaction), it also writes one
row per subscribed webhook into ``webhook_deliveries``, in the same transaction: an event
that committed is never lost, and one that rolled back is never sent.  The worker's
``webhooks.deliver`` job POSTs each as JSON with ``X-Crmkit-Timestamp``, ``X-Crmkit-Event``,
``X-Crmkit-Delivery`` (a unique id: a delivery sent twice, after a worker died mid-request,
carries the same id, so receivers can drop the duplicate) and ``X-Crmkit-Signature``, which
signs the first three with the body (:func:`delivery_headers`; receivers :func:`verify` it).  A 2xx
response delivers it; anything else is retried with exponential backoff by the CRM clock up
to ``webhooks.max_attempts`` (core config), then the delivery is marked failed.

The body is built when it is sent, from the stored event or interaction: what erasure
redacts is never sent afterwards.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import hmac
import ipaddress
import json
import time
import uuid
from typing import TYPE_CHECKING, Any, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

import attrs
from sqlalchemy import bindparam, func, select, update

from . import tables
from .bulk import insert_rows
from .errors import ConfigError, ConflictError, NotFound, PermissionDenied, ValidationError
from .models import INTERACTION_RECORDED, Batch, Event, jsonable
from .worker import Job, WorkContext, claim_due

if TYPE_CHECKING:
    from .app import CRM
    from .auth import Principal
    from .transaction import Transaction

SIGNATURE_HEADER = "X-Crmkit-Signature"
EVENT_HEADER = "X-Crmkit-Event"
DELIVERY_HEADER = "X-Crmkit-Delivery"
TIMESTAMP_HEADER = "X-Crmkit-Timestamp"

SIGNATURE_TOLERANCE_SECONDS = 300
"""How far a delivery's timestamp may be from the receiver's clock for :func:`verify`."""

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
STATUSES = (PENDING, DELIVERED, FAILED)

MIN_SECRET_LENGTH = 16
MAX_SECRET_LENGTH = 500
MAX_URL_LENGTH = 2000
MAX_ERROR_LENGTH = 500

LEASE_MARGIN_SECONDS = 60
"""Added to ``batch size × timeout`` for the lease of a claimed batch of deliveries."""


def sign(secret: str, content: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``content`` keyed with ``secret`` (UTF-8).
    A webhook delivery signs :func:`signed_content`."""
    digest = hmac.new(secret.encode("utf-8"), content, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_content(timestamp: int, delivery_id: str, event_type: str, body: bytes) -> bytes:
    """What a delivery's ``X-Crmkit-Signature`` signs: its timestamp, delivery id and event
    type, each followed by a dot (``1735732800.<uuid>.customer.created.``, UTF-8), then the
    raw body."""
    return f"{timestamp}.{delivery_id}.{event_type}.".encode("utf-8") + body


def delivery_headers(secret: str, body: bytes, delivery_id: str, event_type: str,
                     timestamp: int) -> dict[str, str]:
    """The headers of one delivery attempt made at ``timestamp`` (Unix seconds), signed."""
    return {"Content-Type": "application/json", TIMESTAMP_HEADER: str(timestamp),
            DELIVERY_HEADER: delivery_id, EVENT_HEADER: event_type,
            SIGNATURE_HEADER: sign(secret, signed_content(timestamp, delivery_id, event_type,
                                                          body))}


def verify(secret: str, headers: Mapping[str, str], body: bytes,
           tolerance_seconds: float = SIGNATURE_TOLERANCE_SECONDS,
           now: float | None = None) -> bool:
    """Whether a received delivery is genuine: its ``X-Crmkit-Signature`` signs its raw
    ``body`` with its timestamp, delivery id and event type (``headers``: names in any
    case), made with ``secret``, at most ``tolerance_seconds`` from ``now`` (Unix seconds;
    the current time when None), so a captured delivery cannot be replayed later or under
    another delivery id or event type."""
    found = {name.lower(): value for name, value in headers.items()}
    timestamp = found.get(TIMESTAMP_HEADER.lower(), "")
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs((time.time() if now is None else now) - int(timestamp)) > tolerance_seconds:
        return False
    expected = sign(secret, signed_content(int(timestamp), found.get(DELIVERY_HEADER.lower(), ""),
                                           found.get(EVENT_HEADER.lower(), ""), body))
    given = found.get(SIGNATURE_HEADER.lower(), "")
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


def retry_delay(attempts: int, base_seconds: float, cap_seconds: float) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: ``base × 2^(attempts-1)``, at most the cap."""
    return dt.timedelta(seconds=min(cap_seconds, base_seconds * 2.0 ** min(attempts - 1, 64)))


@attrs.frozen
class Webhook:
    """A subscription (its secret is never handed out, nor a user or password in its URL:
    they show as ``***``)."""

    id: int
    url: str
    event_types: tuple[str, ...]
    active: bool
    created_at: dt.datetime


@attrs.frozen
class Delivery:
    """One event sent (or to be sent) to one webhook, with its latest attempt."""

    id: int
    delivery_id: str
    webhook_id: int
    event_type: str
    event_id: int | None
    interaction_id: int | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    created_at: dt.datetime
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None


class WebhookService:
    """``crm.webhooks``: add, list, remove webhooks; read their delivery log."""

    def __init__(self, crm: "CRM"):
        self.crm = crm

    def add(self, url: str, event_types: Iterable[str], secret: str,
            by: "Principal | None" = None) -> Webhook:
        """Subscribe ``url`` (http or https) to ``event_types`` (names from ``crm.events.types()``),
        signing each delivery with ``secret`` (at least 16 characters).  A host that resolves
        to an address outside the public internet and core config
        ``webhooks.allowed_networks`` is refused (it is checked again at each connection), and
        so is one whose name takes longer than ``webhooks.timeout_seconds`` to resolve.

        ``by``, the member asking (the API, the web app), may add only a webhook whose
        deliveries they may read in full (:meth:`require_reader`); None: the operator.

        The core configuration checked against is the one stored when the webhook is written
        (another process may have changed it): the host is resolved before the write
        transaction opens, and again if the core config ``webhooks`` changed meanwhile
        (:meth:`crmkit.CRM.checked_write`)."""
        check_url(url)
        secret = check_secret(secret)
        wanted = check_event_types(event_types, self.crm.events.types())
        if by is not None:
            self.require_reader(by, wanted)

        def settings(conn) -> dict[str, Any]:
            return self.crm.core_config["webhooks"]

        def checked(seen: dict[str, Any]) -> str:
            return check_destination(url, seen["allowed_networks"], seen["timeout_seconds"])

        def write(tx, destination: str) -> int:
            row = {"url": destination, "event_types": wanted, "secret": secret, "active": True,
                   "created_at": tx.now()}
            webhook_id = tx.conn.execute(tables.webhooks.insert().values(row)).inserted_primary_key[0]
            tx.audit("create", "webhooks", str(webhook_id),
                     {"url": masked_url(destination), "event_types": wanted})
            return webhook_id

        return self.get(self.crm.checked_write("the webhook was not added", settings, checked,
                                               write))

    def require_reader(self, by: "Principal", event_types: Iterable[str]) -> None:
        """Raise PermissionDenied, naming what is missing, unless ``by`` may read everything
        the deliveries of ``event_types`` carry, which no role or row-level rule filters:
        their role grants every one of :func:`delivered_permissions`
        (:meth:`crmkit.auth.AuthService.require_within`) and no plugin's row-level rule may
        refuse them one (:meth:`crmkit.auth.AuthService.restricted_by`)."""
        auth = self.crm.auth
        needed = delivered_permissions(self.crm.events.declared_by(), event_types)
        auth.require_within(by, needed, "add this webhook", "its deliveries would let them read")
        plugins = auth.restricted_by(by, needed)
        if plugins:
            rules = ("rule of plugin" if len(plugins) == 1 else "rules of plugins") + " " + (
                ", ".join(map(repr, plugins)))
            raise PermissionDenied(
                f"{by.handle!r} (role {by.role}) may not add this webhook: its deliveries would "
                f"let them read every record, and the row-level {rules} "
                f"{'hides' if len(plugins) == 1 else 'hide'} some from them")

    def jobs(self) -> list[Job]:
        """The worker job that delivers webhooks: ``webhooks.deliver``."""
        return [Job("webhooks.deliver", deliver_batch)]

    def get(self, webhook_id: int) -> Webhook:
        """One webhook by id (removed ones too)."""
        with self.crm.read() as conn:
            row = conn.execute(select(tables.webhooks).where(
                tables.webhooks.c.id == webhook_id)).mappings().first()
        if row is None:
            raise NotFound(f"no webhook with id {webhook_id} (crmkit webhooks list shows them)")
        return _webhook(row)

    def list(self, include_removed: bool = False) -> list[Webhook]:
        """Webhooks in id order; removed ones only with ``include_removed``."""
        w = tables.webhooks
        query = select(w).order_by(w.c.id)
        if not include_removed:
            query = query.where(w.c.active.is_(True))
        with self.crm.read() as conn:
            return [_webhook(row) for row in conn.execute(query).mappings()]

    def counts(self) -> dict[int, dict[str, int]]:
        """``{webhook id: {status: deliveries}}``."""
        d = tables.webhook_deliveries
        query = select(d.c.webhook_id, d.c.status, func.count()).group_by(d.c.webhook_id,
                                                                         d.c.status)
        found: dict[int, dict[str, int]] = {}
        with self.crm.read() as conn:
            for webhook_id, status, count in conn.execute(query):
                found.setdefault(webhook_id, {})[status] = count
        return found

    def remove(self, webhook_id: int) -> Webhook:
        """Stop a webhook: nothing more is queued for it, its pending deliveries are marked
        failed and its secret is wiped; the row and its delivery log stay."""
        w, d = tables.webhooks, tables.webhook_deliveries
        with self.crm.transaction() as tx:
            row = tx.conn.execute(select(w.c.active).where(w.c.id == webhook_id)
                                  .with_for_update()).first()
            if row is None:
                raise NotFound(f"no webhook with id {webhook_id} (crmkit webhooks list shows them)")
            if not row.active:
                raise ConflictError(f"webhook {webhook_id} was already removed")
            tx.conn.execute(update(w).where(w.c.id == webhook_id).values(active=False, secret=""))
            dropped = tx.conn.execute(
                update(d).where(d.c.webhook_id == webhook_id, d.c.status == PENDING)
                .values(status=FAILED, last_error="webhook removed before delivery")).rowcount
            tx.audit("update", "webhooks", str(webhook_id),
                     {"active": [True, False], "pending_deliveries_failed": dropped})
        return self.get(webhook_id)

    def deliveries(self, status: str | None = None, webhook_id: int | None = None,
                   after_id: int | None = None, limit: int | None = 100,
                   newest_first: bool = False) -> list[Delivery]:
        """The delivery log, oldest first (``newest_first``: the most recent first):
        filtered by status and webhook; page with ``after_id`` (the last ``Delivery.id``
        seen)."""
        if status is not None and status not in STATUSES:
            raise ValidationError(f"delivery status: {status!r} is not one of "
                                  f"{', '.join(STATUSES)}")
        d = tables.webhook_deliveries
        query = select(d).order_by(d.c.id.desc() if newest_first else d.c.id)
        if status is not None:
            query = query.where(d.c.status == status)
        if webhook_id is not None:
            query = query.where(d.c.webhook_id == webhook_id)
        if after_id is not None:
            query = query.where(d.c.id > after_id)
        if limit is not None:
            query = query.limit(limit)
        with self.crm.read() as conn:
            return [Delivery(**row) for row in conn.execute(query).mappings()]


def _webhook(row) -> Webhook:
    return Webhook(row["id"], masked_url(row["url"]), tuple(row["event_types"]), row["active"],
                   row["created_at"])


# -- checking input -----------------------------------------------------------------------------


def _refused(field: str, detail: str) -> ValidationError:
    """One ValidationError about a webhook's ``field`` (``url``, ``event_types``, ``secret``):
    its message names the field, its problem gives the HTTP API the JSON pointer."""
    label = "events" if field == "event_types" else field
    return ValidationError(f"webhook {label}: {detail}", [("webhook", field, detail)])


def check_url(url: Any) -> str:
    """``url`` if it is an absolute http(s) URL with a host; else one ValidationError."""
    allowed = "(allowed: an absolute http:// or https:// URL with a host)"
    if not isinstance(url, str) or not url.strip():
        raise _refused("url", f"required {allowed}")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _refused("url", f"{len(url)} characters; at most {MAX_URL_LENGTH}")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise _refused("url", f"{url!r} contains spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise _refused("url", f"{url!r} is not an http(s) URL {allowed}")
    try:
        port = parts.port
    except ValueError:
        raise _refused("url", f"{url!r} has an invalid port {allowed}") from None
    if not parts.hostname or port == 0:
        raise _refused("url", f"{url!r} has no host {allowed}")
    return url


def masked_url(url: str) -> str:
    """``url`` with any user and password in it shown as ``***``."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


def check_destination(url: Any, allowed_networks: list[str], timeout_seconds: float,
                      lookup: bool = True) -> str:
    """``url`` if :func:`check_url` accepts it and its host resolves, within
    ``timeout_seconds`` (core config ``webhooks.timeout_seconds``), only to addresses
    webhooks may target: public ones and those in ``allowed_networks`` (core config
    ``webhooks.allowed_networks``; see :class:`crmkit.outbound.Destinations`); else one
    ValidationError.  A host that does not resolve now passes (each delivery checks again
    when it connects).  ``lookup=False``: a host name is not resolved (a URL checked
    before, whose name need not be waited on again); an address host is still checked."""
    import httpcore

    from .outbound import Destinations, DestinationRefused

    url = check_url(url)
    parts = urlsplit(url)
    if not lookup and not _is_address(parts.hostname):
        return url
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        Destinations.of_setting(allowed_networks).addresses(parts.hostname, port,
                                                            timeout_seconds)
    except DestinationRefused as exc:
        raise _refused("url", str(exc)) from None
    except httpcore.ConnectTimeout as exc:
        raise _refused("url", f"{exc} (core config webhooks.timeout_seconds; allowed: a host "
                              "whose name resolves within it, or an address)") from None
    except httpcore.ConnectError:
        pass
    return url


def networks_narrowed(before: Iterable[str], after: Iterable[str]) -> bool:
    """Whether the core config ``webhooks.allowed_networks`` ``after`` refuses an address that
    ``before`` allows: a network of ``before`` within none of ``after``'s."""
    from .outbound import Destinations

    wider = Destinations.of_setting(after).allowed
    return any(not any(network.version == other.version and network.subnet_of(other)
                       for other in wider)
               for network in Destinations.of_setting(before).allowed)


def active_subscriptions(conn) -> list[tuple[int, str]]:
    """``(id, url)`` of each active webhook, in id order."""
    w = tables.webhooks
    return [tuple(row) for row in conn.execute(
        select(w.c.id, w.c.url).where(w.c.active.is_(True)).order_by(w.c.id))]


def check_subscriptions(subscriptions: Iterable[tuple[int, str]], before: Mapping[str, Any],
                        after: Mapping[str, Any]) -> None:
    """When the core config ``webhooks`` ``after`` narrows ``before``'s ``allowed_networks``
    (:func:`networks_narrowed`), check each webhook of ``subscriptions`` (``(id, url)``)
    against it as :func:`check_destination` does (host names resolved again, within its
    ``timeout_seconds``); one ConfigError at ``/webhooks/allowed_networks`` names every
    webhook it would refuse."""
    if not networks_narrowed(before["allowed_networks"], after["allowed_networks"]):
        return
    stranded = []
    for webhook_id, url in subscriptions:
        try:
            check_destination(url, after["allowed_networks"], after["timeout_seconds"])
        except ValidationError as exc:
            stranded.append(f"webhook {webhook_id} ({masked_url(url)}): {exc.problems[0][2]}")
    if stranded:
        pointer = "/webhooks/allowed_networks"
        detail = (f"it would refuse {'; '.join(stranded)}; remove "
                  f"{'it' if len(stranded) == 1 else 'them'} first (crmkit webhooks remove ID) "
                  "or keep the network listed")
        raise ConfigError(f"core config {pointer}: {detail}", [(pointer, detail)])


def _is_address(host: str) -> bool:
    """Whether a URL's host is an IP address (``10.1.2.3``, ``::1``) rather than a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_secret(secret: Any) -> str:
    """``secret`` if it is text of 16 to 500 characters; else one ValidationError."""
    if not isinstance(secret, str) or not secret:
        raise _refused("secret", f"empty (give at least {MIN_SECRET_LENGTH} characters, e.g. "
                       "from `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    if len(secret) < MIN_SECRET_LENGTH:
        raise _refused("secret", f"{len(secret)} characters; at least {MIN_SECRET_LENGTH}")
    if len(secret) > MAX_SECRET_LENGTH:
        raise _refused("secret", f"{len(secret)} characters; at most {MAX_SECRET_LENGTH}")
    return secret


def delivered_permissions(declared_by: Mapping[str, Iterable[str]],
                          event_types: Iterable[str]) -> list[str]:
    """What a role must grant to read all that deliveries of ``event_types`` carry
    (``declared_by``: ``crm.events.declared_by()``): every customer, named and unmasked
    (``customers.read``, ``customers.pii``); for ``interaction.recorded`` the interactions
    (``interactions.read``), for every other type the event log (``events.read``) and, when
    plugins declare it, their ``<plugin>.read``."""
    needed = ["customers.read", "customers.pii"]
    for event_type in event_types:
        needed.append("interactions.read" if event_type == INTERACTION_RECORDED
                      else "events.read")
        needed += [f"{source}.read" for source in declared_by.get(event_type, ())
                   if source != "core"]
    return list(dict.fromkeys(needed))


def check_event_types(event_types: Iterable[str], known: dict[str, str]) -> list[str]:
    """The distinct event types asked for, sorted, each one of ``known``; else one error."""
    if isinstance(event_types, str):
        event_types = [event_types]
    wanted = sorted({t.strip() for t in event_types if isinstance(t, str) and t.strip()})
    if not wanted:
        raise _refused("event_types", "none given (crmkit events types lists them)")
    unknown = [t for t in wanted if t not in known]
    if unknown:
        hint = difflib.get_close_matches(unknown[0], list(known), n=1)
        also = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise _refused("event_types", f"unknown event type {unknown[0]!r}{also}; allowed: the "
                       f"{len(known)} types `crmkit events types` lists")
    return wanted


# -- queueing, inside the transaction that caused the event -------------------------------------


_ACTIVE = (select(tables.webhooks.c.id, tables.webhooks.c.event_types)
           .where(tables.webhooks.c.active.is_(True)).order_by(tables.webhooks.c.id))


def _subscribers(tx: "Transaction") -> dict[str, list[int]]:
    """``{event type: [active webhook ids]}``, read once per transaction."""
    found = tx.webhook_subscribers
    if found is None:
        found = {}
        for webhook_id, types in tx.conn.execute(_ACTIVE):
            for event_type in types:
                found.setdefault(event_type, []).append(webhook_id)
        tx.webhook_subscribers = found
    return found


def queue_event_deliveries(tx: "Transaction", events: list[Event]) -> None:
    """Write a pending delivery for each stored event and webhook subscribed to its type."""
    subscribers = _subscribers(tx)
    if not subscribers:
        return
    _queue(tx, [(e.type, e.id, None) for e in events], subscribers)


def queue_interaction_deliveries(tx: "Transaction", batch: Batch) -> None:
    """Write a pending ``interaction.recorded`` delivery for each interaction of ``batch`` and
    each webhook subscribed to that type."""
    subscribers = _subscribers(tx)
    if INTERACTION_RECORDED not in subscribers:
        return
    _queue(tx, [(INTERACTION_RECORDED, None, row["id"]) for row in batch.rows], subscribers)


def _queue(tx: "Transaction", items: list[tuple[str, int | None, int | None]],
           subscribers: dict[str, list[int]]) -> None:
    now = tx.now()
    rows = [{"delivery_id": str(uuid.uuid4()), "webhook_id": webhook_id, "event_type": type_,
             "event_id": event_id, "interaction_id": interaction_id, "status": PENDING,
             "attempts": 0, "next_attempt_at": now, "created_at": now}
            for type_, event_id, interaction_id in items
            for webhook_id in subscribers.get(type_, ())]
    insert_rows(tx.conn, tables.webhook_deliveries, rows)


# -- delivering (the worker's job) ---------------------------------------------------------------


def deliver_batch(ctx: WorkContext) -> int:
    """Claim a batch of due deliveries, POST each, record each outcome; return how many.
    Once the worker is stopping, the deliveries not yet attempted are handed back."""
    settings = ctx.crm.core_config["webhooks"]
    d = tables.webhook_deliveries
    lease = dt.timedelta(seconds=settings["timeout_seconds"] * ctx.batch_size
                         + LEASE_MARGIN_SECONDS)
    rows = claim_due(ctx, d, lease=lease, where=[d.c.status == PENDING],
                     values={"attempts": d.c.attempts + 1})
    if not rows:
        return 0
    w = tables.webhooks
    with ctx.crm.read() as conn:
        hooks = {r.id: r for r in conn.execute(
            select(w.c.id, w.c.url, w.c.secret, w.c.active)
            .where(w.c.id.in_(bindparam("ids", expanding=True))),
            {"ids": sorted({row["webhook_id"] for row in rows})})}
        bodies = event_bodies(conn, rows)
    from .outbound import Poster

    with Poster.for_webhooks(ctx.crm) as poster:
        for number, row in enumerate(rows):
            if ctx.stop.is_set():
                _hand_back(ctx.crm, rows[number:])
                return number
            hook, body = hooks[row["webhook_id"]], bodies.get(row["id"])
            if not hook.active:
                outcome = (None, "webhook removed before delivery", True)
            elif body is None:
                outcome = (None, "the event's record no longer exists", True)
            else:
                outcome = (*_post(ctx.crm, poster, hook.url, hook.secret, row, body), False)
            _record(ctx.crm, row, *outcome, settings)
    return len(rows)


def _post(crm: "CRM", poster, url: str, secret: str, row: dict[str, Any],
          body: bytes) -> tuple[int | None, str | None]:
    """One attempt, timestamped by the CRM clock: ``(status code, error)``; a 2xx has no
    error."""
    from .outbound import PostFailed

    headers = delivery_headers(secret, body, row["delivery_id"], row["event_type"],
                               int(crm.clock.now().timestamp()))
    try:
        status, reason = poster.post(url, body, headers)
    except PostFailed as exc:
        return None, str(exc)[:MAX_ERROR_LENGTH]
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status} {reason or 'no reason given'}"[:MAX_ERROR_LENGTH]


def _hand_back(crm: "CRM", rows: list[dict[str, Any]]) -> None:
    """Make claimed deliveries that were not attempted (the worker is stopping) due again
    as they were before the claim, so any worker sends them without waiting for the lease."""
    d = tables.webhook_deliveries
    statement = (update(d).where(d.c.id.in_([row["id"] for row in rows]), d.c.status == PENDING)
                 .values(attempts=d.c.attempts - 1, next_attempt_at=crm.clock.now()))
    crm.run_transaction(lambda tx: tx.conn.execute(statement))


def _record(crm: "CRM", row: dict[str, Any], status_code: int | None, error: str | None,
            permanent: bool, settings: dict[str, Any]) -> None:
    now = crm.clock.now()
    values: dict[str, Any] = {"last_attempt_at": now, "last_status_code": status_code,
                              "last_error": error}
    if error is None:
        values.update(status=DELIVERED, delivered_at=now)
    elif permanent or row["attempts"] >= settings["max_attempts"]:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = now + retry_delay(
            row["attempts"], settings["backoff_base_seconds"], settings["backoff_cap_seconds"])
    d = tables.webhook_deliveries
    statement = update(d).where(d.c.id == row["id"], d.c.status == PENDING).values(values)
    crm.run_transaction(lambda tx: tx.conn.execute(statement))


def event_bodies(conn, rows: list[dict[str, Any]]) -> dict[int, bytes]:
    """``{delivery row id: JSON body}`` built from the stored events and interactions (rows
    whose record is gone are absent)."""
    e, i, c = tables.events, tables.interactions, tables.customers
    ids = bindparam("ids", expanding=True)
    events = {r["id"]: r for r in conn.execute(
        select(e).where(e.c.id.in_(ids)),
        {"ids": sorted({r["event_id"] for r in rows if r["event_id"] is not None})}).mappings()}
    interactions = {r["id"]: r for r in conn.execute(
        select(i).where(i.c.id.in_(ids)),
        {"ids": sorted({r["interaction_id"] for r in rows
                        if r["interaction_id"] is not None})}).mappings()}
    customer_ids = {r["customer_id"] for r in [*events.values(), *interactions.values()]}
    external = dict(conn.execute(select(c.c.id, c.c.external_id).where(c.c.id.in_(ids)),
                                 {"ids": sorted(x for x in customer_ids if x is not None)}).all())
    bodies = {}
    for row in rows:
        if row["event_id"] is not None and row["event_id"] in events:
            event = events[row["event_id"]]
            document = {"event_id": event["id"], "type": event["type"],
                        "occurred_at": event["occurred_at"], "source": event["source"],
                        "customer": external.get(event["customer_id"]),
                        "payload": event["payload"]}
        elif row["interaction_id"] is not None and row["interaction_id"] in interactions:
            item = interactions[row["interaction_id"]]
            document = {"event_id": None, "type": INTERACTION_RECORDED,
                        "occurred_at": item["recorded_at"], "source": "core",
                        "customer": external.get(item["customer_id"]),
                        "payload": {"interaction_id": item["id"],
                                    "external_id": item["external_id"],
                                    "occurred_at": item["occurred_at"], "kind": item["kind"],
                                    "channel": item["channel"], "direction": item["direction"],
                                    "amount": item["amount"], "currency": item["currency"],
                                    "payload": item["payload"]}}
        else:
            continue
        bodies[row["id"]] = json.dumps(jsonable(document), sort_keys=True, ensure_ascii=False,
                                       separators=(",", ":")).encode("utf-8")
    return bodies


__all__ = [
    "sign", "signed_content", "delivery_headers", "verify", "retry_delay", "Webhook",
    "Delivery", "WebhookService", "check_url", "check_destination", "networks_narrowed",
    "active_subscriptions", "check_subscriptions", "masked_url",
    "check_secret", "check_event_types", "delivered_permissions", "queue_event_deliveries",
    "queue_interaction_deliveries", "deliver_batch", "event_bodies", "SIGNATURE_HEADER",
    "EVENT_HEADER", "DELIVERY_HEADER", "TIMESTAMP_HEADER", "SIGNATURE_TOLERANCE_SECONDS",
    "STATUSES", "PENDING", "DELIVERED", "FAILED", "MIN_SECRET_LENGTH", "LEASE_MARGIN_SECONDS",
]
