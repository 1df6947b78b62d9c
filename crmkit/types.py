"""Column types shared by the core and plugins: exact money, aware UTC time, JSON.

Money is stored as a whole number of ten-thousandths (``MONEY_SCALE``) in a
BIGINT on every database, so sums are exact and identical on SQLite and
PostgreSQL.  Reading a ``Money`` column (or ``func.sum`` of one) through
SQLAlchemy gives a ``Decimal`` again; in hand-written SQL divide by
``MONEY_SCALE``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
import unicodedata
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from .clock import UTC

MONEY_PLACES = 4
MONEY_SCALE = 10**MONEY_PLACES
"""Stored money units per currency unit (four decimal places)."""
MONEY_LIMIT = Decimal(10) ** 14
"""Every amount is smaller than this in size (:func:`to_money` refuses larger ones)."""

JSONType = JSON().with_variant(JSONB(), "postgresql")
"""JSON column type: JSONB on PostgreSQL, JSON text on SQLite."""
BigIdType = BigInteger().with_variant(Integer(), "sqlite")
"""Id column type of tables that may pass 2^31 rows: BIGINT, on SQLite INTEGER (the rowid)."""


AMOUNT_SYNTAX = "[+-]digits[.digits] with ASCII digits 0-9, e.g. 120.50 or -5"
"""The one accepted form of an amount given as text (no exponent, no ``_``, no other digits)."""

_AMOUNT_TEXT = re.compile(r"[+-]?[0-9]+(?:[.][0-9]+)?")
_PLAIN_AMOUNT = re.compile(r"[+-]?[0-9]{1,14}(?:[.][0-9]{1,4})?").fullmatch
"""Text that :func:`to_money` takes as is: within range and at most 4 decimal places."""


def to_money(value: object, field: str = "amount") -> Decimal:
    """Return ``value`` as an exact ``Decimal``: the one rule for every amount crmkit accepts.

    A ``Decimal`` or ``int`` is taken as is; text must be :data:`AMOUNT_SYNTAX`
    (surrounding spaces ignored): Arabic-Indic or full-width digits, ``1_000``,
    ``1e3``, ``NaN`` are refused, as are floats (money must be exact).  At most
    4 decimal places and ``|amount| < 10^14``.  Raises :class:`ValidationError`
    whose message starts with ``field`` and whose only problem is
    ``("", field, message)``.
    """
    if type(value) is str and _PLAIN_AMOUNT(value):  # the common case: one regex decides
        return Decimal(value)
    from .errors import ValidationError

    def refuse(message: str) -> ValidationError:
        return ValidationError(f"{field}: {message}", [("", field, message)])

    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int) and not isinstance(value, bool):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _AMOUNT_TEXT.fullmatch(text):
            raise refuse(f"{value!r} is not a number (allowed: {AMOUNT_SYNTAX})")
        result = Decimal(text)
    else:
        raise refuse(f"expected a Decimal, int or numeric text, got {type(value).__name__}"
                     " (floats are refused: money must be exact)")
    if not result.is_finite():
        raise refuse(f"{value!r} is not a finite number")
    if result.as_tuple().exponent < -4:  # type: ignore[operator]
        raise refuse(f"{value} has more than 4 decimal places")
    if abs(result) >= MONEY_LIMIT:
        raise refuse(f"{value} is out of range (|amount| < 10^14)")
    return result


ISO_4217 = frozenset("""
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
    BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
    DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR
    IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD
    SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS
    VED VES VND VUV WST XAF XAG XAU XBA XBB XBC XBD XCD XCG XDR XOF XPD XPF XPT XSU XTS XUA
    XXX YER ZAR ZMW ZWG ZWL
