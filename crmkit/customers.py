"""Customers through the write pipeline: add, upsert, update, look up, list."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from typing import Any, Collection, Iterable, Mapping, Sequence, TypeVar

import attrs
from sqlalchemy import bindparam, func, or_, select, update

from . import tables
from .bulk import insert_rows
from .config import describe_error, schema_errors, schema_validator
from .db import (allocate_ids, json_array_contains, json_array_text_contains, lock_rows,
                 lowercase, select_in)
from .errors import ConflictError, NotFound, ValidationError
from .models import Batch, Customer, WriteResult, to_customer
from . import pipeline
from .pipeline import Checked, Problem, run_batches
from .transaction import ReadContext, Transaction
from .types import (IDENTIFIER, LINE, TEXT, UNSTORABLE_TEXT, TextLimit, json_problem,
                    normal_text, tag_problem, text_problem, to_phone, too_long,
                    unstorable_text)

TYPES = ("person", "organisation")
FIELDS = ("external_id", "name", "type", "email", "phone", "organisation", "organisation_id",
          "preferred_channel", "lifecycle_stage", "tags", "attributes")
TEXT_LIMITS = {"external_id": 200, "name": 300, "email": 320, "phone": 64,
               "preferred_channel": 40, "lifecycle_stage": 40, "organisation": 200}
UPDATABLE = ("name", "type", "email", "phone", "organisation_id", "preferred_channel",
             "lifecycle_stage", "tags", "attributes")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_TEXT = re.compile(r"^[0-9 +()./-]+$")
PHONE_MARKS = (" ", "-", "(", ")", ".", "/", "+")
"""What :meth:`CustomerService.search` ignores when it compares phone digits."""
MAX_TAGS = 1_000
"""The most tags one customer may carry."""
MAX_SEARCH_TEXT = 200
"""The longest text :meth:`CustomerService.search` takes (characters): no name, email or
external id is longer, and a longer text only makes the database work harder."""
K = TypeVar("K")
_REFERENCES = ("external_id", "organisation")
"""Fields that are external ids: the identifier text rule applies (see crmkit.types)."""
_CUSTOMER_BY = {column: select(tables.customers).where(
    tables.customers.c[column] == bindparam("value")) for column in ("id", "external_id")}
"""The customer whose ``id`` or ``external_id`` is the parameter ``value``, built once (read
for every API request on a customer)."""


def search_text_problem(text: str) -> str | None:
    """Why ``text`` is no search text (longer than :data:`MAX_SEARCH_TEXT` characters), or
    None."""
    if len(text) > MAX_SEARCH_TEXT:
        return too_long(text, MAX_SEARCH_TEXT)
    return None


class CustomerService:
    """``crm.customers``: the people and organisations the CRM is about."""

    def __init__(self, crm):
        self.crm = crm
        self._validator_key: Any = None
        self._validator = None

    # -- writing ------------------------------------------------------------------

    def add(self, external_id: str, name: str | None = None, *,
            hidden_customers: Collection[str] = (), **fields: Any) -> Customer:
        """Create one customer; an existing external id is a ConflictError.

        ``hidden_customers``: external ids (NFC) of customers a plugin's row-level rule hides
        from the member writing (``crm.auth.hidden_customers``); an ``organisation`` among
        them is refused as an unknown one."""
        row = dict(fields, external_id=external_id, name=name)
        if isinstance(external_id, str):
            external_id = normal_text(external_id.strip())
        with self.crm.transaction() as tx:
            found = self.ids_by_external_id({external_id}, tx.conn)
            if found:
                erased = tx.conn.execute(select(tables.customers.c.erased_at).where(
                    tables.customers.c.id == found[external_id])).scalar()
                raise ConflictError(f"customer {external_id!r} already exists" if erased is None
                                    else f"customer {external_id!r} was erased: its external id "
                                    "is not used again (choose another)")
            write_batch(tx, [row], [pipeline.ONE_RECORD], upsert=False,
                        hidden_customers=hidden_customers)
            return self.get(external_id)

    def add_many(self, rows: Iterable[dict[str, Any]], batch_size: int = 2000,
                 atomic: bool = False, upsert: bool = True) -> WriteResult:
        """Create customers from any iterable; with ``upsert`` existing external ids are updated.

        Only the fields a row gives are compared and changed (attributes key by
        key); each change is audited old → new and emits ``customer.updated``.
        """
        return run_batches(
            self.crm, rows, batch_size, atomic,
            lambda tx, chunk, offset: write_batch(
                tx, chunk, [f"row {offset + i + 1}" for i in range(len(chunk))], upsert=upsert),
        )

    def update(self, external_id: str, *, hidden_customers: Collection[str] = (),
               **changes: Any) -> Customer:
        """Change fields of one customer (``attributes`` merge key by key); audited;
        ``hidden_customers`` as for :meth:`add`."""
        self.get(external_id)
        with self.crm.transaction() as tx:
            write_batch(tx, [dict(changes, external_id=external_id)], [pipeline.ONE_RECORD],
                        upsert=True, hidden_customers=hidden_customers)
        return self.get(external_id)

    def check(self, rows: Sequence[dict[str, Any]], labels: Sequence[str]) -> list[Problem]:
        """Validate customer rows (core and plugins) without writing; return every problem."""
        with self.crm.read() as conn:
            self.crm.refresh_plugins(conn)
            tx = ReadContext(self.crm, conn)
            return pipeline.check(tx, CustomerRows(upsert=True), list(rows), list(labels))[1]

    def preview(self, rows: Sequence[dict[str, Any]], labels: Sequence[str]
                ) -> tuple[list[str], list[str], list[Problem]]:
        """Check rows like :meth:`check` and say what an upsert would do, without writing.

        Returns the external ids that would be created, those that would be
        updated (the rest are unchanged), and every problem.
        """
        with self.crm.read() as conn:
            self.crm.refresh_plugins(conn)
            tx = ReadContext(self.crm, conn)
            checked, problems = pipeline.check(tx, CustomerRows(upsert=True), list(rows),
                                               list(labels))
        return ([r["external_id"] for r in checked.rows], [u[1] for u in checked.updates],
                problems)

    def create_minimal(self, tx: Transaction, external_ids: Sequence[str]) -> dict[str, int]:
        """Create bare customers (external id only) inside ``tx``; return their ids."""
        write_batch(tx, [{"external_id": e} for e in external_ids],
                    [f"customer {e}" for e in external_ids], upsert=False)
        return self.ids_by_external_id(set(external_ids), tx.conn)

    # -- reading ------------------------------------------------------------------

    def get(self, external_id: str) -> Customer:
        """The customer with this external id, or NotFound (naming the customer it was merged
        into, when it was)."""
        try:
            return self._one("external_id", normal_text(external_id), repr(external_id))
        except NotFound:
            with self.crm.read() as conn:
                raise NotFound(self.missing_message(conn, external_id)) from None

    def lock(self, tx: Transaction, external_id: str) -> Customer:
        """The customer with this external id, share-locked until ``tx`` ends (or NotFound).

        Every writer that adds or changes rows of a customer takes this lock first, before
        any plugin row of that customer: a merge locks both customers exclusively before it
        touches anything, so the two wait for each other instead of deadlocking, and a
        writer that waited for a merge of its customer is told which customer it was
        merged into.  (PostgreSQL ``FOR KEY SHARE``; on SQLite the transaction's write lock
        already excludes every other writer.)
        """
        customer_id = self.ids_by_external_id([external_id], tx.conn, lock=True).get(external_id)
        if customer_id is None:
            raise NotFound(self.missing_message(tx.conn, external_id))
        row = tx.conn.execute(select(tables.customers)
                              .where(tables.customers.c.id == customer_id)).mappings().one()
        return to_customer(row)

    def merged_into(self, conn, external_ids: Iterable[str]) -> dict[str, tuple[str, dt.datetime]]:
        """``{external id: (external id merged into, when)}`` for those of ``external_ids``
        that were merged away (from the ``customer.merged`` events; the latest merge wins)."""
        e, c = tables.events, tables.customers
        duplicate = e.c.payload["duplicate_external_id"].as_string()
        query = (select(duplicate, c.c.external_id, e.c.occurred_at)
                 .join(c, c.c.id == e.c.customer_id)
                 .where(e.c.type == "customer.merged",
                        duplicate.in_(bindparam("refs", expanding=True)))
                 .order_by(e.c.id))
        refs = sorted(set(external_ids))
        found: dict[str, tuple[str, dt.datetime]] = {}
        for ref, keep, at in select_in(conn, query, "refs", refs):
            found[ref] = (keep, at)
        return found

    def missing_message(self, conn, external_id: str, role: str = "") -> str:
        """``no customer 'X'`` (with `` (ROLE)`` when given), or when X was merged away, which
        customer it was merged into and when (:func:`merged_away`)."""
        merged = self.merged_into(conn, [external_id]).get(external_id)
        if merged is not None:
            return merged_away(external_id, *merged)
        return f"no customer {external_id!r}" + (f" ({role})" if role else "")

    def get_by_id(self, customer_id: int) -> Customer:
        """The customer with this internal id, or NotFound."""
        return self._one("id", customer_id, f"with id {customer_id}")

    def _one(self, column: str, value: Any, what: str) -> Customer:
        """The customer whose ``column`` (``id`` or ``external_id``) is ``value``, or NotFound
        (no customer ``what``)."""
        with self.crm.read() as conn:
            row = conn.execute(_CUSTOMER_BY[column], {"value": value}).mappings().first()
        if row is None:
            raise NotFound(f"no customer {what}")
        return to_customer(row)

    def find(self, email: str | None = None, phone: str | None = None, name: str | None = None,
             tag: str | None = None, limit: int = 100) -> list[Customer]:
        """Customers matching every given criterion (email case-insensitive, name substring)."""
        c = tables.customers.c
        query = select(tables.customers).order_by(c.id).limit(limit)
        if email is not None:
            query = query.where(lowercase(c.email) == normal_text(email.strip()).lower())
        if phone is not None:
            try:
                phone = to_phone(phone, self.crm.core_config["phone_region"])
            except ValidationError:
                pass  # not a number: matches nothing stored
            query = query.where(c.phone == phone)
        if name is not None:
            query = query.where(lowercase(c.name).contains(normal_text(name).lower(),
                                                            autoescape=True))
        if tag is not None:
            query = query.where(json_array_contains(c.tags, normal_text(tag)))
        with self.crm.read() as conn:
            return [to_customer(r) for r in conn.execute(query).mappings()]

    def search(self, text: str | None, tag: str | None = None, limit: int = 100,
               after: int | None = None, personal: bool = True) -> list[Customer]:
        """Customers whose name, email, external id or a tag contains ``text`` (any case), or
        whose phone contains its digits; with ``tag`` only customers carrying that tag.

        ``personal=False`` matches only what a member without ``customers.pii`` may see:
        the external id and the tags (a search by name, email or phone would tell, one
        character at a time, what the masks hide).  A ``text`` longer than
        :data:`MAX_SEARCH_TEXT` characters is a ValidationError.  Erased customers are never
        found.  Results are in id order; ``after`` (an internal id, the last one of the
        previous page) starts past it.
        """
        problem = None if text is None else search_text_problem(text)
        if problem is not None:
            raise ValidationError(f"search text: {problem}", [("", "q", problem)])
        c = tables.customers.c
        query = select(tables.customers).where(c.erased_at.is_(None)).order_by(c.id).limit(limit)
        if after is not None:
            query = query.where(c.id > after)
        if text is not None and text.strip():
            needle = normal_text(text.strip()).lower()
            columns = (c.name, c.email, c.external_id) if personal else (c.external_id,)
            matches = [lowercase(column).contains(needle, autoescape=True) for column in columns]
            matches.append(json_array_text_contains(c.tags, needle))
            digits = "".join(ch for ch in needle if ch.isdigit() and ch.isascii())
            if personal and len(digits) >= 3 and PHONE_TEXT.match(needle):
                phone_digits = c.phone
                for mark in PHONE_MARKS:
                    phone_digits = func.replace(phone_digits, mark, "")
                matches.append(phone_digits.contains(digits, autoescape=True))
            query = query.where(or_(*matches))
        if tag is not None:
            query = query.where(json_array_contains(c.tags, normal_text(tag)))
        with self.crm.read() as conn:
            return [to_customer(r) for r in conn.execute(query).mappings()]

    @staticmethod
    def found_without_personal(customer: Customer | dict[str, Any], text: str | None) -> bool:
        """Whether :meth:`search` with ``personal=False`` finds ``customer`` (a Customer or
        its document) for ``text``: its external id or a tag contains the text (any case).
        Any customer matches no text."""
        if text is None or not text.strip():
            return True
        get = customer.get if isinstance(customer, dict) else functools.partial(getattr,
                                                                                 customer)
        needle = normal_text(text.strip()).lower()
        texts = (str(get("external_id")), *(get("tags") or ()))
        return any(needle in value.lower() for value in texts)

    def list(self, limit: int | None = 100, offset: int = 0, type: str | None = None,
             organisation: str | None = None) -> list[Customer]:
        """Customers in id order; optionally only one type or the people of one organisation."""
        c = tables.customers.c
        query = select(tables.customers).order_by(c.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        if type is not None:
            query = query.where(c.type == type)
        if organisation is not None:
            query = query.where(c.organisation_id == self.get(organisation).id)
        with self.crm.read() as conn:
            return [to_customer(r) for r in conn.execute(query).mappings()]

    def count(self) -> int:
        """How many customers there are."""
        with self.crm.read() as conn:
            return conn.execute(select(func.count()).select_from(tables.customers)).scalar_one()

    def ids_by_external_id(self, external_ids: Iterable[str], conn,
                           lock: bool = False) -> dict[str, int]:
        """Map external ids to internal ids (unknown ones are absent).

        On SQLite the ids travel as one JSON array joined through ``json_each``,
        on PostgreSQL as one array parameter (a batch resolves tens of thousands
        at once; bound one by one they cost more to render than to look up).  ``lock`` (inside a write
        transaction): share-lock the customers found, in id order, as
        :meth:`lock` does; one merged away meanwhile is absent.  PostgreSQL finds and locks
        them in one statement: after waiting for a lock it checks the row's newest version
        against the external ids again, so a customer merged away or renamed meanwhile is
        left out.
        """
        refs = list(external_ids)
        if conn.dialect.name == "sqlite":
            return dict(conn.exec_driver_sql(
                "SELECT c.external_id, c.id FROM json_each(?) AS j"
                " JOIN customers AS c ON c.external_id = j.value", (json.dumps(refs),)).all())
        locking = " ORDER BY id FOR KEY SHARE" if lock else ""
        return dict(conn.exec_driver_sql(  # one array parameter, however many ids
            f"SELECT external_id, id FROM customers WHERE external_id = ANY(%s){locking}",
            (refs,)).all())

    def external_ids_by_id(self, ids: Iterable[int]) -> dict[int, str]:
        """Map internal customer ids to external ids (unknown ids are absent)."""
        c = tables.customers.c
        wanted = sorted({i for i in ids if i is not None})
        found: dict[int, str] = {}
        query = select(c.id, c.external_id).where(c.id.in_(bindparam("ids", expanding=True)))
        with self.crm.read() as conn:
            found.update(select_in(conn, query, "ids", wanted))
        return found

    def by_id(self, ids: Iterable[int]) -> dict[int, Customer]:
        """Map internal customer ids to the customers, in one query (unknown ids are
        absent)."""
        return {c.id: c for c in self._many("id", {i for i in ids if i is not None})}

    def by_external_id(self, external_ids: Iterable[str]) -> dict[str, Customer]:
        """Map external ids to the customers, in one query (unknown ids are absent)."""
        return {c.external_id: c for c in self._many("external_id", set(external_ids))}

    def _many(self, column: str, values: set[Any]) -> list[Customer]:
        c = tables.customers
        query = select(c).where(c.c[column].in_(bindparam("values", expanding=True)))
        with self.crm.read() as conn:
            rows = select_in(conn, query, "values", sorted(values))
        return [to_customer(row._mapping) for row in rows]

    def documents(self, customers: Mapping[K, Customer]) -> dict[K, dict[str, Any]]:
        """Customers (keyed as the caller likes) as the API shows them and row-level rules
        (``crmkit_permission_allowed``) see them: external ids only, the organisation's
        too (every organisation looked up in one query)."""
        organisations = self.external_ids_by_id(c.organisation_id for c in customers.values())
        return {key: {"external_id": c.external_id, "type": c.type, "name": c.name,
                      "email": c.email, "phone": c.phone,
                      "organisation": organisations.get(c.organisation_id),
                      "preferred_channel": c.preferred_channel,
                      "lifecycle_stage": c.lifecycle_stage, "tags": list(c.tags),
                      "attributes": c.attributes, "created_at": c.created_at,
                      "updated_at": c.updated_at, "erased_at": c.erased_at}
                for key, c in customers.items()}

    def names(self, external_ids: Iterable[str]) -> dict[str, str | None]:
        """Map external ids to the customers' names, in one query (unknown ids are absent;
        a customer without a name maps to None).  Names are personal data: mask them with
        ``crm.auth.mask_pii`` before showing them to a caller."""
        c = tables.customers.c
        wanted = sorted(set(external_ids))
        found: dict[str, str | None] = {}
        query = select(c.external_id, c.name).where(
            c.external_id.in_(bindparam("refs", expanding=True)))
        with self.crm.read() as conn:
            found.update(select_in(conn, query, "refs", wanted))
        return found

    def existing_ids(self, ids: Iterable[int], conn, lock: bool = False) -> set[int]:
        """The subset of ``ids`` that are customers (share-locked with ``lock``, as by
        :meth:`lock`)."""
        c = tables.customers
        wanted = list(ids)
        if lock and conn.dialect.name != "sqlite":
            return {r.id for r in lock_rows(conn, tables.customers, wanted)}
        query = select(c.c.id).where(c.c.id.in_(bindparam("ids", expanding=True)))
        return {r[0] for r in conn.execute(query, {"ids": wanted})}

    # -- data services (crmkit/services) ---------------------------------------------------

    def merge(self, keep_external_id: str, duplicate_external_id: str,
              dry_run: bool = False) -> Customer:
        """Merge DUPLICATE into KEEP (all rows of every plugin, atomically); return KEEP.

        KEEP's non-empty fields win, its gaps are filled from DUPLICATE, tags are
        united; the duplicate's row is deleted.  ``dry_run`` returns what KEEP
        would become and writes nothing.  See :mod:`crmkit.services.merging`.
        """
        from .services.merging import merge

        return merge(self.crm, keep_external_id, duplicate_external_id, dry_run).customer

    def erase(self, external_id: str) -> Customer:
        """Erase a customer's personal data in every table (privacy request); return the tombstone."""
        from .services.privacy import erase

        return erase(self.crm, external_id)

    def export_data(self, external_id: str, deliver=None) -> dict[str, Any]:
        """Everything held about one customer, JSON-ready (privacy access request; recorded).

        ``deliver(document)``, if given, is called before the request is
        recorded; if it raises, the request is not recorded.
        """
        from .services.privacy import export_data

        return export_data(self.crm, external_id, deliver)

    def set_consent(self, external_id: str, channel: str, granted: bool, source: str):
        """Record a grant (``granted=True``) or withdrawal of consent on a channel; audited."""
        from .services.consent import set_consent

        return set_consent(self.crm, external_id, channel, granted, source)

    def consents(self, external_id: str) -> list:
        """The customer's current consent decisions, one per channel."""
        from .services.consent import consents

        return consents(self.crm, self.get(external_id).id)

    def has_consent(self, customer_id: int, channel: str) -> bool:
        """True when the customer (internal id) consented to contact on ``channel``."""
        from .services.consent import has_consent

        return has_consent(self.crm, customer_id, channel)

    def require_consent(self, customer_id: int, channel: str) -> None:
        """Raise ``ConsentError`` naming customer and channel unless contact is consented.

        Call it before every outbound contact.
        """
        from .services.consent import require_consent

        require_consent(self.crm, customer_id, channel)

    def timeline(self, external_id: str, limit: int = 100, masked: bool = False,
                 reader=None) -> list:
        """One timeline, newest first: interactions, audit entries, every plugin's entries.

        ``masked=True``: as a member without ``customers.pii`` may see it (the personal
        values each entry names read ``***``; an audit entry's details masked as the audit
        log's, every other entry's left out); ``reader`` (a Principal): only the plugins'
        entries that member reads (``<plugin>.read``, and a plugin's row-level rule allowing
        them the record an entry is about: :mod:`crmkit.services.timeline`)."""
        from .services.timeline import timeline

        return timeline(self.crm, self.get(external_id).id, limit, masked, reader)

    def history(self, external_id: str, limit: int | None = 100) -> list:
        """The audit-log entries of one customer, newest first."""
        from .services.audit import AuditLog

        return AuditLog(self.crm).list(customer=external_id, limit=limit)

    # -- attributes schema ---------------------------------------------------------------

    def attribute_schema(self) -> dict[str, Any]:
        """The customer attributes JSON Schema: the core config's, extended by enabled plugins."""
        base = self.crm.core_config["customer_attributes"]
        schema = {"type": "object", **base}
        properties = dict(schema.get("properties", {}))
        required = list(schema.get("required", []))
        for name in self.crm.enabled_plugins():
            fragment = self.crm.hooks.call_one(name, "crmkit_customer_schema", None,
                                               config=self.crm.plugin_config(name))
            if fragment:
                properties.update(fragment.get("properties", {}))
                required.extend(fragment.get("required", []))
        schema["properties"] = properties
        if required:
            schema["required"] = sorted(set(required))
        return schema

    def attribute_problems(self, attributes: Any) -> list[str]:
        """Every violation of the attributes schema, as ``/pointer: message`` lines."""
        key = (self.crm.plugins_revision, repr(self.crm.core_config["customer_attributes"]))
        if key != self._validator_key:
            self._validator = schema_validator(self.attribute_schema())
            self._validator_key = key
        return [describe_error(e) for e in schema_errors(self._validator, attributes,
                                                         "core config /customer_attributes")]


