"""Identify: candidate duplicate customers, found by blocking and scored with reasons.

Records are only compared inside a *block* — records sharing a normalised
email, an E.164 phone, a social handle, or a name key (surname + initial of the
formal first name; organisations: the name without legal suffixes) — so the
work grows with the block sizes, not with n².  Blocks larger than
``max_block_size`` are skipped and counted.

A pair's score is ``1 - Π(1 - weight)`` over its matching signals (email,
phone, handle, name), multiplied by ``(1 - conflict_penalty)`` for each
conflict (both have an email and they differ; the same for phones; first names
that are incompatible).  Two people who only share a surname are never a
name match: their first names must be equal, a nickname of one another, one a
prefix of the other (at least ``min_prefix`` letters), or at least
``first_name_similarity`` similar (rapidfuzz ratio).

The score is computed exactly, from the weights, penalty and ``min_score`` as
configured (the decimals, not their binary floats), and compared with
``min_score`` unrounded; only the score a pair shows is rounded (4 places).
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from fractions import Fraction
from typing import Any, Iterable

import attrs

from crmkit.plugin import Customer

from . import normalise


@attrs.frozen
class Record(Customer):
    """What matching needs of one customer: the customer (id, external id, type, name, email,
    phone) and its social handles."""

    handles: frozenset[str] = frozenset()


@attrs.frozen
class Keys:
    """A record's normalised identifiers."""

    email: str | None
    phone: str | None
    handles: frozenset[str]
    person: tuple[str, str] | None
    organisation: str | None


@attrs.frozen
class Pair:
    """A candidate duplicate pair: ``first`` is the older record (lower id)."""

    first_id: int
    second_id: int
    first: str
    second: str
    first_name: str | None
    second_name: str | None
    score: float
    """Rounded to 4 places (the pair was listed, and is ordered, by its exact score)."""
    reasons: tuple[str, ...]
    """Why, with the personal values that matched (``same email ann@example.com``)."""
    reason_kinds: tuple[str, ...] = ()
    """The same reasons without personal values (``same email``): what a member who may
    not see personal data is shown."""


@attrs.frozen
class Settings:
    """The matching rules (from the plugin configuration)."""

    default_region: str = "GB"
    weights: dict[str, float] = attrs.field(
        factory=lambda: {"email": 0.9, "phone": 0.85, "handle": 0.7, "name": 0.6})
    conflict_penalty: float = 0.5
    min_score: float = 0.5
    first_name_similarity: float = 85
    min_prefix: int = 2
    nicknames: dict[str, str] = attrs.field(factory=dict)
    max_block_size: int = 200

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Settings from the idic configuration (defaults filled in)."""
        return cls(default_region=config["default_region"], weights=dict(config["weights"]),
                   conflict_penalty=config["conflict_penalty"], min_score=config["min_score"],
                   first_name_similarity=config["first_name_similarity"],
                   min_prefix=config["min_prefix"], nicknames=dict(config["nicknames"]),
                   max_block_size=config["max_block_size"])


@attrs.frozen
class Result:
    """Candidate pairs, and how many oversized blocks were skipped."""

    pairs: list[Pair]
    compared: int
    skipped_blocks: list[tuple[str, int]]


def keys_of(record: Record, settings: Settings) -> Keys:
    """Normalise a record's identifiers."""
    person = normalise.person_name(record.name) if record.type == "person" else None
    org = normalise.organisation_name(record.name) if record.type == "organisation" else None
    return Keys(normalise.email_key(record.email),
                normalise.phone_key(record.phone, settings.default_region),
                frozenset(h for h in map(normalise.handle_key, record.handles) if h),
                person, org)


def block_keys(keys: Keys, settings: Settings) -> list[str]:
    """The blocks a record falls into."""
    out = []
    if keys.email:
        out.append(f"email:{keys.email}")
    if keys.phone:
        out.append(f"phone:{keys.phone}")
    out.extend(f"handle:{h}" for h in sorted(keys.handles))
    if keys.person:
        first, surname = keys.person
        out.append(f"name:{surname}|{normalise.formal(first, settings.nicknames)[0]}")
    if keys.organisation:
        out.append(f"org:{keys.organisation}")
    return out


def first_names_compatible(a: str, b: str, settings: Settings) -> str | None:
    """Why two first names may be the same person's (None when they are not compatible).

    A bare initial is never compatible by itself (see :func:`compare`, where it is neutral).
    """
    from rapidfuzz.fuzz import ratio

    if a == b:
        return "same first name"
    fa, fb = normalise.formal(a, settings.nicknames), normalise.formal(b, settings.nicknames)
    if fa == fb:
        return "nickname"
    short, long_ = sorted((a, b), key=len)
    if len(short) >= settings.min_prefix and long_.startswith(short):
        return "first name prefix"
    similarity = ratio(a, b)
    if similarity >= settings.first_name_similarity:
        return f"first names {similarity:.0f}% similar"
    return None


