"""Message templates: sandboxed Jinja2 over the customer's fields, checked before anything is written.

A template sees the customer's fields by name (``{{ name }}``, ``{{ email }}``,
``{{ attributes.city }}``, ``{% if "vip" in tags %}``) and ``campaign`` (the
campaign's name).  It runs in Jinja2's sandbox (no access to Python internals)
with ``StrictUndefined``; :func:`check` refuses, before a campaign is stored, a
syntax error or any name that is not a customer field or a declared customer
attribute, so rendering cannot fail for a missing name.  A template whose first
character is ``<`` is HTML (its values are escaped); any other is plain text.

:func:`render` turns any failure of the template for one customer (an exception it raised,
or output past :data:`MAX_MESSAGE_CHARS`) into a :class:`RenderError`, and marks each link
written in the template's own text (between :data:`OPEN` and :data:`CLOSE`), so that only
those become tracking links: a value substituted from customer data never does.
"""

from __future__ import annotations

import functools
import re
import traceback
from typing import Any, Callable, Iterable

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes, pass_context
from jinja2.ext import Extension
from jinja2.lexer import Token
from jinja2.sandbox import SandboxedEnvironment

from crmkit.plugin import CUSTOMER_FIELDS, ValidationError

FIELDS = tuple(f for f in CUSTOMER_FIELDS if f != "attributes.*") + ("attributes",)
"""The customer fields a template may name (``attributes`` holds the declared attributes)."""

EXTRA = ("campaign", "coupon")
"""Names a template may use besides the customer's fields (``coupon``: the recipient's coupon
code when the campaign has a coupon offer, else empty)."""

URL = re.compile(r"https?://[^\s<>\"']+")
"""An http(s) link (one the template writes in its own text becomes a tracking link)."""

MAX_TEMPLATE = 200_000
"""Longest template, in characters."""

MAX_MESSAGE_CHARS = 1_000_000
"""Longest message, in characters: a template's output for one customer, and each part of the
message made from it (its text and, for an email, its HTML)."""

OPEN, CLOSE = "\ufdd0", "\ufdd1"
"""Around each link written in the template's own text in :func:`render`'s output (Unicode
noncharacters: removed from the customer's values, so a value can never pass for a link)."""

_UNMARK = {ord(OPEN): None, ord(CLOSE): None}


class RenderError(Exception):
    """A template failed for one customer (it raised, or its message is too large); the
    message says why."""


def too_large() -> RenderError:
    """The error of a message larger than :data:`MAX_MESSAGE_CHARS`."""
    return RenderError(f"message larger than {MAX_MESSAGE_CHARS} characters")


def is_html(template: str) -> bool:
    """Whether ``template`` is HTML (it starts with ``<``) rather than plain text."""
    return template.lstrip().startswith("<")


def _finalize(value: Any) -> Any:
    return "" if value is None else value


class _Links(Extension):
    """Marks each http(s) link of the template's own text (not of its ``{{ … }}``)."""

    def filter_stream(self, stream):
        for token in stream:
            if token.type == "data" and "://" in token.value:
                token = Token(token.lineno, "data", URL.sub(
                    lambda m: f"{OPEN}{m[0]}{CLOSE}", token.value))
            yield token


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox, which also refuses, before building it, a text or list repeated
    (``*``) or joined (``+``) past :data:`MAX_MESSAGE_CHARS`, and computes nothing while a
    template is checked or compiled.

    Jinja2 works out constant expressions at compile time (``{{ 9 ** (9 ** 9) }}``,
    ``{{ 'a'|center(1000000000) }}``): in the process checking a new campaign, where no
    render limit applies.  Every operator is intercepted and every filter and test needs
    the render context, and Jinja2 folds neither, so they run only when a message is
    rendered (:mod:`.render_process`)."""

    intercepted_binops = frozenset(SandboxedEnvironment.default_binop_table)
    intercepted_unops = frozenset(SandboxedEnvironment.default_unop_table)

    def __init__(self, **options):
        super().__init__(**options)
        self.filters = {name: _at_render(f) for name, f in self.filters.items()}
        self.tests = {name: _at_render(f) for name, f in self.tests.items()}

    def call_binop(self, context, operator, left, right):
        if _size(operator, left, right) > MAX_MESSAGE_CHARS:
            raise too_large()
        return super().call_binop(context, operator, left, right)


def _at_render(function: Callable) -> Callable:
    """``function`` (a filter or a test) taking the render context, which it ignores, so that
    Jinja2 never calls it at compile time; what it was given (context, eval context or
    environment) it still gets."""
    passed = getattr(function, "jinja_pass_arg", None)
    if passed is not None and passed.name == "context":
        return function

    @pass_context
    def at_render(context, *args, **kwargs):
        if passed is None:
            return function(*args, **kwargs)
        first = context.eval_ctx if passed.name == "eval_context" else context.environment
        return function(first, *args, **kwargs)

    return at_render


def _size(operator: str, left: Any, right: Any) -> int:
    """The length of ``left operator right`` when it repeats or joins texts or lists, else 0."""
    lengths = [len(x) for x in (left, right) if isinstance(x, (str, list, tuple))]
    counts = [x for x in (left, right) if isinstance(x, int)]
    if operator == "*" and len(lengths) == 1 and len(counts) == 1:
        return lengths[0] * counts[0]
    return sum(lengths) if operator == "+" and len(lengths) == 2 else 0


@functools.cache
def environment(html: bool) -> SandboxedEnvironment:
    """The sandboxed environment: undefined names fail, None prints as nothing, HTML escapes,
    the template's own links are marked."""
    return _Sandbox(undefined=StrictUndefined, autoescape=html, finalize=_finalize,
                    keep_trailing_newline=True, extensions=[_Links])