def merged_away(external_id: str, keep: str, at: dt.datetime) -> str:
    """The error text for a customer that no longer exists because it was merged into KEEP."""
    return (f"customer {external_id!r} was merged into {keep!r} at {at:%Y-%m-%d %H:%M} UTC: "
            f"use {keep!r}")


# -- the pipeline steps ---------------------------------------------------------------------


def write_batch(tx: Transaction, chunk: list[Any], labels: list[str], upsert: bool,
                hidden_customers: Collection[str] = ()) -> WriteResult:
    """The write pipeline for one batch of customers inside ``tx``: new ones are inserted,
    changed ones updated."""
    return pipeline.write_batch(tx, CustomerRows(upsert, hidden_customers), chunk, labels)


class CustomerRows:
    """Customers as the write pipeline takes them (a :class:`crmkit.pipeline.RowKind`): new
    rows are inserted (and validated by plugins), changed stored ones updated;
    ``upsert=False`` refuses stored external ids.  ``hidden_customers``: external ids (NFC)
    of customers a plugin's row-level rule hides from the member writing; a row naming one
    as its organisation is refused as naming an unknown one."""

    name = "customers"
    enrich_hook = None

    def __init__(self, upsert: bool, hidden_customers: Collection[str] = ()):
        self.upsert = upsert
        self.hidden_customers = hidden_customers

    def normalise(self, tx: Transaction, chunk: list[Any], labels: list[str]
                  ) -> tuple[Checked, list[Problem]]:
        """Check rows; split them into new rows and ``(id, external_id, old, new)`` updates."""
        return _split(tx, chunk, labels, self.upsert, self.hidden_customers)

    def persist(self, tx: Transaction, checked: Checked) -> tuple[Batch | None, WriteResult]:
        """Insert the new rows, then apply the updates (a stored customer may join an
        organisation the batch creates)."""
        batch = _insert(tx, checked.rows) if checked.rows else None
        _apply_updates(tx, _resolved(checked.updates, batch))
        return batch, WriteResult(created=len(checked.rows), updated=len(checked.updates))


