"""HTML forms generated from a JSON Schema (the plugins' configuration forms of the admin pages).

:func:`fields` turns a schema and a document into a tree of :class:`Field`: an object with
``properties`` becomes a fieldset of its properties; a string, number, integer, boolean or
``enum`` a labelled input (the schema's ``title`` or the property name as the label, its
``description`` as help text); an array of scalars a textarea holding one item per line;
anything else (conditions and other ``$ref``, arrays of objects, maps, ``oneOf``, an object
or array that may be ``null``…) a JSON textarea for that sub-tree.  :func:`document` reads
the submitted form back into a document (to be validated by the caller: nothing here decides
what is valid), and :func:`place` attaches errors, by JSON pointer, to the nearest field
that shows them.

An empty input leaves its key out (the schema's default fills it), except that a nullable
value becomes ``null`` and an empty list of lines ``[]``; text that is not a number in a
number input is passed on as text, so that the schema's own message names it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import attrs

from ..errors import CRMError, ConfigError, ValidationError
from ..types import DuplicateKeyError, parse_json
from .dispatch import shown_message

PREFIX = "config"
"""Every generated input's name is this followed by its JSON pointer (``config/lock_days``)."""
SCALARS = {"string": "text", "number": "number", "integer": "integer", "boolean": "checkbox"}
"""The input kind of each scalar JSON type."""
COMPOSITE = ("$ref", "$dynamicRef", "oneOf", "anyOf", "allOf", "not", "if", "patternProperties",
             "dependentSchemas", "unevaluatedProperties", "const", "prefixItems")
"""Keywords a generated input cannot express: their sub-tree is edited as JSON."""
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


@attrs.frozen
class Field:
    """One element of a generated form.

    ``kind`` is ``fieldset`` (``children`` hold its properties), ``text``, ``number``,
    ``integer``, ``checkbox``, ``select`` (``options``: ``(value, label)`` pairs, the
    value JSON), ``lines`` (one array item per line) or ``json``.  ``value`` is the text
    the input shows (for a checkbox: ``"on"`` when ticked).
    """

    pointer: str
    label: str
    help: str | None
    kind: str
    value: str = ""
    required: bool = False
    nullable: bool = False
    options: tuple[tuple[str, str], ...] = ()
    children: tuple["Field", ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The input's form name: :data:`PREFIX` and the JSON pointer."""
        return PREFIX + self.pointer

    @property
    def id(self) -> str:
        """An HTML id for the input: ``f`` and the pointer with ``/`` written ``-`` and every
        other character but letters, digits and ``_`` as ``.hex.`` (``f-tiers``)."""
        return "f" + re.sub(r"[^A-Za-z0-9_/]", lambda m: f".{ord(m[0]):x}.",
                            self.pointer).replace("/", "-")


def escape(key: str) -> str:
    """``key`` as one JSON pointer step (RFC 6901: ``~`` → ``~0``, ``/`` → ``~1``)."""
    return key.replace("~", "~0").replace("/", "~1")


def _types(schema: dict[str, Any]) -> tuple[set[str], bool]:
    """The schema's JSON types but ``null``, and whether it admits ``null``."""
    declared = schema.get("type")
    types = {declared} if isinstance(declared, str) else set(declared or ())
    nullable = "null" in types
    if "enum" in schema:
        nullable = None in schema["enum"]
    return types - {"null"}, nullable


def _kind(schema: Any) -> str:
    """How a sub-schema is edited (see :class:`Field`)."""
    if not isinstance(schema, dict) or any(key in schema for key in COMPOSITE):
        return "json"
    types, nullable = _types(schema)
    if nullable and types & {"object", "array"}:
        return "json"  # null or a whole value: no set of fields says which
    if "enum" in schema:
        return "select" if all(v is None or isinstance(v, (str, int, float)) for v in
                                schema["enum"]) else "json"
    if types == {"object"} or (not types and "properties" in schema):
        extra = schema.get("additionalProperties", False)
        if isinstance(schema.get("properties"), dict) and extra is False and not any(
                key in schema for key in ("propertyNames", "minProperties", "maxProperties")):
            return "fieldset"
        return "json"
    if types == {"array"}:
        items = schema.get("items")
        return "lines" if _kind(items) in ("text", "number", "integer") else "json"
    if len(types) == 1 and next(iter(types)) in SCALARS:
        return SCALARS[next(iter(types))]
    return "json"


def fields(schema: dict[str, Any], document: Any, submitted: dict[str, str] | None = None,
           label: str = "", pointer: str = "", required: bool = False) -> Field:
    """The form of ``schema`` showing ``document`` (a stored configuration) or, when
    ``submitted`` is given, the text a member entered (kept after an error)."""
    kind = _kind(schema)
    _, nullable = _types(schema) if isinstance(schema, dict) else (set(), False)
    title = schema.get("title") if isinstance(schema, dict) else None
    description = schema.get("description") if isinstance(schema, dict) else None
    common = dict(pointer=pointer, label=title or label, help=description, kind=kind,
                  required=required, nullable=nullable)
    if kind == "fieldset":
        needed = set(schema.get("required", ()))
        children = tuple(
            fields(sub, document.get(key) if isinstance(document, dict) else None, submitted,
                   key, f"{pointer}/{escape(key)}", key in needed)
            for key, sub in schema["properties"].items())
        return Field(**common, children=children)
    if kind == "select":
        options = tuple((json.dumps(v), "—" if v is None else str(v)) for v in schema["enum"])
        common["options"] = options
    if submitted is not None:
        value = submitted.get(PREFIX + pointer, "")
        if kind == "checkbox":
            value = "on" if value else ""
        return Field(**common, value=value)
    return Field(**common, value=_shown(kind, document))


def _shown(kind: str, value: Any) -> str:
    """The text an input of ``kind`` shows for a stored ``value``."""
    if kind == "checkbox":
        return "on" if value is True else ""
    if value is None and kind != "json":
        return ""
    if kind == "text":
        return value if isinstance(value, str) else json.dumps(value)
    if kind == "lines":
        items = value if isinstance(value, list) else [value]
        return "\n".join(i if isinstance(i, str) else json.dumps(i) for i in items)
    if kind == "json":
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value) if kind == "select" or not isinstance(value, str) else value


