"""Languages of the staff web app: gettext catalogues (Babel), each request's language, and
the current request's translations for templates and plugin code.

Catalogues are gettext ``.po`` files, one per language, in ``crmkit/web/locale/<lang>/
LC_MESSAGES/messages.po`` (``<lang>`` is the tag with ``_`` for ``-``: ``zh_Hans``), and in
each enabled plugin's ``locale/`` folder (the plugin part ``locale``).  They are read with
Babel when a language is first needed and compiled in memory (no build step, no ``.mo``
file that could differ from its ``.po``); a plugin may ship a compiled ``messages.mo``
instead.  A language's catalogues are merged into one: the core's entries first, then each
plugin's in plugin order, the first translation of a text winning (a plugin cannot reword
the core or a plugin before it).

The page handler activates the request's translations (:func:`activated`); :func:`gettext`
and :func:`ngettext` (in the plugin surface) then translate in that language, and in
English outside a request.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import io
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import attrs

if TYPE_CHECKING:  # pragma: no cover
    from babel.messages.catalog import Catalog

LOCALES: dict[str, str] = {"en": "English", "zh-Hans": "简体中文"}
"""The languages of the web app: BCP 47 tag → the language's name in that language."""
DEFAULT_LOCALE = "en"
"""The language of a request that asks for none of :data:`LOCALES`."""
SOURCE_LOCALE = "en"
"""The language the texts are written in (it has no catalogue)."""
CATALOGUES = Path(__file__).resolve().parent / "web" / "locale"
"""The core's catalogues (one folder per language)."""
DOMAIN = "messages"
"""The gettext domain (file name) of every catalogue, the core's and each plugin's."""


def folder_name(locale: str) -> str:
    """The catalogue folder of a BCP 47 tag: ``"zh-Hans"`` → ``"zh_Hans"``."""
    return locale.replace("-", "_")