def _split(tx: Transaction, chunk: list[Any], labels: list[str], upsert: bool,
           hidden_customers: Collection[str] = ()) -> tuple[Checked, list[Problem]]:
    """Check rows; split them into new rows and ``(id, external_id, old, new)`` updates."""
    problems: list[Problem] = []
    normalised, normalised_labels = [], []
    for raw, where in zip(chunk, labels):
        row = _normalise(raw, where, problems, tx.crm.core_config)
        if row is not None:
            normalised.append(row)
            normalised_labels.append(where)
    rows, row_labels = pipeline.drop_repeats(
        normalised, normalised_labels, problems, key=lambda row: row["external_id"],
        field="external_id", name=lambda row: repr(row["external_id"]))
    existing = _existing(tx.conn, [r["external_id"] for r in rows])
    org_refs = {r["organisation"] for r in rows if r.get("organisation")}
    orgs = _existing(tx.conn, list(org_refs - set(hidden_customers))) if org_refs else {}
    batch_orgs = {r["external_id"] for r in rows if r.get("type", "person") == "organisation"}
    to_people = {r["external_id"] for r in rows if r.get("type") == "person"}
    rejected_orgs = _rejected_organisations(chunk, labels, set(normalised_labels))
    new_rows, updates, new_labels, update_labels = [], [], [], []
    service = tx.crm.customers
    no_attributes: list[str] | None = None  # the schema's problems with no attributes at all
    for row, where in zip(rows, row_labels):
        leaves = "organisation" in row and row["organisation"] is None
        ref = row.pop("organisation", None)
        if ref is not None:
            org = orgs.get(ref)
            if org is not None and org["type"] == "organisation" and ref not in to_people:
                row["organisation_id"] = org["id"]
            elif org is None and ref in batch_orgs:
                row["_organisation_ref"] = ref
            elif org is None and ref in rejected_orgs:
                problems.append((where, "organisation",
                                 REJECTED_ORGANISATION.format(ref, rejected_orgs[ref])))
                continue
            else:
                problems.append((where, "organisation",
                                 f"{ref!r} is not an organisation customer"))
                continue
        elif leaves:
            row["organisation_id"] = None
        stored = existing.get(row["external_id"])
        if stored is not None:
            found = _type_problem(tx.conn, stored, row)
            if found is not None:
                problems.append((where, *found))
                continue
        if "attributes" in row or stored is None:
            merged = {**((stored or {}).get("attributes") or {}), **row.get("attributes", {})}
            if merged:
                found = service.attribute_problems(merged)
            else:  # most new rows (all of --create-customers): checked once per batch
                if no_attributes is None:
                    no_attributes = service.attribute_problems({})
                found = no_attributes
            problems.extend((where, "attributes", message) for message in found)
            if found:
                continue
        if stored is None:
            row.setdefault("type", "person")
            row.setdefault("tags", [])
            row.setdefault("attributes", {})
            new_rows.append(row)
            new_labels.append(where)
            continue
        if stored["erased_at"] is not None:
            problems.append((where, "external_id", f"customer {row['external_id']!r} was erased"))
            continue
        if not upsert:
            problems.append((where, "external_id", f"customer {row['external_id']!r} already exists"))
            continue
        old, new = _changes(stored, row)
        if "_organisation_ref" in row:  # an organisation of this batch, inserted before
            old["organisation_id"] = stored["organisation_id"]
            new["organisation_id"] = _Inserted(row["_organisation_ref"])
        if new:
            updates.append((stored["id"], row["external_id"], old, new))
            update_labels.append(where)
    organisation_rows = {row["external_id"]: where for row, where in zip(rows, row_labels)
                         if row.get("type") == "organisation"}
    return _without_rejected_organisations(new_rows, new_labels, updates, update_labels,
                                           organisation_rows, problems), problems