def check(template: Any, where: str, attributes: Iterable[str]) -> None:
    """Raise one ValidationError naming ``where`` unless ``template`` parses and uses only
    customer fields, declared ``attributes`` and ``campaign``."""
    if not isinstance(template, str) or not template.strip():
        raise ValidationError(f"{where}: the template is empty",
                              [(where, "template", "required non-empty text")])
    if len(template) > MAX_TEMPLATE:
        raise ValidationError(f"{where}: {len(template)} characters; at most {MAX_TEMPLATE}",
                              [(where, "template", f"at most {MAX_TEMPLATE} characters")])
    env = environment(is_html(template))
    try:
        tree = env.parse(template)
    except TemplateSyntaxError as exc:
        problem = f"line {exc.lineno}: {exc.message}"
        raise ValidationError(f"{where}: {problem}", [(where, "template", problem)]) from None
    allowed = set(FIELDS) | set(EXTRA)
    unknown = sorted(meta.find_undeclared_variables(tree) - allowed)
    if unknown:
        problem = (f"unknown field {unknown[0]!r} (a template may use: "
                   f"{', '.join(FIELDS + EXTRA)})")
        raise ValidationError(f"{where}: {problem}", [(where, "template", problem)])
    declared = set(attributes)
    for key, line in _attribute_keys(tree):
        if key not in declared:
            known = ", ".join(sorted(declared)) or "none declared"
            problem = (f"line {line}: unknown customer attribute 'attributes.{key}' "
                       f"(declared attributes: {known})")
            raise ValidationError(f"{where}: {problem}", [(where, "template", problem)])


def _attribute_keys(tree: nodes.Template) -> list[tuple[str, int]]:
    """``(key, line)`` of every ``attributes.KEY`` / ``attributes["KEY"]`` in the template."""
    found = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not (isinstance(target, nodes.Name) and target.name == "attributes"):
            continue
        if isinstance(node, nodes.Getattr):
            found.append((node.attr, node.lineno))
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            found.append((node.arg.value, node.lineno))
    return sorted(found, key=lambda k: (k[1], k[0]))


@functools.lru_cache(maxsize=64)
def compiled(template: str):
    """The compiled Jinja2 template (cached: a campaign renders one template many times)."""
    return environment(is_html(template)).from_string(template)


def render(template: str, context: dict[str, Any]) -> str:
    """A checked template's output for one customer's ``context``, its own links marked
    (:data:`OPEN` … :data:`CLOSE`).  Whatever goes wrong while the template runs is one
    RenderError (``line N: why``), and so is output past :data:`MAX_MESSAGE_CHARS`: the
    template is stopped as soon as it gets there."""
    values = _unmarked(context)
    parts, size = [], 0
    try:
        for part in compiled(template).generate(values):
            size += len(part)
            if size > MAX_MESSAGE_CHARS:
                raise too_large()
            parts.append(part)
    except Exception as exc:  # the template's (crmkit runs only the sandbox's checks here)
        raise RenderError(_reason(exc)) from exc
    return "".join(parts)


def unmark(text: str) -> str:
    """``text`` without the link marks of :func:`render`."""
    return text.translate(_UNMARK)


def _unmarked(value: Any) -> Any:
    """``value`` (the context, JSON-like) with the link marks removed from every text."""
    if isinstance(value, str):
        return unmark(value)
    if isinstance(value, dict):
        return {_unmarked(k): _unmarked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unmarked(v) for v in value]
    return value


def _reason(exc: Exception) -> str:
    """Why the template failed: the line it failed on and the error's message."""
    why = str(exc) or type(exc).__name__
    lines = [line for frame, line in traceback.walk_tb(exc.__traceback__)
             if frame.f_code.co_filename == "<template>"]
    return f"line {lines[-1]}: {why}" if lines else why


def context(customer: dict[str, Any], attributes: Iterable[str], campaign: str) -> dict[str, Any]:
    """What a template sees for one customer row: its fields, its attributes (every declared
    one present, None when the customer has none) and the campaign's name."""
    values = {f: customer.get(f) for f in FIELDS if f != "attributes"}
    values["tags"] = list(customer.get("tags") or ())
    values["attributes"] = {**{key: None for key in attributes}, **(customer.get("attributes")
                                                                   or {})}
    values["campaign"] = campaign
    return values
