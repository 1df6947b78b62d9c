"""Scoring hits: per lead and scoring rule, the ``cap`` most recent matching interactions.

A score only ever reads each rule's ``cap`` most recent matches, so every lead
row carries them in ``operational_leads.hits``, packed as little-endian
records (rule position int16, ``occurred_at`` in µs since the epoch int64,
interaction id int64).  Scoring a batch loads the hits of the batch's leads,
adds the matches of the batch's own rows that are not among them yet and
keeps each rule's ``cap`` most recent, all in numpy: no customer's history is
read.  Adding is idempotent, so hits computed from the interactions earlier in
the batch's transaction (a plugin updating a customer before operational
reacts) already hold the batch's rows and get none twice.

``hits`` NULL means not known: such a lead's hits are taken from its
interactions (:func:`from_interactions`) when it is next scored.  Hits are
forgotten (set NULL):

* for a lead entering the funnel (it starts NULL);
* for every lead when a rule's ``match`` or ``cap`` changed: ``operational_score_coverage``
  holds the fingerprint of those the hits were made with (weights, half-life,
  fit rules and ``max_score`` apply when summing, so changing them needs nothing);
* for every lead when the plugin was enabled again: interactions recorded (and
  customers merged) while it was disabled reached no batch.  The coverage row also
  holds the plugin's ``times_enabled`` (:class:`crmkit.plugin.HookContext`) the
  hits were made under;
* for the kept customer of a merge.

The first batch that finds the coverage row out of date forgets the hits and rewrites
it (:func:`sync`); every other batch only reads it.

Hits are not personal data (rule positions and dates): erasure keeps them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from operator import itemgetter
from typing import Any, Iterable, Sequence

import attrs
import numpy as np
from sqlalchemy import and_, case, func, literal, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from crmkit.plugin import interactions

from .settings import ScoringRule, settings_of
from .tables import leads, score_coverage

MATCH_KEYS = ("kind", "channel", "direction")
CHUNK = 5000
"""Customers per query when hits are computed from a list of customers' interactions."""
PACKED = np.dtype([("rule", "<i2"), ("at", "<i8"), ("interaction", "<i8")])
"""One hit as stored: the rule's position, ``occurred_at`` in µs since the epoch, the interaction id."""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MICROSECOND = dt.timedelta(microseconds=1)


def micros(moment: dt.datetime) -> int:
    """An aware datetime as µs since the epoch."""
    return (moment - EPOCH) // MICROSECOND


@attrs.frozen
class Hits:
    """Hits of several customers as parallel arrays (customer id, rule position, µs, interaction id)."""

    customer: np.ndarray
    rule: np.ndarray
    at: np.ndarray
    interaction: np.ndarray

    @classmethod
    def of(cls, customer, rule, at, interaction) -> "Hits":
        """Hits from sequences of customer ids, rule positions, µs and interaction ids."""
        return cls(np.asarray(customer, np.int64), np.asarray(rule, np.int16),
                   np.asarray(at, np.int64), np.asarray(interaction, np.int64))

    @classmethod
    def concat(cls, parts: Iterable["Hits"]) -> "Hits":
        """All hits of ``parts`` in one set."""
        parts = list(parts)
        if not parts:
            return cls.of([], [], [], [])
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in attrs.fields_dict(cls)))

    def without(self, interaction_ids: np.ndarray) -> "Hits":
        """These hits less those of the given interactions."""
        keep = ~np.isin(self.interaction, interaction_ids)
        return Hits(self.customer[keep], self.rule[keep], self.at[keep], self.interaction[keep])

    def capped(self, caps: Sequence[int]) -> "Hits":
        """Each (customer, rule)'s ``caps[rule]`` most recent hits, sorted by customer.

        A stable sort by customer merges already sorted parts cheaply; only the
        (customer, rule) groups holding more than their cap are sorted by time.
        """
        order = np.argsort(self.customer, kind="stable")
        customer, rule, at = self.customer[order], self.rule[order], self.at[order]
        interaction = self.interaction[order]
        first = np.ones(len(customer), bool)
        first[1:] = customer[1:] != customer[:-1]
        group = (np.cumsum(first) - 1) * len(caps) + rule
        cap = np.asarray(caps, np.int64)[rule]
        keep = np.bincount(group)[group] <= cap
        over = np.flatnonzero(~keep)
        if len(over):
            over = over[np.lexsort((-at[over], group[over]))]
            starts = np.ones(len(over), bool)
            starts[1:] = group[over][1:] != group[over][:-1]
            start_at = np.flatnonzero(starts)
            rank = np.arange(len(over)) - np.repeat(start_at, np.diff(np.append(start_at, len(over))))
            keep[over[rank < cap[over]]] = True
        return Hits(customer[keep], rule[keep], at[keep], interaction[keep])

    def packed(self, customer_ids: Iterable[int]) -> dict[int, bytes]:
        """Per customer of ``customer_ids`` its hits as stored (``b""`` for none); hits sorted by customer."""
        records = np.empty(len(self.at), PACKED)
        records["rule"], records["at"], records["interaction"] = self.rule, self.at, self.interaction
        data = records.tobytes()
        ids = sorted(customer_ids)
        bounds = np.searchsorted(self.customer, ids, side="left").tolist()
        ends = np.searchsorted(self.customer, ids, side="right").tolist()
        size = PACKED.itemsize
        return {cid: data[lo * size:hi * size] for cid, lo, hi in zip(ids, bounds, ends)}


