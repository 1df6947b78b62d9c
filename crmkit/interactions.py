"""Recording interactions through the write pipeline, and reading them back."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Callable, Collection, Iterable, Sequence

from sqlalchemy import and_, bindparam, or_, select

from . import tables
from .clock import EARLIEST, LATEST, UTC, out_of_range, utc_in_range
from .customers import merged_away
from .bulk import insert_new
from .db import allocate_ids, select_in
from .errors import ConflictError, NotFound, ValidationError
from .models import Batch, Interaction, WriteResult
from . import pipeline
from .pipeline import Checked, Problem, run_batches
from .transaction import ReadContext, Transaction
from .types import (ASCII_CONTROLS, IDENTIFIER, ISO_4217, LINE, MAX_JSON_DEPTH,
                    UNSTORABLE_TEXT, interaction_kind, json_problem, normal_text, text_problem,
                    to_currency, to_money, unstorable_text)

FIELDS = ("customer", "customer_id", "occurred_at", "kind", "channel", "direction", "amount",
          "currency", "external_id", "payload", "actor")
DIRECTIONS = ("inbound", "outbound")
"""The fields an interaction row may give: the one list of them (the file columns of
:mod:`crmkit.services.columns` and the CLI's columns derive from it)."""
COMPARED = tuple(f for f in FIELDS if f in tables.interactions.c and f != "external_id")
"""What a repeated external id must repeat (in a batch or of a stored interaction)."""
_STORED = tuple(column.name for column in tables.interactions.columns)


class InteractionService:
    """``crm.interactions``: record one or many interactions; list them."""

    def __init__(self, crm):
        self.crm = crm

    def record(self, customer: str | None = None, occurred_at: dt.datetime | None = None,
               kind: str = "purchase", hidden_customers: Collection[str] = (),
               **fields: Any) -> Interaction:
        """Record one interaction and return it (an identical re-record returns the stored one).

        ``customer`` is the customer's external id (or pass ``customer_id``);
        ``occurred_at`` must be timezone-aware; ``amount`` a Decimal, int or
        numeric string.  ``hidden_customers`` as for :meth:`record_many`.
        """
        row = dict(fields, kind=kind, occurred_at=occurred_at)
        if customer is not None:
            row["customer"] = customer

        def write(tx):
            result = write_batch(tx, [dict(row)], 0, [pipeline.ONE_RECORD],
                                 hidden_customers=hidden_customers)
            return (tx.written[-1][1].rows[0] if result.created else
                    _existing_by_external_id(tx.conn, [row["external_id"]])[row["external_id"]])

        return _to_interaction(self.crm.run_transaction(write))

    def record_many(self, rows: Iterable[dict[str, Any]], batch_size: int = 2000,
                    atomic: bool = False, create_customers: bool = False,
                    hidden_customers: Collection[str] = ()) -> WriteResult:
        """Record interactions from any iterable, streaming it batch by batch.

        Each batch is validated in full and committed as one transaction; with
        ``atomic=True`` all batches share one transaction, so a failure leaves
        nothing behind.  Rows whose external id is already stored with identical
        content count as ``unchanged``; different content is a ConflictError.
        ``create_customers`` creates unknown customers from their external id.
        ``hidden_customers`` (external ids in NFC, ``crm.auth.hidden_customers``; not with
        ``create_customers``): customers a plugin's row-level rule hides from the member
        writing, whose rows are refused exactly as an unknown customer's.
        """
        return run_batches(
            self.crm, rows, batch_size, atomic,
            lambda tx, chunk, offset: write_batch(tx, chunk, offset,
                                                  create_customers=create_customers,
                                                  hidden_customers=hidden_customers),
        )

    def check(self, rows: Sequence[dict[str, Any]], labels: Sequence[str],
              create_customers: bool = False) -> list[Problem]:
        """Validate rows (core and plugin checks) without writing; return every problem."""
        with self.crm.read() as conn:
            tx = ReadContext(self.crm, conn)
            self.crm.refresh_plugins(conn)
            _, problems = pipeline.check(tx, InteractionRows(create_customers, lock=False),
                                         list(rows), list(labels))
        return problems

    def get(self, interaction_id: int) -> Interaction:
        """One interaction by id."""
        with self.crm.read() as conn:
            row = conn.execute(
                select(tables.interactions).where(tables.interactions.c.id == interaction_id)
            ).mappings().first()
        if row is None:
            raise NotFound(f"no interaction with id {interaction_id}")
        return _to_interaction(row)

    def list(self, customer: str | None = None, kind: str | None = None,
             since: dt.datetime | None = None, limit: int | None = 100,
             before: tuple[dt.datetime, int] | None = None) -> list[Interaction]:
        """Interactions, newest first, optionally of one customer (external id) or kind.

        ``before`` — ``(occurred_at, id)`` of the last interaction of the previous page —
        starts past it.
        """
        t = tables.interactions
        query = select(t).order_by(t.c.occurred_at.desc(), t.c.id.desc())
        if before is not None:
            at, last_id = before
            query = query.where(or_(t.c.occurred_at < at,
                                    and_(t.c.occurred_at == at, t.c.id < last_id)))
        if customer is not None:
            query = query.where(t.c.customer_id == self.crm.customers.get(customer).id)
        if kind is not None:
            query = query.where(t.c.kind == interaction_kind(kind))
        if since is not None:
            query = query.where(t.c.occurred_at >= since)
        if limit is not None:
            query = query.limit(limit)
        with self.crm.read() as conn:
            return [_to_interaction(r) for r in conn.execute(query).mappings()]


def _to_interaction(row) -> Interaction:
    return Interaction(**{k: row[k] for k in _STORED})


# -- the pipeline steps -----------------------------------------------------------


def write_batch(tx: Transaction, chunk: list[Any], offset: int, labels: Sequence[str] | None = None,
                create_customers: bool = False, hidden_customers: Collection[str] = ()
                ) -> WriteResult:
    """The write pipeline for one batch of interactions inside ``tx``."""
    labels = list(labels or [f"row {offset + i + 1}" for i in range(len(chunk))])
    return pipeline.write_batch(
        tx, InteractionRows(create_customers, hidden_customers=hidden_customers), chunk, labels)


class InteractionRows:
    """Interactions as the write pipeline takes them (a :class:`crmkit.pipeline.RowKind`).

    ``create_customers``: a row of an unknown customer keeps ``customer_id``
    None through the checks; persist creates the customers of the rows that
    passed.  ``lock`` share-locks the customers found (see
    ``CustomerService.lock``).  Without ``dedupe`` repeated external ids in a
    batch are left to the caller (the import compares them over the whole file).
    ``known_customers``: external id → id of customers this transaction already
    found (share-locked with ``lock``) or created; only the others are looked
    up, and the dict gets those found and created.  Its owner empties it when a
    customer is merged or erased in the transaction (the import shares one
    across its batches).  ``unwritten(external ids)``: the rows, by external id, of those
    interactions that the caller checked but has not written (an import's dry run), which
    the refunds of the batch may name.  After :meth:`normalise`, ``unresolved`` holds the
    labels of the rows whose ``payload.refund_of`` named no interaction found.
    ``create_hint`` adds to an unknown customer's problem the caller's other way of creating
    it (the import's ``or import with --create-customers``).
    ``hidden_customers``: external ids (NFC) of customers a plugin's row-level rule hides
    from the member writing; their rows are refused as an unknown customer's (not with
    ``create_customers``).
    """

    name = "interactions"
    enrich_hook = "crmkit_enrich_interactions"

    def __init__(self, create_customers: bool = False, lock: bool = True, dedupe: bool = True,
                 known_customers: dict[str, int] | None = None,
                 unwritten: Callable[[set[str]], dict[str, dict[str, Any]]] | None = None,
                 create_hint: str = "", hidden_customers: Collection[str] = ()):
        self.create_customers = create_customers
        self.create_hint = create_hint
        self.hidden_customers = hidden_customers
        self.unwritten = unwritten
        self.lock = lock
        self.dedupe = dedupe
        self.known_customers = {} if known_customers is None else known_customers
        self.unresolved: list[str] = []

    def normalise(self, tx: Transaction, chunk: list[Any], labels: list[str]
                  ) -> tuple[Checked, list[Problem]]:
        """Core checks, customer resolution and in-batch duplicates."""
        normalise = Normaliser(tx.crm.core_config, tx.now())
        problems: list[Problem] = []
        rows: list[dict[str, Any]] = []
        row_labels: list[str] = []
        for raw, where in zip(chunk, labels):
            row = normalise(raw, where, problems)
            if row is not None:
                rows.append(row)
                row_labels.append(where)
        _resolve_customers(tx, rows, row_labels, problems, self.create_customers, self.lock,
                           self.known_customers, self.create_hint, self.hidden_customers)
        if self.dedupe:
            rows, row_labels = pipeline.drop_repeats(
                rows, row_labels, problems, key=lambda row: row["external_id"],
                field="external_id", name=lambda row: repr(row["external_id"]),
                differences=lambda a, b: ", ".join(_differences(a, b)))
        self.unresolved = _check_refunds(tx.conn, rows, row_labels, problems, self.unwritten)
        return Checked(rows, row_labels), problems

    def before_enrich(self, tx: Transaction, checked: Checked) -> None:
        """Enrichment may change a payload in place: it is serialised again."""
        for row in checked.rows:
            row[PAYLOAD_TEXT] = None

    def persist(self, tx: Transaction, checked: Checked) -> tuple[Batch | None, WriteResult]:
        """Create the rows' new customers, then insert the rows (identical re-records skipped)."""
        rows = checked.rows
        if not rows:
            return None, WriteResult()
        if self.create_customers:
            _create_customers(tx, rows, self.known_customers)
        inserted, _ = persist(tx, rows)
        if not inserted:
            return None, WriteResult()
        return (Batch("interactions", inserted, inserted[0]["id"], inserted[-1]["id"]),
                WriteResult(created=len(inserted)))


_FIELD_SET = frozenset(FIELDS)
PAYLOAD_TEXT = "payload_text"
"""Row key of the payload's JSON text, serialised once by the checks and stored as is."""
_TEXT_FIELDS = ("kind", "channel", "external_id", "actor", "customer")
_IDENTIFIERS = frozenset({"external_id", "actor", "customer"})
_has_control = ASCII_CONTROLS.search
"""Text fields under the identifier rule (crmkit.types.IDENTIFIER); kind and channel are
one-line text (LINE)."""
_COLUMN_WIDTHS = {**{f: tables.interactions.c[f].type.length for f in _TEXT_FIELDS[:-1]},
                  "customer": tables.customers.c.external_id.type.length}
"""The widths of the text columns (customers.external_id for ``customer``)."""


class Normaliser:
    """Checks one raw interaction and returns the row to store (or None, adding problems).

    Built once per batch with the core config, so the per-row path does no
    repeated set-up: it runs a million times in a bulk import.
    """

    def __init__(self, config: dict[str, Any], now: dt.datetime):
        self.currency = config["default_currency"]
        self.negative_ok = frozenset(config["negative_amount_kinds"])
        self.text_limits = [(field, min(config["max_field_length"], _COLUMN_WIDTHS[field]),
                             IDENTIFIER if field in _IDENTIFIERS else LINE)
                            for field in _TEXT_FIELDS]
        self.max_payload = config["max_payload_bytes"]
        self.now = now

    def __call__(self, raw: Any, where: str, problems: list[Problem]) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            problems.append((where, "row", f"expected a mapping of fields, got {type(raw).__name__}"))
            return None
        if not raw.keys() <= _FIELD_SET:
            problems.append((where, sorted(raw.keys() - _FIELD_SET)[0],
                             f"unknown field (allowed: {', '.join(FIELDS)})"))
            return None
        bad = len(problems)
        get = raw.get
        occurred = get("occurred_at")
        if (type(occurred) is not dt.datetime or occurred.tzinfo is not UTC
                or not EARLIEST <= occurred <= LATEST):
            occurred = self._time(occurred, where, problems)
        texts = {}
        for field, limit, rule in self.text_limits:
            value = get(field)
            if value is not None:
                if type(value) is not str:
                    problems.append((where, field, f"must be text of at most {limit} characters"))
                    continue
                if value.isascii():  # the common case, decided by one regex search
                    if _has_control(value):
                        problems.append((where, field, UNSTORABLE_TEXT if "\x00" in value
                                         else text_problem(value, rule)))
                        continue
                elif unstorable_text(value):
                    problems.append((where, field, UNSTORABLE_TEXT))
                    continue
                else:
                    problem = text_problem(value, rule)
                    if problem is not None:
                        problems.append((where, field, problem))
                        continue
                    value = normal_text(value)
                if len(value) > limit:
                    problems.append((where, field, f"must be text of at most {limit} characters"))
                texts[field] = value
        kind = interaction_kind(texts.get("kind") or "") or "purchase"
        amount = get("amount")
        if amount is not None:
            amount = self._amount(amount, kind, where, problems)
        direction = get("direction") or "inbound"
        if direction not in DIRECTIONS:
            problems.append((where, "direction", f"{direction!r} is not one of inbound, outbound"))
        currency = get("currency")
        if currency is None or currency == "":
            currency = self.currency if amount is not None else None
        elif currency not in ISO_4217:
            try:
                currency = to_currency(currency)
            except ValidationError as exc:
                problems.extend((where, field, message) for _, field, message in exc.problems)
        payload = get("payload")
        text = None if payload is None else self._payload(payload, where, problems)
        customer_id = get("customer_id")
        if customer_id is None:
            if get("customer") is None:
                problems.append((where, "customer", "required: the customer's external id"))
        elif type(customer_id) is not int:
            problems.append((where, "customer_id", "must be an integer id"))
        if len(problems) > bad:
            return None
        return {
            "customer_id": customer_id,
            "customer": texts.get("customer"),
            "occurred_at": occurred,
            "channel": texts.get("channel"),
            "kind": kind,
            "direction": direction,
            "amount": amount,
            "currency": currency,
            "external_id": texts.get("external_id"),
            "payload": payload,
            PAYLOAD_TEXT: text,
            "actor": texts.get("actor"),
            "recorded_at": self.now,
        }

    @staticmethod
    def _time(value, where, problems):
        if value is None:
            problems.append((where, "occurred_at", "required: a timezone-aware datetime"))
        elif not isinstance(value, dt.datetime):
            problems.append((where, "occurred_at", "must be a timezone-aware datetime, got "
                             + type(value).__name__))
        elif value.tzinfo is None or value.utcoffset() is None:
            problems.append((where, "occurred_at",
                             f"naive datetime {value.isoformat()} (give a timezone, e.g. +00:00)"))
        else:
            utc = utc_in_range(value)
            if utc is not None:
                return utc
            problems.append((where, "occurred_at", out_of_range(value)))
        return None

    def _amount(self, amount, kind, where, problems):
        try:
            amount = to_money(amount)
        except ValidationError as exc:
            problems.extend((where, field, message) for _, field, message in exc.problems)
            return None
        if amount < 0 and kind not in self.negative_ok:
            allowed = ", ".join(sorted(self.negative_ok)) or "none"
            problems.append((where, "amount", f"{amount} is negative; kind {kind!r} needs an "
                             f"amount >= 0 (negative allowed for: {allowed})"))
        return amount

    def _payload(self, payload, where, problems) -> str | None:
        """The payload's JSON text, or None after adding its problem."""
        if not isinstance(payload, dict):
            problems.append((where, "payload", "must be a JSON object"))
            return None
        try:
            text = _ENCODER.encode(payload)
        except RecursionError:
            text = ""  # nested far too deep: json_problem names where
        except (TypeError, ValueError) as exc:
            problems.append((where, "payload", f"not JSON-serialisable: {exc}"))
            return None
        # the common payload, shallow and without NaN/Infinity, decided on its text
        if ("NaN" in text or "Infinity" in text or not text
                or text.count("{") + text.count("[") > MAX_JSON_DEPTH):
            problem = json_problem(payload)
            if problem:
                problems.append((where, "payload", problem))
                return None
        if ("\\u0000" in text or "\\ud" in text) and unstorable_text(payload):
            problems.append((where, "payload", UNSTORABLE_TEXT))
            return None
        size = len(text)
        if size > self.max_payload:
            problems.append((where, "payload", f"{size} bytes of JSON; the limit is "
                             f"{self.max_payload} (core config max_payload_bytes)"))
            return None
        return text


def _no_default(value):
    raise TypeError(f"{type(value).__name__} is not JSON")


_ENCODER = json.JSONEncoder(default=_no_default)
"""One encoder for every payload (``json.dumps`` with ``default`` builds one per call)."""


def payload_json(row: dict[str, Any]) -> str | None:
    """The JSON text to store for a row's payload: the checked text, unless enrichment reset it."""
    text = row.pop(PAYLOAD_TEXT, None)
    if text is None and row["payload"] is not None:
        text = _ENCODER.encode(row["payload"])
    return text


def _resolve_customers(tx, rows, labels, problems, create_customers, lock,
                       known: dict[str, int], create_hint: str,
                       hidden: Collection[str] = ()) -> None:
    """Set each row's ``customer_id``, share-locking the customers (see
    ``CustomerService.lock``) with ``lock``; unknown ones, and the ``hidden`` ones (as
    unknown ones, whatever they were merged into), are problems, or with
    ``create_customers`` keep ``customer_id`` None (created by
    ``InteractionRows.persist``).  Customers in ``known`` are not looked up again; those
    found are added to it."""
    service = tx.crm.customers
    refs = {ref for row in rows  # not "- known.keys()": that walks the whole of known
            if row["customer_id"] is None and (ref := row["customer"]) not in known}
    found = service.ids_by_external_id(refs, tx.conn, lock=lock) if refs else {}
    if hidden:
        found = {ref: found[ref] for ref in found.keys() - hidden}
    known.update(found)
    missing = refs - found.keys()
    given = {row["customer_id"] for row in rows if row["customer_id"] is not None}
    if given:
        existing = service.existing_ids(given, tx.conn, lock=lock)
    merged = (service.merged_into(tx.conn, missing.difference(hidden))
              if missing and not create_customers else {})
    keep_bad = []
    for i, row in enumerate(rows):
        if row["customer_id"] is None:
            ref = row["customer"]
            if ref in missing:
                if not create_customers:
                    problems.append((labels[i], "customer",
                                     _unknown(ref, merged.get(ref), create_hint)))
                    keep_bad.append(i)
                continue
            row["customer_id"] = known[ref]
        elif row["customer_id"] not in existing:
            problems.append((labels[i], "customer_id", f"no customer with id {row['customer_id']}"))
            keep_bad.append(i)
    for i in reversed(keep_bad):
        del rows[i]
        del labels[i]


REFUND_OF = "refund_of"
"""The payload key by which a refund names the purchase it refunds (its external id)."""


def _check_refunds(conn, rows, labels, problems, unwritten=None) -> list[str]:
    """Reject (and drop) the rows whose ``payload.refund_of`` is not text, or names an
    interaction that is not a purchase, is another customer's or is dated after the row: a
    refund reverses its own customer's purchase, made before it.  The name is looked up in
    the batch, then among the stored interactions, then in ``unwritten`` (see
    :class:`InteractionRows`); a name found nowhere is accepted (a purchase crmkit never
    recorded: nothing to reverse).  Returns the labels of the rows naming such a name."""
    named = [(i, payload[REFUND_OF]) for i, row in enumerate(rows)
             if (payload := row["payload"]) and payload.get(REFUND_OF) is not None]
    if not named:
        return []
    refs = {ref for _, ref in named if type(ref) is str}
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["external_id"] in refs:
            found.setdefault(row["external_id"], row)
    if refs - found.keys():
        found.update(_existing_by_external_id(conn, refs - found.keys()))
    if unwritten is not None and refs - found.keys():
        found.update(unwritten(refs - found.keys()))
    bad, unresolved = [], []
    for i, ref in named:
        purchase = found.get(ref) if type(ref) is str else None
        problem = refund_problem(rows[i], ref, purchase)
        if problem is not None:
            problems.append((labels[i], "payload", f"/{REFUND_OF}: {problem}"))
            bad.append(i)
        elif purchase is None:
            unresolved.append(labels[i])
    for i in reversed(bad):
        del rows[i]
        del labels[i]
    return unresolved


def refund_problem(refund: dict[str, Any], ref: Any, purchase: dict[str, Any] | None
                   ) -> str | None:
    """What is wrong with ``refund`` naming ``ref`` (its ``payload.refund_of``), the external
    id of the row ``purchase`` (None: no interaction known by it), or None."""
    if type(ref) is not str:
        return (f"must be the external id of the purchase refunded, as text "
                f"(got {type(ref).__name__})")
    if purchase is None:
        return None
    if purchase["kind"] != "purchase":
        return (f"{ref!r} is not a purchase (its kind is {purchase['kind']!r}); a refund "
                "names the external id of the purchase it refunds")
    if not _same_customer(purchase, refund):
        return (f"{ref!r} is a purchase of another customer; a refund is recorded on the "
                "customer of the purchase it refunds")
    if purchase["occurred_at"] > refund["occurred_at"]:
        return (f"{ref!r} is a purchase of {purchase['occurred_at'].isoformat()}, after this "
                f"refund ({refund['occurred_at'].isoformat()}); a refund is dated at or after "
                "the purchase it refunds")
    if (refund["amount"] is not None and purchase["currency"] is not None
            and refund["currency"] != purchase["currency"]):
        return (f"{ref!r} is a purchase in {purchase['currency']}, this refund is in "
                f"{refund['currency']}; a refund is in the currency of the purchase it refunds")
    return None


def _same_customer(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two checked rows are of one customer: by id, or by external id when either is
    of a customer still to be created (``customer_id`` None)."""
    if a["customer_id"] is not None and b["customer_id"] is not None:
        return a["customer_id"] == b["customer_id"]
    return a.get("customer") == b.get("customer")


def _create_customers(tx, rows, known: dict[str, int]) -> int:
    """Create the customers of the rows without ``customer_id`` (from their external id) and
    fill it in (adding them to ``known``); returns how many were created."""
    pending = [row for row in rows if row["customer_id"] is None]
    if not pending:
        return 0
    refs = sorted({row["customer"] for row in pending})
    service = tx.crm.customers
    ids = service.ids_by_external_id(refs, tx.conn, lock=True)
    missing = [ref for ref in refs if ref not in ids]
    if missing:
        ids.update(service.create_minimal(tx, missing))
    known.update(ids)
    for row in pending:
        row["customer_id"] = ids[row["customer"]]
    return len(missing)


def _unknown(ref: str, merged: tuple[str, dt.datetime] | None, create_hint: str) -> str:
    if merged is None:
        return f"unknown customer {ref!r} (create it first{create_hint and ', ' + create_hint})"
    return merged_away(ref, *merged)


def same_content(stored: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether ``row`` repeats the interaction ``stored`` in every field of :data:`COMPARED`."""
    return not _differences(stored, row)


def _differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [f for f in COMPARED if _comparable(f, a.get(f)) != _comparable(f, b.get(f))]


def _comparable(field, value):
    if field == "amount" and value is not None:
        return Decimal(value).normalize()
    if field == "payload" and value == {}:
        return None
    return value


def persist(tx: Transaction, rows: list[dict[str, Any]]) -> tuple[list[dict], int]:
    """Insert the batch with one executemany; identical re-records are skipped.

    Returns the inserted rows (with ids) and how many were skipped as unchanged.
    A stored row with the same external id but other content is a ConflictError.
    """
    conn = tx.conn
    first = allocate_ids(conn, tables.interactions, len(rows))
    actor = tx.actor
    for offset, row in enumerate(rows):
        row["id"] = first + offset
        if row["actor"] is None:
            row["actor"] = actor
        row.pop("customer", None)
    inserted = insert_new(conn, tables.interactions, _STORED, [
        (r["id"], r["customer_id"], r["occurred_at"], r["channel"], r["kind"], r["direction"],
         r["amount"], r["currency"], r["external_id"], payload_json(r), r["actor"],
         r["recorded_at"]) for r in rows], "external_id")
    if inserted == len(rows):
        return rows, 0
    return _split_existing(conn, rows, first)


def _split_existing(conn, rows, first):
    t = tables.interactions
    last = first + len(rows) - 1
    present = {r[0] for r in conn.execute(select(t.c.id).where(t.c.id.between(first, last)))}
    inserted = [r for r in rows if r["id"] in present]
    skipped = [r for r in rows if r["id"] not in present]
    stored = _existing_by_external_id(conn, [r["external_id"] for r in skipped])
    for row in skipped:
        diff = _differences(stored[row["external_id"]], row)
        if diff:
            raise ConflictError(
                f"interaction external_id {row['external_id']!r} is already stored with "
                f"different {', '.join(diff)} (an identical re-record is skipped; a changed one "
                "needs a new external id)"
            )
    return inserted, len(skipped)


def _existing_by_external_id(conn, external_ids) -> dict[str, dict[str, Any]]:
    t = tables.interactions
    result: dict[str, dict[str, Any]] = {}
    query = select(t).where(t.c.external_id.in_(bindparam("ids", expanding=True)))
    for row in select_in(conn, query, "ids", list(external_ids)):
        result[row.external_id] = dict(row._mapping)
    return result


__all__ = [
    "FIELDS", "DIRECTIONS", "COMPARED", "InteractionService", "InteractionRows", "write_batch",
    "PAYLOAD_TEXT", "REFUND_OF", "Normaliser", "payload_json", "persist", "refund_problem",
    "same_content",
]