def catalogue_file(root: Path, locale: str) -> Path:
    """Where the ``.po`` of ``locale`` is under a ``locale/`` folder ``root``."""
    return root / folder_name(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(root: Path, locale: str) -> Catalog | None:
    """The catalogue of ``locale`` under ``root`` (its ``.po``, else its ``.mo``), or None
    when there is neither."""
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    po = catalogue_file(root, locale)
    if po.is_file():
        with po.open("rb") as stream:
            return read_po(stream, locale=folder_name(locale), domain=DOMAIN)
    mo = po.with_suffix(".mo")
    if mo.is_file():
        with mo.open("rb") as stream:
            return read_mo(stream)
    return None


@functools.lru_cache(maxsize=64)
def translations(locale: str, roots: tuple[Path, ...]):
    """The merged translations (a ``babel.support.Translations``) of ``locale`` from the
    ``locale/`` folders ``roots`` (the core's first); null translations for English."""
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.support import NullTranslations, Translations

    if locale == SOURCE_LOCALE:
        return NullTranslations()
    merged = Catalog(locale=folder_name(locale), domain=DOMAIN)
    for root in roots:
        catalogue = read_catalogue(root, locale)
        for message in catalogue or ():
            if _translated(message) and message.id not in merged:
                merged[message.id] = message
    compiled = io.BytesIO()
    write_mo(compiled, merged)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def _translated(message) -> bool:
    """Whether a catalogue entry translates its text: every form filled in, not fuzzy."""
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return bool(message.id) and all(strings) and not message.fuzzy


def catalogue_roots(crm) -> tuple[Path, ...]:
    """The ``locale/`` folders of the core and of every enabled plugin with a ``locale``
    part (hook ``crmkit_locale_dir``), in plugin order."""
    roots = [CATALOGUES]
    for _, folder in crm.hooks.call("crmkit_locale_dir", None):
        roots.append(Path(folder))
    return tuple(roots)


def accepted(header: str | None) -> list[str]:
    """The language tags of an ``Accept-Language`` header, most wanted first (``q=0`` and
    ``*`` dropped; malformed parts ignored)."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, parameters = part.strip().partition(";")
        quality = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            wanted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(wanted)]


def _language_and_script(tag: str) -> str | None:
    """``tag`` as language and script (``zh-CN`` → ``zh-Hans``, ``zh-TW`` → ``zh-Hant``,
    ``en-GB`` → ``en``: only Chinese is offered in more than one script); None when Babel
    does not know it."""
    from babel.core import Locale, UnknownLocaleError, get_global

    try:
        locale = Locale.parse(tag, sep="-")
    except (ValueError, UnknownLocaleError):
        return None
    if locale.language != "zh":
        return locale.language
    # Babel gives a region its script (zh-CN → Hans); plain "zh" gets the likeliest one.
    script = locale.script or Locale.parse(get_global("likely_subtags")["zh"]).script
    return f"zh-{script}"


def negotiate(preference: str | None, accept_language: str | None) -> str:
    """A request's language: the member's ``preference`` when it is one of
    :data:`LOCALES`, else the best of the ``Accept-Language`` header (Babel's
    ``negotiate_locale``), else :data:`DEFAULT_LOCALE`."""
    from babel.core import negotiate_locale

    if preference in LOCALES:
        return preference
    wanted = [shape for shape in map(_language_and_script, accepted(accept_language)) if shape]
    return negotiate_locale(wanted, list(LOCALES), sep="-", aliases=None) or DEFAULT_LOCALE


@attrs.frozen
class Language:
    """A request's language: its BCP 47 ``tag``, the ``translations`` to use and the time
    zone (IANA name: the CRM's) instants are shown in."""

    tag: str
    translations: object
    timezone: str = "UTC"


_current: contextvars.ContextVar[Language | None] = contextvars.ContextVar(
    "crmkit_language", default=None)


def language(crm, tag: str) -> Language:
    """The :class:`Language` ``tag`` for ``crm`` (the core's and enabled plugins'
    catalogues, the core config's ``timezone``)."""
    return Language(tag, translations(tag, catalogue_roots(crm)), crm.core_config["timezone"])


@contextlib.contextmanager
def activated(current: Language) -> Iterator[Language]:
    """Translate into ``current`` inside the block (this thread or task only)."""
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


@contextlib.contextmanager
def translating(crm, tag: str) -> Iterator[Language]:
    """Translate into language ``tag`` (one of :data:`LOCALES`) inside the block, with the
    core's and ``crm``'s enabled plugins' catalogues: for code outside a web request (a
    test of a plugin's card, a job writing to a member in their language)."""
    with activated(language(crm, tag)) as current:
        yield current


def current_locale() -> str:
    """The current request's language tag (``"en"`` outside a request)."""
    current = _current.get()
    return DEFAULT_LOCALE if current is None else current.tag


def current_timezone() -> str:
    """The time zone the current request shows instants in (``"UTC"`` outside a request)."""
    current = _current.get()
    return "UTC" if current is None else current.timezone


def N_(message: str) -> str:
    """Mark ``message`` for the catalogues where it is defined (a constant) and return it
    unchanged; :func:`gettext` translates it where it is shown."""
    return message


def gettext(message: str) -> str:
    """``message`` in the current request's language (as written outside a request or when
    no catalogue translates it).  Placeholders are ``{name}`` fields filled afterwards:
    ``gettext("{count} open").format(count=3)``."""
    current = _current.get()
    return message if current is None else current.translations.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The form of ``singular``/``plural`` for ``count`` in the current request's language
    (the language's plural rule; English's outside a request)."""
    current = _current.get()
    if current is None:
        return singular if count == 1 else plural
    return current.translations.ngettext(singular, plural, count)


__all__ = ["LOCALES", "DEFAULT_LOCALE", "SOURCE_LOCALE", "CATALOGUES", "DOMAIN", "Language",
           "folder_name", "catalogue_file", "read_catalogue", "translations", "catalogue_roots",
           "accepted", "negotiate", "language", "activated", "translating", "current_locale",
           "current_timezone", "N_", "gettext", "ngettext"]
