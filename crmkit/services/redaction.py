"""What erasure replaces: personal text in payloads, audit values, and recorded commands.

Payloads (interactions and events) keep their shape, every number and
boolean, and the text of the non-personal keys — the core's :data:`CORE_KEPT_KEYS` and
those plugins declare (``PluginInfo.payload_keys``: survey scores, item categories…), so
analytics still add up; every other text becomes :data:`ERASED`.  Audit-log values of the person are all
replaced (the keys, who, when and which command stay).
"""

from __future__ import annotations

import re
from typing import Any

ERASED = "(erased)"
"""What replaces erased text."""

CORE_KEPT_KEYS = frozenset({
    "amount", "channel", "currency", "duplicate_id", "external_id", "fields", "interaction_id",
    "kind", "language", "order_id",
})
"""Payload keys of the core whose text is not personal: kept by erasure (documented in
docs/data-services.md)."""

_COMMAND_WORD = re.compile(r"[a-z][a-z0-9_-]*\Z")


def redact_payload(value: Any, kept_keys: frozenset[str] = CORE_KEPT_KEYS, kept: bool = False,
                   aliases: dict[str, str] | None = None, needles: tuple[str, ...] = ()) -> Any:
    """A payload with the text of every key outside ``kept_keys`` replaced by ERASED.

    ``aliases`` maps texts to their replacement wherever they occur, kept keys
    included (erasure uses it when an external id itself was personal); kept
    text that still contains one of the lower-cased ``needles`` (the person's
    name, email, phone) is replaced by ERASED too.  ``kept=True`` keeps all
    text but applies the aliases and needles.
    """
    if isinstance(value, dict):
        return {k: redact_payload(v, kept_keys, kept or k in kept_keys, aliases, needles)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_payload(v, kept_keys, kept, aliases, needles) for v in value]
    if isinstance(value, str):
        if not kept:
            return ERASED
        return redact_text(value, aliases, needles)
    return value


def redact_text(text: str, aliases: dict[str, str] | None = None,
                needles: tuple[str, ...] = ()) -> str:
    """``text`` with every alias replaced (longest first); ERASED if a needle is still in it."""
    for old in sorted(aliases or {}, key=len, reverse=True):
        text = text.replace(old, aliases[old])
    lowered = text.lower()
    return ERASED if any(n in lowered for n in needles) else text


def redact_values(value: Any) -> Any:
    """Every leaf value replaced by ERASED (the keys stay): for audit-log changes."""
    if isinstance(value, dict):
        return {k: redact_values(v) for k, v in value.items()}
    if value is None:
        return None
    return ERASED


def redact_command(command: str | None) -> str | None:
    """A recorded command without its arguments: ``crmkit customers add (erased arguments)``.

    Keeps at most the first three command words (``crmkit``, the command, the
    subcommand), skipping the global options, so no argument survives.
    """
    if not command:
        return command
    return " ".join(command_words(command) + ["(erased arguments)"])


def command_words(command: str) -> list[str]:
    """The words of a recorded command that name it, never an argument: at most the first
    three command words (``crmkit``, the command, the subcommand), skipping the global
    options (``--db URL``, ``--actor HANDLE``, ``--plugin NAME``, flags)."""
    words: list[str] = []
    tokens = iter(command.split())
    for token in tokens:
        if token in _VALUED_OPTIONS:
            next(tokens, None)
            continue
        if token.startswith("-") and not words[1:]:
            continue
        if not _COMMAND_WORD.match(token) or len(words) == 3:
            break
        words.append(token)
    return words


_VALUED_OPTIONS = frozenset({"--db", "--actor", "--plugin"})


__all__ = ["ERASED", "CORE_KEPT_KEYS", "command_words", "redact_command", "redact_payload",
           "redact_text", "redact_values"]