def _without_rejected_organisations(new_rows, new_labels, updates, update_labels,
                                    organisation_rows: dict[str, str],
                                    problems: list[Problem]) -> Checked:
    """The checked rows and updates but those naming an organisation of the batch whose own
    row (``organisation_rows``: external id → label) was rejected, each a problem instead:
    they would join nothing."""
    accepted = {row["external_id"] for row in new_rows if row["type"] == "organisation"}
    kept = Checked([], [], [])
    for row, where in zip(new_rows, new_labels):
        ref = row.get("_organisation_ref")
        if ref is None or ref in accepted:
            kept.rows.append(row)
            kept.labels.append(where)
        else:
            problems.append((where, "organisation",
                             REJECTED_ORGANISATION.format(ref, organisation_rows[ref])))
    for entry, where in zip(updates, update_labels):
        joins = entry[3].get("organisation_id")
        if isinstance(joins, _Inserted) and joins.external_id not in accepted:
            problems.append((where, "organisation", REJECTED_ORGANISATION.format(
                joins.external_id, organisation_rows[joins.external_id])))
        else:
            kept.updates.append(entry)
    return kept


@attrs.frozen
class _Inserted:
    """An update's ``organisation_id`` that is the id of a customer of the same batch, known
    once the batch's new customers are inserted (:meth:`CustomerRows.persist`)."""

    external_id: str


