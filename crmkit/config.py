"""Configuration documents checked against JSON Schema (Draft 2020-12), defaults filled in."""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from .auth import ROLES_SCHEMA
from .errors import ConfigError
from .types import DuplicateKeyError, json_pointer, json_problem, parse_json, too_long

CORE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "crmkit core configuration",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "default_currency": {
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "format": "currency",
            "default": "USD",
            "description": "ISO 4217 currency used when an interaction names none.",
        },
        "timezone": {
            "type": "string",
            "format": "timezone",
            "default": "UTC",
            "description": "IANA time zone for reports and business calendars.",
        },
        "phone_region": {
            "type": ["string", "null"],
            "pattern": "^[A-Z]{2}$",
            "default": None,
            "description": "ISO 3166 region (e.g. GB, US) of customer phone numbers written "
                           "without + and a country code; null: every phone must have them.",
        },
        "negative_amount_kinds": {
            "type": "array",
            "items": {"type": "string", "format": "interaction-kind"},
            "default": ["adjustment"],
            "description": "Interaction kinds whose amount may be negative; for every other kind it must be >= 0.",
        },
        "customer_attributes": {
            "type": "object",
            "default": {"type": "object", "properties": {}},
            "description": "JSON Schema of customer attributes (plugins add their own properties).",
        },
        "allow_free_actors": {
            "type": "boolean",
            "default": False,
            "description": "Accept any --actor name; by default an actor must be an active staff "
                           "handle (or system).",
        },
        "webhooks": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "description": "How `crmkit worker` delivers webhooks (read when the worker starts).",
            "properties": {
                "timeout_seconds": {
                    "type": "number", "exclusiveMinimum": 0, "maximum": 300, "default": 10,
                    "description": "How long one delivery may take in all: connecting, "
                                   "sending, and the receiver's status and headers; and "
                                   "how long adding a webhook waits for its host's name.",
                },
                "backoff_base_seconds": {
                    "type": "number", "exclusiveMinimum": 0, "default": 60,
                    "description": "Wait before the second attempt; each further wait doubles.",
                },
                "backoff_cap_seconds": {
                    "type": "number", "exclusiveMinimum": 0, "default": 21600,
                    "description": "Longest wait between two attempts.",
                },
                "max_attempts": {
                    "type": "integer", "minimum": 1, "maximum": 100, "default": 10,
                    "description": "Attempts before a delivery is marked failed.",
                },
                "allowed_networks": {
                    "type": "array", "items": {"type": "string"}, "default": [],
                    "description": "Non-public networks webhooks may target (CIDR, e.g. "
                                   "10.0.0.0/8 or 127.0.0.1/32); public addresses are always "
                                   "allowed, others (loopback, private, link-local such as "
                                   "the cloud metadata address 169.254.169.254) only when "
                                   "listed.",
                },
            },
        },
        "messages": {
            "type": "object",
            "additionalProperties": False,
            "default": {},
            "description": "How `crmkit worker` sends queued messages through their channels.",
            "properties": {
                "lease_seconds": {
                    "type": "number", "minimum": 10, "default": 900,
                    "description": "How long a worker holds a claimed batch: longer than "
                                   "sending one batch can take (a killed worker's messages "
                                   "are sent again once it runs out).",
                },
                "backoff_base_seconds": {
                    "type": "number", "exclusiveMinimum": 0, "default": 300,
                    "description": "Wait after a temporary failure before the second "
                                   "attempt; each further wait doubles.",
                },
                "backoff_cap_seconds": {
                    "type": "number", "exclusiveMinimum": 0, "default": 21600,
                    "description": "Longest wait between two attempts.",
                },
                "max_attempts": {
                    "type": "integer", "minimum": 1, "maximum": 100, "default": 8,
                    "description": "Attempts before a message that keeps failing temporarily "
                                   "is marked failed.",
                },
            },
        },
        "public_url": {
            "type": ["string", "null"],
            "pattern": "^https?://[^/?#\\s]+(/[^?#\\s]*)?$",
            "default": None,
            "description": "The address people reach `crmkit serve` at (https://crm.example.com, "
                           "no query): the base of the tracking and unsubscribe links in "
                           "messages; null: no tracking links can be made.",
        },
        "max_field_length": {
            "type": "integer",
            "minimum": 1,
            "default": 10000,
            "description": "Longest accepted free-text value (characters) in any imported or recorded field.",
        },
        "max_payload_bytes": {
            "type": "integer",
            "minimum": 1,
            "default": 65536,
            "description": "Largest accepted interaction payload, as JSON bytes.",
        },
        "max_import_bytes": {
            "type": "integer",
            "minimum": 1,
            "default": 17179869184,
            "description": "Largest accepted import file, in bytes (default 16 GiB; files are "
                           "streamed, so this bounds the work of one import, not memory).",
        },
        "roles": ROLES_SCHEMA,
    },
}
"""The JSON Schema of the core's own configuration (``crmkit config``)."""