def document(form: Field, submitted: dict[str, str]) -> tuple[Any, list[tuple[str, str]]]:
    """The document the submitted form stands for, and the inputs that could not be read
    at all (JSON that does not parse or is nested too deep, a number too long to read) as
    ``(pointer, message)``."""
    problems: list[tuple[str, str]] = []
    present, value = _read(form, submitted, problems)
    return (value if present else None), problems


def _read(field: Field, submitted: dict[str, str], problems: list) -> tuple[bool, Any]:
    """``(present, value)`` of one field (``present`` False: leave the key out)."""
    if field.kind == "fieldset":
        result = {}
        for child in field.children:
            present, value = _read(child, submitted, problems)
            if present:
                result[child.pointer.rsplit("/", 1)[1].replace("~1", "/").replace("~0", "~")
                       ] = value
        return True, result
    text = submitted.get(field.name, "")
    if field.kind == "checkbox":
        return True, bool(text)
    if field.kind == "lines":
        return True, [_scalar(line.strip(), field.pointer, problems)
                      for line in text.splitlines() if line.strip()]
    if not text.strip() and not (field.kind == "text" and field.required):
        return field.nullable, None
    if field.kind == "select":
        try:
            return True, parse_json(text)
        except ValueError:
            return True, text
    if field.kind == "json":
        return _json(text, field.pointer, problems)
    if field.kind in ("number", "integer"):
        return True, _scalar(text.strip(), field.pointer, problems)
    return True, text


def _json(text: str, pointer: str, problems: list) -> tuple[bool, Any]:
    """``(True, value)`` of the JSON ``text``; ``(False, None)`` and the problem at ``pointer``
    when it does not parse, is nested too deep, has a number too long to read or an object
    naming a key twice (the problem at that key's pointer under ``pointer``)."""
    try:
        return True, parse_json(text)
    except json.JSONDecodeError as exc:
        problems.append((pointer, f"not valid JSON: {exc.msg} (line {exc.lineno}, "
                                  f"column {exc.colno})"))
    except DuplicateKeyError as exc:
        problems.append((pointer + exc.pointer, exc.problem))
    except ValueError as exc:
        problems.append((pointer, str(exc)))
    return False, None


def _scalar(text: str, pointer: str, problems: list) -> Any:
    """A number when ``text`` is a JSON number (one too long to read is a problem at
    ``pointer``), else the text itself."""
    if not _NUMBER.fullmatch(text):
        return text
    read, value = _json(text, pointer, problems)
    return value if read else text


def problems_of(exc: CRMError) -> list[tuple[str, str]]:
    """``(JSON pointer, message)`` of each problem an error names: a ValidationError's
    problems, a ConfigError's, or the pointer a plugin's ``crmkit_check_config`` puts first
    in its message (``"/tiers/1/threshold: …"``); ``""`` for the whole document.  Of an error
    whose message is for the server's log only, what a client is told
    (:func:`crmkit.web.dispatch.shown_message`: a DatabaseError, a HookFailed)."""
    if isinstance(exc, ValidationError) and exc.problems:
        return [(field, message) for _, field, message in exc.problems]
    if isinstance(exc, ConfigError) and exc.problems:
        return list(exc.problems)
    shown = shown_message(exc)
    if shown != str(exc):
        return [("", shown)]
    found = re.match(r"[^/]*?(/\S*): (.+)", str(exc), re.DOTALL)
    return [(found[1], found[2])] if found else [("", str(exc))]


def place(form: Field, problems: list[tuple[str, str]]
          ) -> tuple[Field, list[tuple[Field | None, str, str]]]:
    """``form`` with each problem attached to the deepest field whose pointer is the
    problem's or an ancestor of it, and the summary: ``(field or None, pointer, message)``
    for each problem in order (None: the whole document)."""
    summary: list[tuple[Field | None, str, str]] = []
    attached: dict[str, list[str]] = {}
    for pointer, message in problems:
        target = _deepest(form, pointer)
        if target is not None and target.pointer:
            attached.setdefault(target.pointer, []).append(message)
        summary.append((None if target is None or not target.pointer else target,
                        pointer or "/", message))
    placed = _attach(form, attached)
    return placed, [(_find(placed, f.pointer) if f else None, p, m) for f, p, m in summary]


def _deepest(field: Field, pointer: str) -> Field | None:
    if not (pointer == field.pointer or pointer.startswith(field.pointer + "/")):
        return None
    for child in field.children:
        found = _deepest(child, pointer)
        if found is not None:
            return found
    return field


def _attach(field: Field, attached: dict[str, list[str]]) -> Field:
    children = tuple(_attach(child, attached) for child in field.children)
    return attrs.evolve(field, children=children,
                        errors=field.errors + tuple(attached.get(field.pointer, ())))


def _find(field: Field, pointer: str) -> Field | None:
    found = _deepest(field, pointer)
    return found if found is not None and found.pointer == pointer else None


__all__ = ["Field", "PREFIX", "fields", "document", "place", "problems_of", "escape"]