def _resolved(updates, batch: Batch | None) -> list:
    """``updates`` with each :class:`_Inserted` value the id the batch's insert gave it."""
    ids = {row["external_id"]: row["id"] for row in batch.rows} if batch is not None else {}
    return [(customer_id, external_id, old,
             {field: ids[value.external_id] if isinstance(value, _Inserted) else value
              for field, value in new.items()})
            for customer_id, external_id, old, new in updates]


def _type_problem(conn, stored: dict[str, Any], row: dict[str, Any]) -> tuple[str, str] | None:
    """``(field, problem)`` when ``row`` would leave the stored customer an organisation that
    belongs to an organisation, or a person whom customers belong to; else None."""
    kind = row.get("type", stored["type"])
    joins = "_organisation_ref" in row or row.get("organisation_id") is not None
    if kind == "organisation" and joins:
        return "organisation", "an organisation cannot belong to an organisation"
    if kind == "organisation" and stored["type"] == "person" and row.get(
            "organisation_id", stored["organisation_id"]) is not None:
        return "type", (f"{stored['external_id']!r} belongs to an organisation, and an "
                        "organisation cannot: give \"organisation\": null with the change")
    if kind == "person" and stored["type"] == "organisation":
        c = tables.customers.c
        members = list(conn.execute(select(c.external_id).where(
            c.organisation_id == stored["id"]).order_by(c.external_id).limit(4)).scalars())
        if members:
            shown = ", ".join(map(repr, members[:3])) + (", …" if len(members) > 3 else "")
            return "type", (f"{stored['external_id']!r} cannot become a person while customers "
                            f"belong to it ({shown}): give them another organisation first")
    return None


