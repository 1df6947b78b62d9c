"""The domain objects the Python API hands out (attrs classes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from .deltas import CustomerDelta


@attrs.frozen
class Customer:
    """A person or organisation.  ``external_id`` is the id users and imports know it by."""

    id: int
    external_id: str
    type: str
    name: str | None
    email: str | None = None
    phone: str | None = None
    organisation_id: int | None = None
    preferred_channel: str | None = None
    lifecycle_stage: str | None = None
    tags: tuple[str, ...] = ()
    attributes: dict[str, Any] = attrs.field(factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    erased_at: dt.datetime | None = None


@attrs.frozen
class Interaction:
    """Something that happened between a customer and the business."""

    id: int
    customer_id: int
    occurred_at: dt.datetime
    kind: str
    direction: str
    channel: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    external_id: str | None = None
    payload: dict[str, Any] | None = None
    actor: str | None = None
    recorded_at: dt.datetime | None = None


@attrs.frozen
class Staff:
    """A user or agent who owns work; ``team`` groups staff for routing and assignment."""

    id: int
    handle: str
    name: str
    team: str
    email: str | None = None
    active: bool = True
    role: str = "agent"
    """The role whose permissions the member has (core config ``roles``)."""
    locale: str | None = None
    """The web app language the member chose (a BCP 47 tag of :data:`crmkit.i18n.LOCALES`);
    None: the browser's ``Accept-Language`` decides."""


