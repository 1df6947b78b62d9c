"""Keep the gettext catalogues in step with the texts the code and templates mark.

``python -m crmkit.devtools.i18n extract [FOLDER] [-o FILE]`` writes the catalogue template
(``.pot``) of the texts found; ``update [FOLDER]`` merges them into every language's
``.po`` (new texts added untranslated, texts no longer used marked obsolete);
``check [FOLDER]`` lists each text a language's ``.po`` does not translate (missing, empty,
fuzzy, or with other ``{name}``/``%(name)s`` placeholders than the original) and exits 1
when there is one.  FOLDER is a plugin package (texts in its ``.py`` files and
``templates/``, catalogues in its ``locale/``); without it, the core (``crmkit/``, catalogues
in ``crmkit/web/locale/``).

Texts are found by Babel: in Python, calls of ``gettext``, ``ngettext`` and ``_`` with
literal strings; in Jinja2 templates, ``{{ _("…") }}``, ``gettext``/``ngettext`` calls and
``{% trans %}`` blocks.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Iterable

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from ..i18n import CATALOGUES, DOMAIN, LOCALES, SOURCE_LOCALE, catalogue_file, folder_name

CORE = Path(__file__).resolve().parents[1]
"""The ``crmkit`` package folder."""
METHODS = [("**/templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
"""Where texts are looked for, and how (Babel's extraction method map)."""
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|%\([A-Za-z_][A-Za-z0-9_]*\)[sd]")
"""A named placeholder: ``{name}`` (Python code) or ``%(name)s`` (templates)."""


def locale_root(folder: Path) -> Path:
    """The ``locale/`` folder of a package folder (the core's is ``crmkit/web/locale``)."""
    return CATALOGUES if folder.resolve() == CORE else folder / "locale"


def extract(folder: Path) -> Catalog:
    """The texts marked for translation under ``folder``, as a catalogue template."""
    template = Catalog(domain=DOMAIN, project="crmkit", fuzzy=False)
    for filename, line, message, comments, context in extract_from_dir(
            folder, METHODS, OPTIONS, keywords=DEFAULT_KEYWORDS, strip_comment_tags=True):
        template.add(message, None, [(filename, line)], auto_comments=comments,
                     context=context)
    return template


def languages() -> list[str]:
    """The languages that have catalogues (every offered one but the source language)."""
    return [tag for tag in LOCALES if tag != SOURCE_LOCALE]


def update(folder: Path) -> list[Path]:
    """Merge the texts under ``folder`` into each language's ``.po`` (created when missing);
    returns the files written."""
    template = extract(folder)
    written = []
    for tag in languages():
        path = catalogue_file(locale_root(folder), tag)
        if path.is_file():
            with path.open("rb") as stream:
                catalogue = read_po(stream, locale=folder_name(tag), domain=DOMAIN)
        else:
            catalogue = Catalog(locale=folder_name(tag), domain=DOMAIN, project="crmkit",
                                fuzzy=False)
        template.creation_date = catalogue.creation_date  # an update keeps the header
        catalogue.update(template, no_fuzzy_matching=True)
        catalogue.obsolete.clear()  # a text no longer used leaves the catalogue
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as stream:
            write_po(stream, catalogue, width=100, omit_header=False, sort_output=False)
        written.append(path)
    return written


def _placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def problems(folder: Path) -> list[str]:
    """Each text under ``folder`` some language's catalogue does not translate, as
    ``<file>: <problem> "<text>"`` (sorted); empty when every catalogue is complete."""
    template = extract(folder)
    found = []
    for tag in languages():
        path = catalogue_file(locale_root(folder), tag)
        if not path.is_file():
            found.append(f"{path}: missing (run `python -m crmkit.devtools.i18n update "
                         f"{folder}`)")
            continue
        with path.open("rb") as stream:
            catalogue = read_po(stream, locale=folder_name(tag), domain=DOMAIN)
        for message in template:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
            entry = catalogue.get(key, context=message.context)
            originals = message.id if isinstance(message.id, (list, tuple)) else [message.id]
            strings = [] if entry is None else (
                list(entry.string) if isinstance(entry.string, (list, tuple))
                else [entry.string])
            if entry is None:
                found.append(f"{path}: no entry for {key!r}")
            elif not all(strings) or entry.fuzzy:
                found.append(f"{path}: not translated {key!r}")
            elif any(_placeholders(s) != _placeholders(originals[-1 if n else 0])
                     for n, s in enumerate(strings)):
                found.append(f"{path}: placeholders differ in {key!r} (the original has "
                             f"{sorted(_placeholders(originals[0])) or 'none'})")
    return sorted(found)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crmkit.devtools.i18n",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("extract", "update", "check"))
    parser.add_argument("folder", nargs="?", type=Path, default=CORE,
                        help="a plugin package folder (default: the core)")
    parser.add_argument("-o", "--output", type=Path,
                        help="extract: write the .pot here (default: standard output)")
    arguments = parser.parse_args(list(argv) if argv is not None else None)
    folder = arguments.folder
    if not folder.is_dir():
        print(f"{folder}: not a folder", file=sys.stderr)
        return 2
    if arguments.command == "extract":
        template = extract(folder)
        if arguments.output is None:
            write_po(sys.stdout.buffer, template, width=100)
        else:
            with arguments.output.open("wb") as stream:
                write_po(stream, template, width=100)
        return 0
    if arguments.command == "update":
        for path in update(folder):
            print(f"updated {path}")
        return 0
    found = problems(folder)
    for problem in found:
        print(problem)
    return 1 if found else 0


__all__ = ["CORE", "locale_root", "extract", "languages", "update", "problems", "main"]

if __name__ == "__main__":
    sys.exit(main())