def unpack(stored: Sequence[tuple[int, bytes]]) -> Hits:
    """Hits of ``[(customer_id, stored bytes)]``."""
    if not stored:
        return Hits.of([], [], [], [])
    blobs = [bytes(blob) for _, blob in stored]
    records = np.frombuffer(b"".join(blobs), PACKED)
    counts = [len(blob) // PACKED.itemsize for blob in blobs]
    customer = np.repeat(np.array([cid for cid, _ in stored], np.int64), counts)
    return Hits.of(customer, records["rule"], records["at"], records["interaction"])


def from_rows(rules: Sequence[ScoringRule], rows: Sequence[dict[str, Any]],
              customer_ids: Iterable[int]) -> Hits:
    """The matches among interaction ``rows`` (dicts with the interaction columns) of ``customer_ids``."""
    combos = list(map(itemgetter(*MATCH_KEYS), rows))
    position = {combo: n for n, combo in enumerate(dict.fromkeys(combos))}
    key = np.fromiter(map(position.__getitem__, combos), np.int64, len(rows))
    customer = np.fromiter(map(itemgetter("customer_id"), rows), np.int64, len(rows))
    wanted = np.flatnonzero(np.isin(customer, np.fromiter(customer_ids, np.int64))).tolist()
    chosen = [rows[n] for n in wanted]
    at = np.fromiter(map(micros, map(itemgetter("occurred_at"), chosen)), np.int64, len(chosen))
    ids = np.fromiter(map(itemgetter("id"), chosen), np.int64, len(chosen))
    matches = np.array([[all(dict(zip(MATCH_KEYS, combo))[f] == v for f, v in rule.match.items())
                         for rule in rules] for combo in position], bool).reshape(len(position), len(rules))
    row, rule = np.nonzero(matches[key[wanted]])
    return Hits.of(customer[wanted][row], rule, at[row], ids[row])


def rule_matches(rules: Sequence[ScoringRule]) -> list[Any]:
    """SQL condition per rule: the interaction matches the rule's ``match``."""
    i = interactions
    return [and_(*[i.c[k] == rule.match[k] for k in MATCH_KEYS if k in rule.match])
            for rule in rules]


def capped_matches(rules: Sequence[ScoringRule], *where: Any):
    """SELECT ``(customer_id, rule, occurred_at, interaction_id)``: each customer's ``cap`` most recent matches
    per rule among the interactions satisfying ``where``.

    One pass over the interactions: per rule a running count of its matches per
    customer, newest first (``SUM(CASE …) OVER``), says whether an interaction
    is within the rule's cap; the rows are then split per rule.
    """
    i = interactions
    matches = rule_matches(rules)
    newest_first = {"partition_by": i.c.customer_id, "order_by": (i.c.occurred_at.desc(), i.c.id.desc()),
                    "rows": (None, 0)}
    columns = []
    for j, match in enumerate(matches):
        hit = case((match, 1), else_=0)
        columns += [hit.label(f"m{j}"), func.sum(hit).over(**newest_first).label(f"n{j}")]
    ranked = (select(i.c.customer_id, i.c.occurred_at, i.c.id, *columns)
              .where(or_(*matches), *where).cte("ranked"))
    return union_all(*[
        select(ranked.c.customer_id, literal(j).label("rule"), ranked.c.occurred_at,
               ranked.c.id.label("interaction_id"))
        .where(ranked.c[f"m{j}"] == 1, ranked.c[f"n{j}"] <= rule.cap)
        for j, rule in enumerate(rules)])


def from_interactions(conn, rules: Sequence[ScoringRule], customer_ids: Sequence[int] | None,
                      until: dt.datetime | None = None) -> Hits:
    """The hits of ``customer_ids`` (None: everybody) computed from their interactions.

    ``until`` leaves out interactions after it (a score as of a past moment).
    """
    if not rules or (customer_ids is not None and not customer_ids):
        return Hits.of([], [], [], [])
    where = [] if until is None else [interactions.c.occurred_at <= until]
    if customer_ids is None:
        parts = [_hits_of(conn.execute(capped_matches(rules, *where)))]
    else:
        ids = sorted(customer_ids)
        parts = [_hits_of(conn.execute(capped_matches(
                     rules, interactions.c.customer_id.in_(ids[start:start + CHUNK]), *where)))
                 for start in range(0, len(ids), CHUNK)]
    return Hits.concat(parts).capped([rule.cap for rule in rules])


def _hits_of(rows) -> Hits:
    rows = rows.all()
    return Hits.of([r[0] for r in rows], [r[1] for r in rows], [micros(r[2]) for r in rows],
                   [r[3] for r in rows])


def fingerprint(rules: Sequence[ScoringRule]) -> str:
    """What the hits depend on: each rule's match and cap, in order."""
    text = json.dumps([[rule.match, rule.cap] for rule in rules], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def customers_in(first_id: int, last_id: int):
    """SELECT the customers of the interactions with ids in ``first_id..last_id``."""
    return select(interactions.c.customer_id).where(interactions.c.id.between(first_id, last_id))


def forget(conn, customer_ids=None) -> None:
    """Mark the hits of ``customer_ids`` (ids or a SELECT; None: every lead) as not known."""
    query = update(leads).values(hits=None)
    if customer_ids is not None:
        query = query.where(leads.c.customer_id.in_(customer_ids))
    conn.execute(query)


def sync(ctx) -> bool:
    """Forget every lead's hits unless the coverage row says they were made under the rules'
    fingerprint and the plugin's ``times_enabled`` of now; then the row says so.  Returns
    whether the hits were forgotten.

    The row is only read, except by the first batch after a change of either: a row every
    batch wrote would make concurrent writers wait for each other's commit.  Two such
    batches at once both rewrite it and forget: the second's rewrite waits for the first to
    commit, so its forgetting, which comes after, also forgets what the first stored.
    """
    made_under = {"fingerprint": fingerprint(settings_of(ctx).scoring.rules),
                  "times_enabled": ctx.times_enabled}
    conn = ctx.conn
    row = conn.execute(select(score_coverage.c.fingerprint, score_coverage.c.times_enabled)).first()
    if row is not None and row._asdict() == made_under:
        return False
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(score_coverage).values(id=1, **made_under)
    conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=made_under))
    forget(conn)
    return True


def stored(conn, customer_id: int) -> list[tuple[int, dt.datetime]] | None:
    """A lead's stored hits as ``(rule position, occurred_at)``; None when not known."""
    blob = conn.execute(select(leads.c.hits).where(leads.c.customer_id == customer_id)).scalar()
    if blob is None:
        return None
    hits = unpack([(customer_id, blob)])
    return [(int(j), EPOCH + int(at) * MICROSECOND) for j, at in zip(hits.rule, hits.at)]