REJECTED_ORGANISATION = "{!r}: the organisation's row ({}) was rejected"
"""The problem of a row naming an organisation whose own row (label) was rejected."""


def _rejected_organisations(chunk, labels, accepted: set[str]) -> dict[str, str]:
    """``{external id: label}`` of the organisation rows of ``chunk`` that normalising
    rejected (those whose label is not in ``accepted``)."""
    return {normal_text(raw["external_id"].strip()): where for raw, where in zip(chunk, labels)
            if where not in accepted and isinstance(raw, dict)
            and raw.get("type") == "organisation" and isinstance(raw.get("external_id"), str)}


def _normalise(raw, where, problems, config) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        problems.append((where, "row", f"expected a mapping of fields, got {type(raw).__name__}"))
        return None
    unknown = raw.keys() - FIELDS
    if unknown:
        problems.append((where, sorted(unknown)[0], f"unknown field (allowed: {', '.join(FIELDS)})"))
        return None
    bad = len(problems)
    row: dict[str, Any] = {}
    for field, value in raw.items():
        if unstorable_text(value):
            problems.append((where, field, UNSTORABLE_TEXT))
            continue
        if value is None or value == "" and field != "external_id":
            if field in ("tags", "attributes", "type"):
                continue
            row[field] = None
            continue
        if field in TEXT_LIMITS:
            if not isinstance(value, str):
                problems.append((where, field, f"must be text, got {type(value).__name__}"))
                continue
            value = value.strip()
            problem = text_problem(value, IDENTIFIER if field in _REFERENCES else LINE)
            if problem is not None:
                problems.append((where, field, problem))
                continue
            value = normal_text(value)
            problem = TextLimit.of(config, TEXT_LIMITS[field]).problem(value)
            if problem is not None:
                problems.append((where, field, problem))
                continue
        row[field] = value
    ext = row.get("external_id")
    if not ext and all(p[1] != "external_id" for p in problems[bad:]):
        problems.append((where, "external_id", "required: a non-empty text id"))
    if "type" in row and row["type"] not in TYPES:
        problems.append((where, "type", f"{row['type']!r} is not one of person, organisation"))
    if row.get("preferred_channel"):  # named as consent is (crmkit.plugin.consent_channel)
        row["preferred_channel"] = row["preferred_channel"].lower()
    if row.get("email") and not EMAIL.match(row["email"]):
        problems.append((where, "email", f"{row['email']!r} is not an email address"))
    if row.get("phone"):
        try:
            row["phone"] = to_phone(row["phone"], config["phone_region"])
        except ValidationError as exc:
            problems.extend((where, field, message) for _, field, message in exc.problems)
    if "tags" in row:
        tags = row["tags"]
        if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) and t for t in tags):
            problems.append((where, "tags", "must be a list of non-empty texts"))
        else:
            tags = [t.strip() for t in tags]
            limit = TextLimit.of(config)
            problem = next(filter(None, (tag_problem(t, limit) for t in tags)), None)
            if problem is None and len(tags) > MAX_TAGS:
                problem = f"{len(tags)} tags; at most {MAX_TAGS}"
            if problem is not None:
                problems.append((where, "tags", problem))
            row["tags"] = sorted(set(normal_text(t) for t in tags))
    if "attributes" in row:
        if not isinstance(row["attributes"], dict):
            problems.append((where, "attributes", "must be a JSON object"))
        elif problem := json_problem(row["attributes"]):
            problems.append((where, "attributes", problem))
        else:
            row["attributes"] = _clean_attributes(row["attributes"], "", where, problems,
                                                  TextLimit.of(config))
    if "organisation_id" in row:
        problems.append((where, "organisation_id", "give the organisation's external id as "
                         "'organisation'"))
    if row.get("organisation") and row.get("type") == "organisation":
        problems.append((where, "organisation", "an organisation cannot belong to an organisation"))
    return row if len(problems) == bad else None


