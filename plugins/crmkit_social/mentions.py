"""Mentions: checked in full, then stored deduplicated by (platform, post_id), scored, alerted once.

Each text is scored by the analyser for its detected language (see
:func:`crmkit.sentiment.score_texts`); a text no analyser handles is stored
with no score and the reason.

Re-importing a post updates its counts (and its text and score if edited);
it never duplicates.  A mention by a known customer (its handle is linked)
scoring at or below its language's ``case_threshold`` emits
``social.negative_mention`` once, the first time it is imported while its
handle belongs to a customer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any, Iterable

import attrs
from sqlalchemy import bindparam, insert, select, update

from crmkit.plugin import (ValidationError, allocate_ids, drop_repeats, ensure_utc,
                           parse_timestamp, raise_problems, record_fits, score_texts, text_limit)

from . import identities
from .settings import settings_of
from .tables import identities as identity_table
from .tables import mentions

FIELDS = ("platform", "post_id", "handle", "text", "posted_at", "likes", "comments", "shares")
REQUIRED = ("platform", "post_id", "handle", "posted_at")
COUNTS = ("likes", "comments", "shares")
POST_ID_LIMIT = 200
"""The post id column's width (lower if the core config's ``max_field_length`` is lower)."""
ERASED_PREFIX = "erased:"


@attrs.define
class ImportResult:
    """What an import did, in the core's summary terms."""

    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    alerts: int = 0

    def summary(self) -> str:
        """``read R, created C, updated U, unchanged K, rejected 0``."""
        return (f"read {self.read}, created {self.created}, updated {self.updated}, "
                f"unchanged {self.unchanged}, rejected 0")


def erased_key(platform: str, post_id: str) -> str:
    """What an erased mention keeps of its post id: a one-way hash, so re-imports still deduplicate."""
    digest = hashlib.sha256(f"{platform}\n{post_id}".encode()).hexdigest()
    return ERASED_PREFIX + digest[:48]


@attrs.frozen
class Limits:
    """The text limits of a mention in one CRM (its core config's ``max_field_length``)."""

    post_id: Any
    handle: Any
    text: Any

    @classmethod
    def of(cls, crm) -> "Limits":
        """``crm``'s limits (:func:`crmkit.plugin.text_limit`)."""
        return cls(text_limit(crm, POST_ID_LIMIT), text_limit(crm, identities.HANDLE_LIMIT),
                   text_limit(crm))


def check(crm, records: Iterable[Any], labels: list[str],
          problems: list[tuple[str, str, str]] | None = None) -> list[dict[str, Any]]:
    """Normalise every record within ``crm``'s text limits; raise one ValidationError listing
    every bad line (``line N: field: problem``)."""
    problems = list(problems or [])
    limits = Limits.of(crm)
    checked = [(row, where) for record, where in zip(records, labels)
               if (row := _normalise(record, where, problems, limits)) is not None]
    rows, _ = drop_repeats([row for row, _ in checked], [where for _, where in checked],
                           problems, key=lambda row: (row["platform"], row["post_id"]),
                           field="post_id",
                           name=lambda row: f"{row['post_id']!r} on {row['platform']}")
    raise_problems(problems)
    return rows


def _normalise(record: Any, where: str, problems: list, limits: Limits) -> dict[str, Any] | None:
    if not record_fits(record, where, FIELDS, REQUIRED, problems):
        return None
    before = len(problems)
    row: dict[str, Any] = {}
    problem = identities.platform_problem(record["platform"])
    if problem:
        problems.append((where, "platform", problem))
    else:
        row["platform"] = identities.normalise_platform(record["platform"])
    post_id = record["post_id"]
    if isinstance(post_id, int) and not isinstance(post_id, bool):
        post_id = str(post_id)
    if not isinstance(post_id, str) or not post_id.strip():
        problems.append((where, "post_id", "must be non-empty text"))
    elif problem := limits.post_id.problem(post_id.strip()):
        problems.append((where, "post_id", problem))
    elif post_id.strip().startswith(ERASED_PREFIX):
        problems.append((where, "post_id", f"may not start with {ERASED_PREFIX!r}"))
    else:
        row["post_id"] = post_id.strip()
    handle, problem = identities.normalised(record["handle"], row.get("platform"), limits.handle)
    if problem:
        problems.append((where, "handle", problem))
    else:
        row["handle"] = handle
    text = record.get("text")
    if text is not None and not isinstance(text, str):
        problems.append((where, "text", f"must be text, got {type(text).__name__}"))
    elif text is not None and (problem := limits.text.problem(text)):
        problems.append((where, "text", problem))
    else:
        row["text"] = text.strip() if text and text.strip() else None
    try:
        posted = record["posted_at"]
        row["posted_at"] = (ensure_utc(posted, "posted_at") if isinstance(posted, dt.datetime)
                            else parse_timestamp(str(posted), "posted_at"))
    except ValidationError as exc:
        problems.append((where, "posted_at", str(exc).split(": ", 1)[-1]))
    for field in COUNTS:
        value = record.get(field)
        count = _count(value)
        if count is None:
            shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:30]}…"
            problems.append((where, field, f"{shown} is not a whole number from 0 to {MAX_COUNT}"))
        else:
            row[field] = count
    return row if len(problems) == before else None


MAX_COUNT = 2 ** 31 - 1
"""The largest likes, comments or shares count (what their integer columns hold)."""


def _count(value: Any) -> int | None:
    """A count given as an int or ASCII digits, 0 when not given; None when it is no count
    from 0 to :data:`MAX_COUNT`."""
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip()) if len(value.strip()) <= 12 else MAX_COUNT + 1
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_COUNT else None


