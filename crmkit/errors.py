"""The crmkit exception hierarchy.

Every error a user can cause is a :class:`CRMError`; its message says what was
wrong, where (record, line, field or JSON pointer) and what is allowed.  The CLI
prints the message on one line and exits non-zero; ``--debug`` adds the
traceback.
"""

from __future__ import annotations


class CRMError(Exception):
    """Base class of every error crmkit raises on purpose."""

    exit_code = 1


class ValidationError(CRMError):
    """Input data broke a rule.  ``problems`` lists every ``(where, field, message)``."""

    def __init__(self, message: str, problems: list[tuple[str, str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []

    @classmethod
    def from_problems(cls, problems: list[tuple[str, str, str]]) -> "ValidationError":
        """Build one error whose message lists every problem as ``where: field: message``
        (``field: message`` for a problem without a ``where``: that of a single record;
        ``where: message`` for one about the whole of ``where``, with an empty field)."""
        lines = [": ".join(part for part in (where, field, msg) if part)
                 for where, field, msg in problems]
        shown = lines[:20]
        if len(lines) > 20:
            shown.append(f"... and {len(lines) - 20} more")
        return cls("; ".join(shown) if len(shown) == 1 else "\n".join(shown), problems)


class ConfigError(CRMError):
    """A configuration document does not match its JSON Schema.  ``problems`` lists every
    ``(JSON pointer, message)`` when the raiser knows them (``""`` is the whole document)."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


class PluginError(CRMError):
    """A plugin is unknown, broken, not enabled, or failed in a hook."""


class HookFailed(PluginError):
    """A plugin's hook raised an exception that is no crmkit error (a bug, a library's or
    the database's error), wrapped by the hook caller; ``plugin`` and ``hook`` say where.
    The message adds the exception's type and text, which may quote SQL or internals: the
    API and the web app tell their clients only where it failed (the server logs the rest)."""

    def __init__(self, plugin: str, hook: str, error: Exception):
        super().__init__(f"plugin {plugin!r} failed in {hook}: {type(error).__name__}: {error}")
        self.plugin = plugin
        self.hook = hook


class NotFound(CRMError):
    """A record that was asked for does not exist."""


class ConflictError(CRMError):
    """A write conflicts with what is stored (for example a reused external id)."""


class PreconditionFailed(ConflictError):
    """A conditional change's precondition no longer holds (a stale ETag); nothing was written."""


class ConsentError(CRMError):
    """An outbound contact was attempted on a channel without the customer's consent."""


class DatabaseError(CRMError):
    """The database URL is wrong, unreachable, or its schema does not fit this crmkit."""


class Unauthenticated(CRMError):
    """No valid credentials: an unknown, revoked or expired token, or a refused sign-in (HTTP 401)."""


class PermissionDenied(CRMError):
    """The authenticated staff member's role does not grant what was asked (HTTP 403)."""


class MissingExtra(CRMError):
    """An optional dependency (an extra such as ``plots``) is not installed; says how to install it."""


__all__ = [
    "CRMError", "ValidationError", "ConfigError", "PluginError", "HookFailed", "NotFound",
    "ConflictError", "PreconditionFailed", "ConsentError", "DatabaseError", "Unauthenticated",
    "PermissionDenied", "MissingExtra",
]