""".split())
"""The active ISO 4217 currency codes (including funds, metals and codes being withdrawn)."""


def to_currency(value: object, field: str = "currency") -> str:
    """Return ``value`` as an ISO 4217 code: spaces around it dropped, upper-cased.

    ``" usd"`` gives ``USD``; an unknown code (``XYZ``, ``US$``, ``euro``) is a
    :class:`ValidationError` whose only problem is ``("", field, message)``.
    """
    from .errors import ValidationError

    code = value.strip().upper() if isinstance(value, str) else None
    if code not in ISO_4217:
        message = (f"{value!r} is not an ISO 4217 currency code (allowed: three letters of "
                   "ISO 4217, e.g. USD, EUR, GBP)")
        raise ValidationError(f"{field}: {message}", [("", field, message)])
    return code


def interaction_kind(kind: str) -> str:
    """An interaction kind as crmkit keeps it: spaces around it dropped, lower case
    (``" Purchase"`` gives ``purchase``), so a kind written in another case is the same kind,
    in the interactions and in the configurations that name kinds (``format``
    ``interaction-kind``).  An empty result stands for the default kind, ``purchase``."""
    return kind.strip().lower()


_PHONE_REGION = re.compile(r"\(\s*([A-Za-z]{2})\s*\)\s*\Z")


def to_phone(value: str, region: str | None, field: str = "phone") -> str:
    """Return the phone number ``value`` in E.164 (``+442079460018``).

    A number starting with ``+`` and its country code is read as is; one
    without is read as a number of ``region`` (ISO 3166, the core config's
    ``phone_region``), or of the region in brackets at its end
    (``020 7946 0018 (GB)``), and refused without either.  Text that is not a
    valid number of its country (``hello``, ``123``) is a
    :class:`ValidationError` whose only problem is ``("", field, message)``.
    """
    import phonenumbers

    from .errors import ValidationError

    text, source = value, "core config phone_region"
    hint = _PHONE_REGION.search(value)
    if hint:
        region, text, source = hint.group(1).upper(), value[:hint.start()], "in brackets"
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        national = (f"or a national number of {region} ({source})" if region
                    else "national numbers need the core config phone_region or a region in "
                    "brackets, e.g. 020 7946 0018 (GB)")
        message = (f"{value!r} is not a phone number (allowed: + and the country code, e.g. "
                   f"+44 20 7946 0018; {national})")
        raise ValidationError(f"{field}: {message}", [("", field, message)])
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_phone_region(region: str | None, where: str) -> None:
    """Raise ConfigError unless ``region`` is None or a region :func:`to_phone` can read
    national numbers of (ISO 3166: ``GB``, not ``UK``)."""
    import phonenumbers

    from .errors import ConfigError

    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{where}: {region!r} is not an ISO 3166 region of phone numbers "
                          "(allowed: e.g. GB, US, DE, or null)")


def condition_money(value: object, field: str = "value") -> Decimal:
    """A money amount compared in a condition, as the exact Decimal it reads as: the one rule
    for every condition on a money field (an amount, a monetary value, a CLV).

    A JSON number is taken as written (``0.1`` is ``0.1``, not the binary float); it, an int,
    a Decimal or decimal text must then pass :func:`to_money`: at most 4 decimal places (what
    money keeps), ``|amount| < 10^14``.  Never rounded or truncated: anything else is one
    :class:`~crmkit.errors.ConfigError` starting with ``field``.
    """
    from .errors import ConfigError, ValidationError

    if isinstance(value, float) and math.isfinite(value):
        value = Decimal(repr(value))
    try:
        return to_money(value, field)
    except ValidationError as exc:
        raise ConfigError(str(exc)) from None


def money_units(value: Decimal) -> int:
    """Convert an exact Decimal amount to stored units."""
    return int(value * MONEY_SCALE)


def money_from_units(units: int) -> Decimal:
    """Stored money units (1/``MONEY_SCALE``) as the exact Decimal with four places that a
    :class:`Money` column reads (``12500`` → ``Decimal("1.2500")``)."""
    return Decimal(int(units)).scaleb(-MONEY_PLACES)


class Money(TypeDecorator):
    """Exact money: a Decimal in Python, whole ten-thousandths in the database."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return money_units(to_money(value))

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return money_from_units(value)

    @property
    def python_type(self):  # pragma: no cover - informational
        return Decimal


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetime; naive values are refused on the way in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            return value
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: crmkit stores aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


UNSTORABLE_TEXT = ("contains a NUL character (U+0000) or a lone surrogate (U+D800..U+DFFF), "
                   "which the databases cannot store")
"""The one message for text the databases cannot store (PostgreSQL refuses both; SQLite mangles them)."""


def unstorable_text(value: object) -> bool:
    """Whether any text in ``value`` (a str, or the keys and values of JSON-like data) is unstorable."""
    stack = [value]
    while stack:  # no recursion: any depth is safe
        node = stack.pop()
        if isinstance(node, str):
            if "\x00" in node or (not node.isascii() and not _encodes(node)):
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)
    return False