def store(ctx, rows: list[dict[str, Any]]) -> ImportResult:
    """Write checked rows inside the open transaction; emit negative-mention events."""
    result = ImportResult(read=len(rows))
    if not rows:
        return result
    conn, now = ctx.conn, ctx.now()
    existing = _existing(conn, rows)
    owners = _owners(conn, rows)
    scores = _scores(ctx, rows, existing)
    fresh, changed, candidates = [], [], []
    for row in rows:
        key = (row["platform"], row["post_id"])
        customer_id = owners.get((row["platform"], row["handle"]))
        stored = existing.get(key)
        if stored is None:
            fresh.append({**row, "customer_id": customer_id, **scores[key], "imported_at": now,
                          "updated_at": now, "alerted_at": None, "erased_at": None})
            continue
        wanted = {f: row[f] for f in COUNTS}
        if stored["erased_at"] is None:
            wanted.update(handle=row["handle"], text=row["text"], posted_at=row["posted_at"],
                          customer_id=customer_id)
            if key in scores:
                wanted.update(scores[key])
        delta = {f: v for f, v in wanted.items() if stored[f] != v}
        if delta:
            changed.append((stored["id"], delta))
        else:
            result.unchanged += 1
        if stored["erased_at"] is None and stored["alerted_at"] is None:
            candidates.append({**stored, **delta})
    if fresh:
        first = allocate_ids(conn, mentions, len(fresh))
        for n, row in enumerate(fresh):
            row["id"] = first + n
        conn.execute(insert(mentions), fresh)
        candidates.extend(fresh)
    _update(conn, changed, existing_by_id={r["id"]: r for r in existing.values()}, now=now)
    result.created, result.updated = len(fresh), len(changed)
    result.alerts = _alert(ctx, candidates)
    return result


def _scores(ctx, rows, existing) -> dict[tuple[str, str], dict[str, Any]]:
    """Sentiment columns of new mentions and of stored ones whose text changed or that are
    unscored (an analyser for their language may have been added), scored in one call."""
    due = []
    for row in rows:
        stored = existing.get((row["platform"], row["post_id"]))
        if stored is None or (stored["erased_at"] is None and (
                row["text"] != stored["text"] or stored["sentiment"] is None)):
            due.append(row)
    results = score_texts(ctx.crm, [row["text"] for row in due])
    return {(row["platform"], row["post_id"]): {"sentiment": r.score, "language": r.language,
                                                "unscored_reason": r.unscored_reason}
            for row, r in zip(due, results)}


UPDATED = ("handle", "text", "posted_at", "customer_id", "sentiment", "language",
           "unscored_reason") + COUNTS


def _update(conn, changed: list[tuple[int, dict[str, Any]]], existing_by_id, now) -> None:
    """Apply changes in two executemany statements: full rows, and counts of erased mentions."""
    full, counts = [], []
    for mention_id, delta in changed:
        stored = existing_by_id[mention_id]
        merged = {f: delta.get(f, stored[f]) for f in UPDATED}
        if stored["erased_at"] is None:
            full.append({"b_id": mention_id, **{f"b_{f}": merged[f] for f in UPDATED}})
        else:
            counts.append({"b_id": mention_id, **{f"b_{f}": merged[f] for f in COUNTS}})
    for params, fields in ((full, UPDATED), (counts, COUNTS)):
        if params:
            conn.execute(update(mentions).where(mentions.c.id == bindparam("b_id"))
                         .values(updated_at=now, **{f: bindparam(f"b_{f}") for f in fields}),
                         params)


def _existing(conn, rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Stored mentions by (platform, post id), erased ones found through their hashed key."""
    keys_by_platform: dict[str, dict[str, str]] = {}
    for row in rows:
        lookup = keys_by_platform.setdefault(row["platform"], {})
        lookup[row["post_id"]] = row["post_id"]
        lookup[erased_key(row["platform"], row["post_id"])] = row["post_id"]
    m = mentions.c
    query = select(mentions).where(m.platform == bindparam("p"),
                                   m.post_id.in_(bindparam("ids", expanding=True)))
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for platform, lookup in keys_by_platform.items():
        stored_ids = list(lookup)
        for start in range(0, len(stored_ids), 2000):
            for r in conn.execute(query, {"p": platform, "ids": stored_ids[start:start + 2000]}
                                  ).mappings():
                found[(platform, lookup[r["post_id"]])] = dict(r)
    return found


def _owners(conn, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """The customer owning each (platform, handle) of the rows."""
    handles: dict[str, set[str]] = {}
    for row in rows:
        handles.setdefault(row["platform"], set()).add(row["handle"])
    i = identity_table.c
    query = select(i.handle, i.customer_id).where(i.platform == bindparam("p"),
                                                  i.handle.in_(bindparam("h", expanding=True)))
    owners: dict[tuple[str, str], int] = {}
    for platform, names in handles.items():
        names_list = sorted(names)
        for start in range(0, len(names_list), 2000):
            for handle, customer_id in conn.execute(
                    query, {"p": platform, "h": names_list[start:start + 2000]}):
                owners[(platform, handle)] = customer_id
    return owners


def _alert(ctx, candidates: list[dict[str, Any]]) -> int:
    """Emit ``social.negative_mention`` for known customers' mentions at or below the case threshold
    of their language."""
    due = [m for m in candidates
           if m["customer_id"] is not None and m["sentiment"] is not None
           and m["sentiment"] <= settings_of(ctx).thresholds_for(m["language"]).case]
    if not due:
        return 0
    ctx.conn.execute(update(mentions).where(mentions.c.id.in_([m["id"] for m in due]))
                     .values(alerted_at=ctx.now()))
    for m in due:
        ctx.emit("social.negative_mention", m["customer_id"],
                 {"mention_id": m["id"], "platform": m["platform"], "handle": m["handle"],
                  "score": m["sentiment"]})
    return len(due)
