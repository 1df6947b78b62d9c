"""Normalising identifiers for matching: email, phone (E.164), social handle and person names."""

from __future__ import annotations

import re
import unicodedata

TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "rev"})
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md"})
ORG_SUFFIXES = frozenset({"ltd", "limited", "inc", "llc", "plc", "gmbh", "sa", "sas", "bv",
                          "ag", "co", "corp", "company", "the"})

NICKNAMES: dict[str, str] = {
    "bob": "robert", "rob": "robert", "bobby": "robert", "bill": "william", "will": "william",
    "liam": "william", "billy": "william", "jim": "james", "jimmy": "james", "jamie": "james",
    "jack": "john", "johnny": "john", "dick": "richard", "rick": "richard", "ted": "edward",
    "ned": "edward", "eddie": "edward", "peggy": "margaret", "meg": "margaret",
    "maggie": "margaret", "polly": "mary", "molly": "mary", "liz": "elizabeth",
    "beth": "elizabeth", "betty": "elizabeth", "bess": "elizabeth", "kate": "katherine",
    "kathy": "katherine", "kitty": "katherine", "sally": "sarah", "harry": "henry",
    "hal": "henry", "chuck": "charles", "charlie": "charles", "tony": "anthony",
    "sandy": "alexander", "alex": "alexander", "sasha": "alexander", "nick": "nicholas",
    "mike": "michael", "mick": "michael", "dave": "david", "steve": "stephen",
    "tom": "thomas", "pat": "patricia", "patty": "patricia", "sue": "susan",
    "jenny": "jennifer", "jen": "jennifer", "chris": "christopher", "greg": "gregory",
    "ben": "benjamin", "sam": "samuel", "dan": "daniel", "danny": "daniel", "joe": "joseph",
    "andy": "andrew", "drew": "andrew", "fred": "frederick", "larry": "lawrence",
    "ken": "kenneth", "nancy": "ann", "annie": "ann", "hank": "henry", "frank": "francis",
}
"""Common English nicknames → formal first name (config ``nicknames`` adds more)."""

_REGION = re.compile(r"\(\s*([A-Za-z]{2})\s*\)\s*$")


def email_key(email: str | None) -> str | None:
    """Lower-cased, trimmed email with any ``+tag`` removed from the local part; None if not an email."""
    if not email:
        return None
    text = email.strip().lower()
    local, sep, domain = text.partition("@")
    if not sep or not local or "." not in domain:
        return None
    return f"{local.split('+', 1)[0]}@{domain}"


def phone_key(phone: str | None, default_region: str) -> str | None:
    """The number in E.164 (``+442079460018``), or None when it cannot be a phone number.

    A trailing region in brackets (``020 7946 0018 (GB)``) overrides ``default_region``.
    """
    import phonenumbers

    if not phone or not phone.strip():
        return None
    text = phone.strip()
    region = default_region
    hint = _REGION.search(text)
    if hint:
        region, text = hint.group(1).upper(), text[:hint.start()]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def handle_key(handle: str | None) -> str | None:
    """A social handle without ``@``, lower-cased (the social plugin's normal form)."""
    if not handle:
        return None
    text = handle.strip().lstrip("@").lower()
    return text or None


def name_tokens(name: str | None) -> list[str]:
    """Lower-case ASCII words of a name, without punctuation, titles or suffixes."""
    if not name:
        return []
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    words = re.split(r"[^a-z0-9'-]+", folded.replace(".", " "))
    words = [w.strip("'-") for w in words]
    return [w for w in words if w and w not in TITLES and w not in SUFFIXES]


def person_name(name: str | None) -> tuple[str, str] | None:
    """``(first name, surname)`` of a person's name, or None for fewer than two words."""
    words = name_tokens(name)
    if len(words) < 2:
        return None
    return words[0], words[-1]


def organisation_name(name: str | None) -> str | None:
    """An organisation's name without legal suffixes (``Acme Ltd`` → ``acme``)."""
    words = [w for w in name_tokens(name) if w not in ORG_SUFFIXES]
    return " ".join(words) or None


def formal(first: str, extra: dict[str, str] | None = None) -> str:
    """The formal first name behind a nickname (``bob`` → ``robert``); the name itself otherwise."""
    if extra and first in extra:
        return extra[first]
    return NICKNAMES.get(first, first)