class _Compatibility:
    """First-name compatibility, memoised per pair of names (names repeat a lot)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.known: dict[tuple[str, str], str | None] = {}

    def __call__(self, a: str, b: str) -> str | None:
        key = (a, b) if a <= b else (b, a)
        if key not in self.known:
            self.known[key] = first_names_compatible(a, b, self.settings)
        return self.known[key]


@functools.lru_cache(maxsize=256)
def _as_configured(number: float) -> Fraction:
    """A configured number as the exact decimal it was written as (0.1 is 1/10)."""
    return Fraction(str(number))


def compare(a: Record, ka: Keys, b: Record, kb: Keys, settings: Settings,
            compatible=None) -> tuple[Fraction, list[tuple[str, str | None]]] | None:
    """Score one pair exactly: ``(score, reasons)``, each reason ``(kind, personal detail or
    None)``; None when nothing matches."""
    compatible = compatible or _Compatibility(settings)
    name_match = name_conflict = False
    why = None
    if ka.person and kb.person:
        (fa, sa), (fb, sb) = ka.person, kb.person
        if min(len(fa), len(fb)) > 1 or fa[0] != fb[0]:
            why = compatible(fa, fb)
            name_conflict = why is None
            name_match = why is not None and sa == sb
    org_ratio = None
    if ka.organisation and kb.organisation:
        from rapidfuzz.fuzz import ratio

        org_ratio = ratio(ka.organisation, kb.organisation)
        name_match = org_ratio >= settings.first_name_similarity
        name_conflict = not name_match
    same_email = bool(ka.email) and ka.email == kb.email
    same_phone = bool(ka.phone) and ka.phone == kb.phone
    shared = ka.handles & kb.handles
    if not (same_email or same_phone or shared or name_match):
        return None
    signals: list[str] = []
    conflicts = 0
    reasons: list[tuple[str, str | None]] = []
    for signal, mine, theirs in (("email", ka.email, kb.email), ("phone", ka.phone, kb.phone)):
        if mine and theirs:
            if mine == theirs:
                signals.append(signal)
                reasons.append((f"same {signal}", mine))
            else:
                conflicts += 1
                reasons.append((f"different {signal}s", None))
    if shared:
        signals.append("handle")
        reasons.append(("same social handle", ", ".join(f"@{h}" for h in sorted(shared))))
    if ka.person and kb.person:
        if name_conflict:
            conflicts += 1
            reasons.append(("different first names", f"({ka.person[0]} / {kb.person[0]})"))
        elif name_match:
            signals.append("name")
            reasons.append(("similar names", f"{a.name!r} ~ {b.name!r} ({why})"))
    if org_ratio is not None:
        if name_match:
            signals.append("name")
            reasons.append(("similar organisation names", f"{a.name!r} ~ {b.name!r}"))
        else:
            conflicts += 1
            reasons.append(("different organisation names", None))
    miss = Fraction(1)
    for signal in signals:
        miss *= 1 - _as_configured(settings.weights[signal])
    return (1 - miss) * (1 - _as_configured(settings.conflict_penalty)) ** conflicts, reasons


def find_pairs(records: Iterable[Record], settings: Settings,
               dismissed: set[tuple[int, int]] = frozenset()) -> Result:
    """Candidate duplicate pairs at or above ``min_score``, best first."""
    records = [r for r in records]
    keys = [keys_of(r, settings) for r in records]
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, k in enumerate(keys):
        for key in block_keys(k, settings):
            blocks[key].append(index)
    candidates: set[tuple[int, int]] = set()
    skipped = []
    for key, members in blocks.items():
        if len(members) < 2:
            continue
        if len(members) > settings.max_block_size:
            skipped.append((key, len(members)))
            continue
        candidates.update(itertools.combinations(members, 2))
    found = []
    min_score = _as_configured(settings.min_score)
    compatible = _Compatibility(settings)
    for i, j in candidates:
        a, b = records[i], records[j]
        if a.type != b.type:
            continue
        if a.id > b.id:
            (a, i), (b, j) = (b, j), (a, i)
        if (a.id, b.id) in dismissed:
            continue
        scored = compare(a, keys[i], b, keys[j], settings, compatible)
        if scored is None or scored[0] < min_score:
            continue
        score, reasons = scored
        found.append((score, Pair(a.id, b.id, a.external_id, b.external_id, a.name, b.name,
                                  float(round(score, 4)),
                                  tuple(kind if detail is None else f"{kind} {detail}"
                                        for kind, detail in reasons),
                                  tuple(kind for kind, _ in reasons))))
    found.sort(key=lambda item: (-item[0], item[1].first_id, item[1].second_id))
    return Result([pair for _, pair in found], len(candidates), sorted(skipped))