def fill_defaults(schema: dict[str, Any], instance: Any) -> Any:
    """Return a copy of ``instance`` with every missing ``default`` of ``schema`` filled in,
    and every interaction kind (a text whose schema has ``"format": "interaction-kind"``)
    written as interactions keep it (:func:`crmkit.types.interaction_kind`).

    Walks ``properties`` of objects and ``items`` of arrays; a missing object
    whose sub-properties have defaults is created when the schema gives it a
    ``default`` itself.
    """
    return _fill(schema, copy.deepcopy(instance))


def _fill(schema: dict[str, Any], instance: Any) -> Any:
    """``instance`` completed in place (a text is returned anew)."""
    if not isinstance(schema, dict):
        return instance
    if isinstance(instance, dict):
        if _is_kind(schema.get("propertyNames")):
            _kind_keys(instance)
        for key, sub in schema.get("properties", {}).items():
            if key not in instance and isinstance(sub, dict) and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                instance[key] = _fill(sub, instance[key])
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        instance[:] = [_fill(schema["items"], item) for item in instance]
    elif isinstance(instance, str) and _is_kind(schema):
        from .types import interaction_kind

        return interaction_kind(instance)
    return instance


def _is_kind(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("format") == "interaction-kind"


def _kind_keys(instance: dict[str, Any]) -> None:
    """An object keyed by interaction kinds, its keys written as kinds are kept; unless two
    keys are one kind, which the schema's ``propertyNames`` then refuses by name."""
    from .types import interaction_kind

    keys = [interaction_kind(key) for key in instance]
    if len(set(keys)) == len(keys):
        items = list(instance.values())
        instance.clear()
        instance.update(zip(keys, items))


SHOWN_VALUE = 80
"""Up to this many characters, the value a schema refuses is quoted in the message; a longer
one is named by its kind and size (``an array of 1001 items``), so a refusal never repeats a
huge input."""


def shown_value(value: Any) -> str:
    """``value`` as an error message quotes it: its ``repr`` when at most :data:`SHOWN_VALUE`
    characters, else its JSON kind and size (``text of 5000 characters``)."""
    text = repr(value)
    if len(text) <= SHOWN_VALUE:
        return text
    if isinstance(value, str):
        return f"text of {len(value)} characters"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return f"an object of {len(value)} keys"
    return f"a value of {len(text)} characters"


def describe_error(error) -> str:
    """One line for a jsonschema error: JSON pointer, the problem, and what is allowed; a long
    refused value is named by its size (:func:`shown_value`), never repeated."""
    path = [str(p) for p in error.absolute_path]
    message = error.message
    quoted = repr(error.instance)
    if len(quoted) > SHOWN_VALUE and quoted in message:
        message = message.replace(quoted, shown_value(error.instance))
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        extra = sorted(k for k in error.instance if k not in known)
        if extra:
            path.append(extra[0])
            message = "unknown key" + (f" (also unknown: {', '.join(extra[1:])})" if extra[1:] else "")
    if error.validator == "format" and error.validator_value in FORMATS:
        message = f"{shown_value(error.instance)} is not {FORMATS[error.validator_value][0]}"
    if error.validator in _COUNTED and isinstance(error.instance, (list, dict)):
        message = _counted(len(error.instance), _COUNTED[error.validator][1])
    pointer = "/" + "/".join(path)
    if error.validator == "maxLength" and isinstance(error.instance, str):
        return f"{pointer}: {too_long(error.instance, error.validator_value)}"
    allowed = _allowed(error)
    return f"{pointer}: {message}" + (f" (allowed: {allowed})" if allowed else "")


_COUNTED = {"maxItems": ("at most", "item"), "minItems": ("at least", "item"),
            "maxProperties": ("at most", "key"), "minProperties": ("at least", "key")}
"""The count limits, worded by crmkit (``0 items (allowed: at least 1 item)``): jsonschema's
own words for them differ from one release to the next."""


def _counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless one (``1 item``, ``1001 items``)."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _allowed(error) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "enum":
        return ", ".join(json.dumps(v) for v in schema.get("enum", []))
    if error.validator == "type":
        return f"type {schema.get('type')}"
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return f"{error.validator} {error.validator_value}"
    if error.validator == "additionalProperties":
        props = sorted(schema.get("properties", {}))
        return "keys " + ", ".join(props) if props else "no other keys"
    if error.validator == "pattern":
        return f"text matching {error.validator_value}"
    if error.validator == "format" and error.validator_value in FORMATS:
        return FORMATS[error.validator_value][1]
    if error.validator in _COUNTED:
        bound, noun = _COUNTED[error.validator]
        return f"{bound} {_counted(error.validator_value, noun)}"
    if error.validator in ("oneOf", "anyOf"):
        return _branch_types(error)
    return ""


def _branch_types(error) -> str:
    """What a ``oneOf``/``anyOf`` allows when every branch refused the value for its type
    alone (``type object, or type array``); else ``""``."""
    branches: dict[Any, list[str]] = {}
    for sub in error.context or ():
        if sub.validator == "type" and not sub.relative_path:
            branches.setdefault(sub.relative_schema_path[0], []).append(
                f"type {sub.validator_value}")
    count = len(error.validator_value) if isinstance(error.validator_value, list) else 0
    if not branches or len(branches) != count:
        return ""
    return ", or ".join(types[0] for _, types in sorted(branches.items()))


def is_timezone(name: object) -> bool:
    """Whether ``name`` is an IANA time zone this machine knows (``Europe/London``, ``UTC``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(name, str):
        return True  # not text: the schema's "type" reports it
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


FORMATS: dict[str, tuple[str, str]] = {
    "timezone": ("an IANA time zone", "e.g. Europe/London or UTC"),
    "currency": ("an ISO 4217 currency code", "e.g. USD, EUR, GBP"),
    "interaction-kind": ("an interaction kind, kept in lower case",
                         "e.g. purchase, refund"),
}
"""The ``format`` values every configuration schema may use (core and plugins): what a
value must be, and examples.  They are checked on every validation, so a bad value is
refused at config time by its JSON pointer: ``{"type": "string", "format": "timezone"}``.
An ``interaction-kind`` (also as ``propertyNames`` of an object keyed by kinds) is first
written as interactions keep kinds (``" Purchase"`` is kept as ``purchase``), so only two
keys of one kind are refused."""


def _is_currency(code: object) -> bool:
    from .types import ISO_4217

    return not isinstance(code, str) or code in ISO_4217


def _is_interaction_kind(kind: object) -> bool:
    from .types import interaction_kind

    return not isinstance(kind, str) or kind == interaction_kind(kind)


_CHECKS: dict[str, Any] = {"timezone": is_timezone, "currency": _is_currency,
                           "interaction-kind": _is_interaction_kind}


def format_checker():
    """The jsonschema FormatChecker for :data:`FORMATS` (and only those)."""
    from jsonschema import FormatChecker

    checker = FormatChecker(formats=())
    for name, check in _CHECKS.items():
        checker.checks(name)(check)
    return checker


def check_schema(schema: dict[str, Any], where: str) -> None:
    """Raise ConfigError unless ``schema`` is itself a valid Draft 2020-12 schema.

    Its ``pattern`` regexes must be RE2 patterns and ``patternProperties`` is
    refused; every ``$ref`` must be a local JSON pointer (``#/$defs/x``) that
    resolves inside ``schema``: a reference to a file or URL is refused, and
    crmkit never retrieves one (see :func:`schema_validator`).  A schema found valid is
    remembered by its JSON text, so checking it again (each enable or configure of a
    plugin) costs a ``json.dumps``.
    """
    try:
        text = json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError):  # not JSON: checked as it is, every time
        problem = _schema_problem(schema)
    else:
        problem = None if text in _VALID_SCHEMAS else _schema_problem(schema)
        if problem is None:
            _VALID_SCHEMAS.add(text)
    if problem:
        raise ConfigError(f"{where}: {problem}")


_VALID_SCHEMAS: set[str] = set()
"""The JSON texts of the schemas :func:`check_schema` found valid in this process."""


def _schema_problem(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a schema :func:`check_schema` accepts; None when it is."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return f"invalid JSON Schema: {describe_error(exc)}"
    problem = _pattern_problem(schema)
    if problem:
        return problem
    for pointer, ref in _references(schema, ""):
        if not isinstance(ref, str) or not ref.startswith("#"):
            return (f"invalid JSON Schema: {pointer}: {ref!r} is not a local reference "
                    "(allowed: a JSON pointer into this schema, such as #/$defs/name; files "
                    "and URLs are never read)")
        if not _resolves(schema, ref):
            return f"invalid JSON Schema: {pointer}: {ref!r} does not resolve inside this schema"
    return None


_SCHEMA_MAPS = ("properties", "$defs", "dependentSchemas")
"""Keywords whose value maps names (not keywords) to sub-schemas."""
_DATA = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose value is data, not a schema (a ``$ref`` key inside them is no reference)."""


def _pattern_problem(schema: Any) -> str | None:
    stack: list[tuple[Any, tuple[str, ...]]] = [(schema, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, list):
            stack.extend((item, (*path, str(i))) for i, item in enumerate(node))
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            where = (*path, key)
            if key == "pattern" and isinstance(value, str):
                reason = regex_problem(value)
                if reason:
                    return f"{json_pointer(where)}: {reason}"
            elif key == "patternProperties":
                return (f"{json_pointer(where)}: patternProperties is not supported "
                        "(declare each key under properties)")
            elif key in _SCHEMA_MAPS and isinstance(value, dict):
                stack.extend((sub, (*where, name)) for name, sub in value.items())
            elif key not in _DATA:
                stack.append((value, where))
    return None


def regex_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a schema ``pattern`` (not an RE2 regex), or None."""
    import re2

    try:
        _compiled(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        return (f"{pattern!r} is not a supported regex: {reason} (patterns run on RE2, in "
                "linear time: no backreferences or lookaround)")
    return None


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str):
    import re2

    options = re2.Options()
    options.log_errors = False  # the error is raised, not printed
    return re2.compile(pattern, options)


def _re2_pattern(validator, pattern, instance, schema):
    """The ``pattern`` keyword on RE2: linear time in the text, so no pattern can hang a write."""
    from jsonschema.exceptions import ValidationError as SchemaViolation

    if validator.is_type(instance, "string") and not _compiled(pattern).search(instance):
        shown = repr(instance) if len(instance) <= 60 else (
            f"{instance[:40]!r}… ({len(instance)} characters)")
        yield SchemaViolation(f"{shown} does not match {pattern!r}")


INTEGER_RANGE = (-(2 ** 63), 2 ** 63 - 1)
"""The integers a schema's ``"type": "integer"`` accepts: those a 64-bit database column
holds (a larger one would fail where it is stored or computed with)."""


def _bounded_type(validator, types, instance, schema):
    """The ``type`` keyword, with ``integer`` (unless ``number`` is allowed too) limited to
    :data:`INTEGER_RANGE`."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError as SchemaViolation

    yield from Draft202012Validator.VALIDATORS["type"](validator, types, instance, schema)
    allowed = [types] if isinstance(types, str) else types
    low, high = INTEGER_RANGE
    if ("integer" in allowed and "number" not in allowed
            and validator.is_type(instance, "integer") and not low <= instance <= high):
        shown = (f"an integer of {len(str(instance))} digits"
                 if type(instance) is int and instance.bit_length() > 200 else str(instance))
        yield SchemaViolation(f"{shown} is out of range (integers from {low} to {high})")


@functools.cache
def _validator_class():
    from jsonschema import Draft202012Validator, validators

    return validators.extend(Draft202012Validator, {"pattern": _re2_pattern,
                                                    "type": _bounded_type})


def _references(node: Any, pointer: str):
    """``(JSON pointer, value)`` of every ``$ref`` / ``$dynamicRef`` keyword in a schema."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key in ("$ref", "$dynamicRef"):
                yield here, value
            elif key not in _DATA:
                yield from _references(value, here)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _references(item, f"{pointer}/{i}")


_ROOT = "urn:crmkit:schema"


def _resolves(schema: dict[str, Any], ref: str) -> bool:
    from referencing import Registry
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012

    registry = Registry(retrieve=_never_retrieve).with_resource(
        _ROOT, DRAFT202012.create_resource(schema))
    try:
        registry.resolver(_ROOT).lookup(ref)
    except Unresolvable:
        return False
    return True


def _never_retrieve(uri: str):
    from referencing.exceptions import NoSuchResource

    raise NoSuchResource(ref=uri)


def schema_validator(schema: dict[str, Any]):
    """A Draft 2020-12 validator that checks :data:`FORMATS`, runs ``pattern`` on RE2 and
    never retrieves a ``$ref``.

    Python's backtracking ``re`` can take exponential time on an admin-written
    pattern such as ``^(a+)+$``; RE2 cannot.  A reference that is not inside
    ``schema`` (a file, a URL) is unresolvable rather than fetched.
    """
    from referencing import Registry

    return _validator_class()(schema, format_checker=format_checker(),
                              registry=Registry(retrieve=_never_retrieve))


def schema_errors(validator, instance: Any, where: str) -> list:
    """``validator``'s errors for ``instance``, sorted by path, without a ``pattern`` error
    where a ``format`` error names the same value (``'usd' is not an ISO 4217 currency
    code`` says all that ``does not match '^[A-Z]{3}$'`` does); an unresolvable ``$ref`` is a
    ConfigError naming ``where`` (the schema's owner), not a crash."""
    from referencing.exceptions import Unresolvable

    try:
        errors = sorted((found for error in validator.iter_errors(instance)
                         for found in _in_fitting_branch(error)),
                        key=lambda e: list(e.absolute_path))
    except Unresolvable as exc:
        raise ConfigError(f"{where}: the schema's reference {getattr(exc, 'ref', '')!r} "
                          "cannot be resolved (only local #... references are allowed)") from None
    formats = {tuple(e.absolute_path) for e in errors if e.validator == "format"}
    return [e for e in errors
            if not (e.validator == "pattern" and tuple(e.absolute_path) in formats)]


def _in_fitting_branch(error) -> list:
    """A ``oneOf``/``anyOf`` error as the errors of its one branch whose type fits the
    instance (the others fail on the type alone), so that each names its own field; else
    the error itself."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [error]
    branches: dict[Any, list] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    fitting = [subs for subs in branches.values()
               if not any(sub.validator == "type" and not sub.relative_path for sub in subs)]
    if len(fitting) != 1:
        return [error]
    return [found for sub in fitting[0] for found in _in_fitting_branch(sub)]


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
               float: "number", type(None): "null"}


def require_object(document: Any, where: str) -> dict[str, Any]:
    """Return ``document`` if it is a JSON object; otherwise a ConfigError naming what it is."""
    if not isinstance(document, dict):
        found = _JSON_TYPES.get(type(document), type(document).__name__)
        raise ConfigError(f"{where}: the configuration must be a JSON object, got {found}")
    return document


def validate(schema: dict[str, Any], document: Any, where: str) -> Any:
    """Fill defaults into ``document`` and validate it; return the completed document.

    ``None`` stands for ``{}``; any other non-object is refused (never reset to
    the defaults).  Raises :class:`ConfigError` listing every violation by JSON
    pointer.
    """
    if document is not None:
        require_object(document, where)
    problem = json_problem(document)
    if problem:
        raise ConfigError(f"{where}: {problem}")
    completed = fill_defaults(schema, {} if document is None else document)
    errors = schema_errors(schema_validator(schema), completed, where)
    if errors:
        lines = [describe_error(e) for e in errors]
        problems = [(pointer if pointer != "/" else "", message)
                    for pointer, _, message in (line.partition(": ") for line in lines)]
        raise ConfigError(f"{where}: " + "; ".join(lines), problems)
    return completed


def set_path(document: dict[str, Any], dotted: str, raw_value: str,
             schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a copy of ``document`` with ``KEY=VALUE`` applied.

    ``KEY`` is dotted: each part names an object key, or indexes an array by
    number (``tiers.0.threshold``; the index one past the end appends).
    ``VALUE`` is read by the type ``schema`` gives at that JSON pointer: the
    text itself for a string, JSON for anything else (``5``, ``true``,
    ``["a"]``); where the schema says nothing, JSON when it parses and the text
    otherwise.  For a key of text or null, ``null`` is null and a quoted JSON
    string is its text (``'"null"'`` is the text null).  A key that does not fit
    the document or schema, or a value that is not of its type, is a
    :class:`ConfigError` naming the JSON pointer.
    """
    result = copy.deepcopy(document)
    node: Any = result
    parts = dotted.split(".")
    pointer = ""
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) > len(node):
                raise ConfigError(f"{pointer} is an array of {len(node)} item"
                                  f"{'s' if len(node) != 1 else ''}: {part} is not an index "
                                  f"(allowed: 0 to {len(node)}, {len(node)} appends)")
            key: Any = int(part)
            if key == len(node):
                node.append(None)
            schema = _child_schema(schema, "items")
        else:
            key = part
            schema = _child_schema(schema, "properties", part)
        pointer += f"/{part}"
        if last:
            node[key] = _parse_value(raw_value, schema, pointer)
            break
        types = _types(schema)
        child = node.get(key) if isinstance(node, dict) else node[key]
        if types and not types & {"object", "array"}:
            raise ConfigError(f"{pointer} is {_kind(types)}: it has no key {parts[depth + 1]}")
        if not isinstance(child, (dict, list)):
            child = [] if types == {"array"} else {}
            node[key] = child
        node = child
    return result


def _child_schema(schema: Any, keyword: str, name: str | None = None) -> dict[str, Any] | None:
    """The sub-schema of ``schema``'s array items or of its property ``name`` (None: unknown)."""
    if not isinstance(schema, dict):
        return None
    child = schema.get(keyword)
    if name is not None:
        child = child.get(name) if isinstance(child, dict) else None
        if child is None:
            child = schema.get("additionalProperties")
    return child if isinstance(child, dict) else None


def _types(schema: dict[str, Any] | None) -> set[str]:
    declared = (schema or {}).get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _kind(types: set[str]) -> str:
    names = {"string": "text", "number": "a number", "integer": "an integer",
             "boolean": "true or false", "array": "a JSON array", "object": "a JSON object",
             "null": "null"}
    return " or ".join(names.get(t, t) for t in sorted(types))


def _parse_value(raw: str, schema: dict[str, Any] | None, pointer: str) -> Any:
    """``raw`` as the schema's type at ``pointer`` wants it (see :func:`set_path`)."""
    types = _types(schema)
    if "string" in types and not types & {"number", "integer", "boolean", "array", "object"}:
        return _text_or_null(raw) if "null" in types else raw
    try:
        return parse_json(raw)
    except json.JSONDecodeError:
        if not types or "string" in types:
            return raw
        raise ConfigError(f"{pointer}: {raw} is not {_kind(types)}") from None
    except DuplicateKeyError as exc:
        raise ConfigError(f"{pointer}{exc.pointer}: {exc.problem}") from None
    except ValueError as exc:  # nested too deep
        raise ConfigError(f"{pointer}: {exc}") from None


def _text_or_null(raw: str) -> str | None:
    """``raw`` for a key of text or null: ``null`` is null, a quoted JSON string its text."""
    if raw == "null":
        return None
    if raw.startswith('"'):
        try:
            value = parse_json(raw)
        except ValueError:  # not one JSON string: the text itself
            return raw
        if isinstance(value, str):
            return value
    return raw


__all__ = [
    "CORE_SCHEMA", "fill_defaults", "describe_error", "shown_value", "SHOWN_VALUE",
    "check_schema", "regex_problem",
    "schema_validator", "validate", "set_path", "is_timezone", "FORMATS", "format_checker",
    "schema_errors", "require_object",
]