def _clean_attributes(value: Any, pointer: str, where: str, problems: list[Problem],
                      limit: TextLimit) -> Any:
    """Attribute JSON with every text in NFC; keys are one-line text, string values free text
    within ``limit`` (core config ``max_field_length``)."""
    if isinstance(value, str):
        problem = text_problem(value, TEXT) or limit.problem(value)
        if problem is not None:
            problems.append((where, "attributes", f"{pointer or '/'}: {problem}"))
        return normal_text(value)
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            here = f"{pointer}/{key}"
            problem = text_problem(key) if isinstance(key, str) else None
            if problem is not None:
                problems.append((where, "attributes", f"{here}: key {problem}"))
            cleaned[normal_text(key) if isinstance(key, str) else key] = _clean_attributes(
                item, here, where, problems, limit)
        return cleaned
    if isinstance(value, list):
        return [_clean_attributes(v, f"{pointer}/{i}", where, problems, limit)
                for i, v in enumerate(value)]
    return value


def _existing(conn, external_ids: list[str]) -> dict[str, dict[str, Any]]:
    c = tables.customers
    found: dict[str, dict[str, Any]] = {}
    query = select(c).where(c.c.external_id.in_(bindparam("refs", expanding=True)))
    for row in select_in(conn, query, "refs", external_ids):
        found[row.external_id] = dict(row._mapping)
    return found