@attrs.frozen
class ApiToken:
    """An API token of a staff member; the secret itself is never stored, only its SHA-256."""

    id: int
    staff_handle: str
    name: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None

    def status(self, now: dt.datetime) -> str:
        """``revoked``, ``expired`` (at ``now``) or ``active``."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at is not None and self.expires_at <= now else "active"


INTERACTION_RECORDED = "interaction.recorded"
"""The event type of a recorded interaction: not stored per row (plugins see interactions in
``crmkit_react_interactions``), but automation rules and webhooks listen to it."""


@attrs.frozen
class Event:
    """A domain event (``interaction.recorded``, ``stage.changed``, …) stored in ``events``."""

    id: int
    type: str
    customer_id: int | None
    occurred_at: dt.datetime
    source: str
    payload: dict[str, Any]
    depth: int = 0


@attrs.frozen
class EventType:
    """An event type as ``crmkit_event_types`` declares it: a one-line ``description`` and
    the top-level payload keys whose values are personal data (``personal``: a social
    handle, a channel's error naming the recipient).  A member without ``customers.pii``
    reads those values as ``***`` in ``GET /api/v1/events``; webhooks get them unmasked.
    A plain description declares a type whose payload holds nothing personal."""

    description: str
    personal: tuple[str, ...] = attrs.field(default=(), converter=lambda v: _texts(v))


@attrs.frozen
class Batch:
    """A persisted batch handed to react hooks: rows (dicts with ``id``) and their id range."""

    kind: str
    rows: list[dict[str, Any]]
    first_id: int
    last_id: int
    _deltas: Any = attrs.field(default=None, init=False, eq=False, repr=False)

    def __len__(self) -> int:
        return len(self.rows)

    def customer_deltas(self, conn) -> "dict[int, dict[str, CustomerDelta]]":
        """What this batch of interactions added to each customer it touched:
        ``{customer_id: {kind: CustomerDelta}}`` (count, amount sum, first and last
        ``occurred_at`` per kind; see :class:`crmkit.plugin.CustomerDelta`).

        Computed on the first call and cached on the batch, so every react hook of
        the batch shares one computation: from the batch's rows, or, for the batches
        without rows that after-commit hooks receive, with one grouped SELECT of the
        stored rows on ``conn`` (the hook's ``ctx.conn``).  Only interactions
        batches have deltas (a ValueError otherwise).
        """
        if self.kind != "interactions":
            raise ValueError(f"customer deltas exist for interactions batches, not {self.kind}")
        if self._deltas is None:
            from .deltas import customer_deltas, deltas_of_rows

            object.__setattr__(self, "_deltas", deltas_of_rows(self.rows) if self.rows else
                               customer_deltas(conn, self.first_id, self.last_id))
        return self._deltas


def _texts(value: Any) -> tuple:
    """A text, or an iterable of them, as a tuple (one text is one value, not its letters)."""
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class TimelineEntry:
    """One line of a customer's timeline; ``source`` is filled in by the core.

    ``personal`` lists the personal values (a social handle, a name, a post's text) that
    ``summary`` contains, as they appear in it: for a member without ``customers.pii`` the
    core shows each as ``***`` (and no ``details`` at all).  It is never shown itself.

    ``resource`` is the record the entry is about as the plugin's ``crmkit_permission_allowed``
    receives it for ``<plugin>.read`` (operational's ``{"owner": "ana"}``, the owner of the
    lead or the assignee of the task), None when it is about no one record: a member whom a
    row-level rule restricts on ``<plugin>.read`` reads the entry only when the rules allow
    them that record (``crm.auth.allowed``), and none without one.  It is never shown itself.
    """

    at: dt.datetime
    kind: str
    summary: str
    details: dict[str, Any] = attrs.field(factory=dict)
    source: str = ""
    personal: tuple[str, ...] = attrs.field(default=(), converter=lambda v: _texts(v))
    resource: dict[str, Any] | None = None


@attrs.define
class WriteResult:
    """What a write did: counts, and the after-commit failures that were reported."""

    created: int = 0
    unchanged: int = 0
    updated: int = 0
    after_commit_errors: list[str] = attrs.field(factory=list)

    def add(self, other: "WriteResult") -> None:
        """Accumulate another batch's result into this one."""
        self.created += other.created
        self.unchanged += other.unchanged
        self.updated += other.updated
        self.after_commit_errors.extend(other.after_commit_errors)


@attrs.frozen
class PluginInfo:
    """A plugin's metadata, declared as ``PLUGIN = crmkit.PluginInfo(...)`` in its module."""

    name: str
    description: str
    requires: tuple[str, ...] = ()
    crmkit_versions: str = ">=0.1,<1"
    after: tuple[str, ...] = ()
    """Plugins whose hooks (and demo) run before this plugin's when they are enabled too,
    without being required; ``"*"`` means every plugin that does not say ``"*"`` itself
    (for a plugin that reports on the others, like ``assessment``)."""
    payload_keys: tuple[str, ...] = ()
    """Keys of interaction and event payloads whose text this plugin writes or reads and that
    is not personal (survey scores, item categories…): erasure keeps their text."""
    api: str | None = None
    """The class of the plugin's public API (``crm.plugin(name)``) in its ``api`` module,
    named ``<Name>API`` (``"LoyaltyAPI"``)."""
    parts: tuple[str, ...] = ()
    """The parts of the plugin package the core loads by convention when their hooks are
    called: ``cli``, ``config``, ``settings``, ``migrations``, ``tables``, ``dataservices``,
    ``demo`` (see :mod:`crmkit.parts`)."""


def to_customer(row) -> Customer:
    """Build a Customer from a ``customers`` row mapping."""
    return Customer(
        id=row["id"], external_id=row["external_id"], type=row["type"], name=row["name"],
        email=row["email"], phone=row["phone"], organisation_id=row["organisation_id"],
        preferred_channel=row["preferred_channel"], lifecycle_stage=row["lifecycle_stage"],
        tags=tuple(row["tags"] or ()), attributes=dict(row["attributes"] or {}),
        created_at=row["created_at"], updated_at=row["updated_at"], erased_at=row["erased_at"],
    )


def jsonable(value: Any) -> Any:
    """Make values printable as JSON/CSV: Decimal → string, datetimes → ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if attrs.has(type(value)):
        return jsonable(attrs.asdict(value, recurse=False))
    return value


__all__ = [
    "Customer", "Interaction", "Staff", "ApiToken", "Event", "EventType", "Batch",
    "TimelineEntry",
    "WriteResult", "PluginInfo", "to_customer", "jsonable", "INTERACTION_RECORDED",
]