MAX_JSON_DEPTH = 32
"""Deepest accepted nesting of objects and arrays in a stored JSON value (attributes,
payloads, configurations, conditions): the top-level object is level 1."""


def json_problem(value: object, numbers: bool = True) -> str | None:
    """Why JSON-like ``value`` cannot be stored, as ``/pointer: reason``; None when it can.

    Refuses NaN and infinite numbers (JSON has none: PostgreSQL refuses them
    and every later reader of the value fails; ``numbers=False`` skips this)
    and nesting deeper than :data:`MAX_JSON_DEPTH`.  Walks without recursion,
    so any depth is safe.
    """
    stack: list[tuple[object, tuple[str, ...], int]] = [(value, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        if numbers and ((type(node) is float and not math.isfinite(node)) or (
                type(node) is Decimal and not node.is_finite())):
            shown = "NaN" if node != node else "-Infinity" if node < 0 else "Infinity"
            return f"{json_pointer(path)}: {shown} is not a finite number (JSON numbers must be finite)"
        if isinstance(node, (dict, list, tuple)):
            if depth > MAX_JSON_DEPTH:
                return (f"{json_pointer(path)}: nested deeper than {MAX_JSON_DEPTH} levels "
                        "(the limit)")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend(reversed([(v, (*path, str(k)), depth + 1) for k, v in items]))
    return None


def json_pointer(path: tuple[str, ...] | list[str]) -> str:
    """The JSON pointer (RFC 6901) of a path of keys: ``("a", "b/c")`` is ``/a/b~1c``."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)


class DuplicateKeyError(ValueError):
    """A JSON object names one key twice (:func:`parse_json`): ``pointer`` is the JSON pointer
    of the key, ``problem`` says what is wrong without it."""

    def __init__(self, path: tuple[str, ...], key: str):
        self.pointer = json_pointer((*path, key))
        self.problem = f"the key {key!r} is given more than once (allowed: each key once)"
        super().__init__(f"{self.pointer}: {self.problem}")


def parse_json(text: str, **options) -> object:
    """``json.loads`` refusing nesting deeper than :data:`MAX_JSON_DEPTH` (a ValueError naming
    where), so that no later step can overflow the stack, an integer of more digits than
    Python converts (a ValueError saying so; text that is no JSON is a JSONDecodeError), and
    an object naming a key twice (a :class:`DuplicateKeyError` naming the key's pointer: JSON
    leaves the meaning of such an object open, and ``json.loads`` would keep the last value
    silently).

    NaN and infinite numbers still parse (as floats); :func:`json_problem`
    refuses them, with their pointer, where the value enters the database.
    """
    duplicated: dict[int, tuple[dict, str]] = {}  # holds the objects: their ids stay theirs

    def build(pairs: list[tuple[str, object]]) -> dict:
        built = dict(pairs)
        if len(built) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    break
                seen.add(key)
            duplicated[id(built)] = (built, key)
        return built

    try:
        value = json.loads(text, object_pairs_hook=build, **options)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels (the limit)") from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # the only other refusal of json.loads: int()'s digit limit
        raise ValueError(f"a number has more than {sys.get_int_max_str_digits()} digits "
                         "(the limit)") from None
    # the common document cannot be too deep: decided on its text
    if text.count("{") + text.count("[") > MAX_JSON_DEPTH:
        problem = json_problem(value, numbers=False)
        if problem:
            raise ValueError(problem)
    if duplicated:  # the first in document order: an object is dropped from the value only
        # by a duplicate key of an object around it, and that one is in the value
        path, key = next((path, duplicated[id(node)][1]) for node, path in _walk(value)
                         if id(node) in duplicated)
        raise DuplicateKeyError(path, key)
    return value


def _walk(value: object) -> Iterator[tuple[object, tuple[str, ...]]]:
    """Every node of JSON-like ``value`` with its path, in document order (no recursion:
    any depth is safe)."""
    stack: list[tuple[object, tuple[str, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        yield node, path
        if isinstance(node, (dict, list)):
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend(reversed([(v, (*path, str(k))) for k, v in items]))


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    return True


IDENTIFIER = "identifier"
"""Text rule of ids and names of who acted: external ids, actors, staff handles.  Refuses
every control (C0, DEL, C1), format (bidirectional marks, embeddings, overrides and isolates,
zero-width characters, BOM, soft hyphen) and line or paragraph separator character."""
LINE = "line"
"""Text rule of one-line free text (names, emails, tags, kinds): refuses the control
characters (tab and newline included), the line and paragraph separators and the
bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069); marks such
as U+200E/U+200F and joiners, which right-to-left and Indic names need, are kept."""
TEXT = "text"
"""Text rule of multi-line free text (attribute values): like :data:`LINE`, but tab,
newline, carriage return and the line and paragraph separators are allowed."""

_RULE_TEXT = {
    IDENTIFIER: "an identifier may not contain control, format, bidirectional or "
                "line-separator characters",
    LINE: "one-line text may not contain control characters (tab and newline included), "
          "line separators or bidirectional embeddings, overrides and isolates",
    TEXT: "text may not contain control characters other than tab and newline, or "
          "bidirectional embeddings, overrides and isolates",
}
ASCII_CONTROLS = re.compile("[\x00-\x1f\x7f]")
"""The ASCII characters that :data:`IDENTIFIER` and :data:`LINE` refuse (a fast first test of
ASCII text; :func:`text_problem` says why)."""
_ASCII_REFUSED = {IDENTIFIER: ASCII_CONTROLS, LINE: ASCII_CONTROLS,
                  TEXT: re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")}
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REFUSED_CATEGORIES = {IDENTIFIER: frozenset({"Cc", "Cf", "Zl", "Zp"}),
                       LINE: frozenset({"Cc", "Zl", "Zp"}), TEXT: frozenset({"Cc"})}


SHOWN_TOO_LONG = 40
"""Up to this many characters, a text that is too long is quoted in the message."""


def too_long(text: str, limit: int) -> str:
    """The problem of a ``text`` longer than ``limit`` characters, saying the limit: the text
    quoted when short, else only its length (an error never repeats a huge input)."""
    what = repr(text) if len(text) <= SHOWN_TOO_LONG else f"text of {len(text)} characters"
    return f"{what} is too long (allowed: at most {limit} characters)"


TAG_SEPARATOR = ";"
"""What separates a customer's tags in one CSV cell (import, export and listings); a tag's
own ``;`` (and ``\\``) is escaped there with a backslash (:func:`join_tags`)."""


def join_tags(tags: Iterable[str]) -> str:
    """The CSV cell of ``tags``: separated by ``;``, a ``;`` or ``\\`` inside a tag written
    ``\\;`` or ``\\\\`` so that :func:`split_tags` gives the same tags back."""
    return TAG_SEPARATOR.join(tag.replace("\\", "\\\\").replace(TAG_SEPARATOR, "\\;")
                              for tag in tags)


def split_tags(cell: str) -> list[str]:
    """The tags of a CSV cell (:func:`join_tags` reversed): split at each ``;`` that no
    backslash escapes, ``\\;`` and ``\\\\`` read as ``;`` and ``\\`` (another backslash
    stays), spaces around each tag dropped and empty ones left out."""
    if "\\" not in cell:
        parts = cell.split(TAG_SEPARATOR)
    else:
        parts, current, escaped = [], [], False
        for ch in cell:
            if escaped:
                current.append(ch if ch in (TAG_SEPARATOR, "\\") else "\\" + ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == TAG_SEPARATOR:
                parts.append("".join(current))
                current = []
            else:
                current.append(ch)
        parts.append("".join(current) + ("\\" if escaped else ""))
    return [tag.strip() for tag in parts if tag.strip()]


def tag_problem(tag: str, limit: TextLimit | None = None) -> str | None:
    """Why ``tag`` (spaces around it dropped) cannot be a customer's tag, or None: it is
    blank, is no storable text, or is longer than ``limit``."""
    if not tag:
        return "a tag is blank (each must hold a text)"
    length = None if limit is None else limit.problem(tag)
    return text_problem(tag) or (f"a tag of {length}" if length else None)


class TextLimit(NamedTuple):
    """How many characters a text field accepts: :attr:`chars`, and whether the core
    configuration's ``max_field_length`` is what sets it (:attr:`by_config`) rather than the
    field's own width."""

    chars: int
    """The most characters accepted."""
    by_config: bool
    """Whether the core configuration's ``max_field_length`` is the binding limit."""

    @classmethod
    def of(cls, core_config: Mapping[str, Any], width: int | None = None) -> "TextLimit":
        """The limit of a field ``width`` characters wide (None: free text with no width of
        its own) under ``core_config``: the smaller of the width and ``max_field_length``."""
        most = core_config["max_field_length"]
        return cls(width, False) if width is not None and width <= most else cls(most, True)

    def problem(self, text: str) -> str | None:
        """``"N characters; at most L"`` when ``text`` is longer than the limit, with
        ``" (core config max_field_length)"`` when the core configuration sets it; None when
        it fits."""
        if len(text) <= self.chars:
            return None
        source = " (core config max_field_length)" if self.by_config else ""
        return f"{len(text)} characters; at most {self.chars}{source}"


def text_limit(crm: Any, width: int | None = None) -> TextLimit:
    """The limit of a text field ``width`` characters wide (None: free text with no width of
    its own) in ``crm``: at most the core configuration's ``max_field_length``, which an admin
    may lower (:meth:`TextLimit.of` of ``crm.core_config``; in a write transaction, the
    configuration it read).  ``.chars`` is the number, ``.problem(text)`` the one error wording
    of a text over it (None when it fits)."""
    return TextLimit.of(crm.core_config, width)


def text_problem(text: str, rule: str = LINE) -> str | None:
    """Why ``text`` breaks ``rule`` (:data:`IDENTIFIER`, :data:`LINE` or :data:`TEXT`), naming
    the first refused character by its code point; None when it is fine."""
    if text.isascii():
        found = _ASCII_REFUSED[rule].search(text)
        bad = None if found is None else found.group()
    else:
        categories = _REFUSED_CATEGORIES[rule]
        allowed = "\t\n\r\u2028\u2029" if rule == TEXT else ""
        bad = next((ch for ch in text if ch not in allowed and (
            ch in _BIDI_CONTROLS or unicodedata.category(ch) in categories)), None)
    if bad is None:
        return None
    name = unicodedata.name(bad, "") or "a control character"
    return f"contains U+{ord(bad):04X} ({name}): {_RULE_TEXT[rule]}"


def normal_text(text: str) -> str:
    """``text`` in Unicode normal form NFC, so that composed and decomposed spellings of one
    name (``"José"`` as é or as e + ◌́) are stored, compared and found as one."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def clean_text(value: str, field: str, rule: str = LINE) -> str:
    """``value`` in NFC after checking it against ``rule``; a ValidationError names ``field``
    and the refused character's code point (its only problem is ``("", field, message)``)."""
    from .errors import ValidationError

    problem = text_problem(value, rule)
    if problem is not None:
        raise ValidationError(f"{field}: {problem}", [("", field, problem)])
    return normal_text(value)


def sqlite_timestamp(value: dt.datetime) -> str:
    """The text SQLite stores for an aware datetime: exactly what ``UTCDateTime`` writes.

    Always with microseconds (``2024-05-01 09:30:00.000000``), so that text
    comparisons in SQL order correctly.
    """
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return _SQLITE_TIMESTAMP % (value.year, value.month, value.day, value.hour, value.minute,
                                value.second, value.microsecond)


def postgres_timestamp(value: dt.datetime) -> str:
    """The text by which PostgreSQL's ``COPY`` reads an aware datetime as the same instant: its
    UTC time with the offset ``+00`` (cheaper to make than the driver's own dumping of a
    datetime, which matters once per row of a bulk write)."""
    return sqlite_timestamp(value) + "+00"


_SQLITE_TIMESTAMP = "%04d-%02d-%02d %02d:%02d:%02d.%06d"
""":func:`sqlite_timestamp`'s layout (``%`` formatting: a third faster than ``isoformat``,
which matters once per imported row)."""


__all__ = [
    "MONEY_SCALE", "MONEY_LIMIT", "TAG_SEPARATOR", "join_tags", "split_tags", "tag_problem", "JSONType", "BigIdType", "to_money", "condition_money", "money_units",
    "money_from_units", "Money", "UTCDateTime",
    "UNSTORABLE_TEXT", "unstorable_text", "MAX_JSON_DEPTH", "json_problem", "json_pointer",
    "parse_json", "DuplicateKeyError", "sqlite_timestamp", "postgres_timestamp", "AMOUNT_SYNTAX", "ISO_4217", "to_currency", "to_phone", "interaction_kind",
    "IDENTIFIER", "LINE", "TEXT", "ASCII_CONTROLS", "text_problem", "normal_text", "clean_text",
    "too_long", "TextLimit", "text_limit",
]