def _changes(stored: dict[str, Any], row: dict[str, Any]):
    old, new = {}, {}
    for field in UPDATABLE:
        if field not in row:
            continue
        value = row[field]
        if field == "attributes":
            value = {**(stored["attributes"] or {}), **value}
        if field == "tags":
            value = list(value)
            current = list(stored["tags"] or [])
        else:
            current = stored[field]
        if value != current:
            old[field], new[field] = current, value
    return old, new


def _apply_updates(tx, updates) -> None:
    """Store ``(id, external_id, old, new)`` updates: one executemany per set of changed
    fields, one for their audit rows, and a ``customer.updated`` event each."""
    c = tables.customers
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for customer_id, _, _, new in updates:
        params = {f"new_{field}": value for field, value in new.items()}
        by_fields.setdefault(tuple(sorted(new)), []).append(dict(params, customer=customer_id))
    for fields, params in by_fields.items():
        statement = (update(c).where(c.c.id == bindparam("customer"))
                     .values(updated_at=tx.now(), **{f: bindparam(f"new_{f}") for f in fields}))
        tx.conn.execute(statement, params)
    tx.audit_many([("update", "customers", external_id, {k: [old[k], new[k]] for k in new},
                    customer_id) for customer_id, external_id, old, new in updates])
    for customer_id, external_id, _, new in updates:
        tx.emit("customer.updated", customer_id, {"external_id": external_id,
                                                  "fields": sorted(new)})


def _insert(tx, rows) -> Batch:
    rows.sort(key=lambda r: r.get("type") != "organisation")
    first = allocate_ids(tx.conn, tables.customers, len(rows))
    now = tx.now()
    ids = {}
    for offset, row in enumerate(rows):
        row["id"] = first + offset
        ids[row["external_id"]] = row["id"]
        row.setdefault("created_at", now)
        row["updated_at"] = now
    for row in rows:
        ref = row.pop("_organisation_ref", None)
        if ref is not None:
            row["organisation_id"] = ids[ref]
    columns = [col.name for col in tables.customers.columns if col.name != "erased_at"]
    params = [{col: row.get(col) for col in columns} for row in rows]
    insert_rows(tx.conn, tables.customers, params)
    audit_rows = [
        {"at": now, "actor": tx.actor, "action": "create", "table_name": "customers",
         "record_key": row["external_id"], "customer_id": row["id"],
         "changes": {k: _jsonable(v) for k, v in row.items()
                     if k not in ("id", "created_at", "updated_at") and v not in (None, [], {})},
         "command": tx.command}
        for row in rows
    ]
    insert_rows(tx.conn, tables.audit_log, audit_rows)
    for row in rows:
        tx.emit("customer.created", row["id"], {"external_id": row["external_id"]})
    return Batch("customers", rows, first, first + len(rows) - 1)


def _jsonable(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value



__all__ = [
    "TYPES", "FIELDS", "TEXT_LIMITS", "UPDATABLE", "EMAIL", "PHONE_TEXT", "PHONE_MARKS",
    "CustomerService", "CustomerRows", "to_customer", "write_batch", "merged_away",
    "REJECTED_ORGANISATION",
]
