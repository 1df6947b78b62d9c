"""Signed session cookies and CSRF tokens of the staff web app.

The cookie holds a small JSON document (the signed-in handle, the session's random id, when
it was issued, and its CSRF token) and an HMAC-SHA256 of it.  The key is a random secret
generated once per database and kept in the ``settings`` table (row :data:`KEY_SETTING`):
never in the repository or the configuration files, the same for every worker process of one
database.  Signing out (:func:`revoke`) stores the session's id in ``revoked_sessions``, so
that the cookie is refused from then on, by every worker process.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from .. import tables
from ..auth import database_secret

COOKIE = "crmkit_session"
"""The name of the session cookie."""
KEY_SETTING = "web_session_key"
"""The ``settings`` row holding the signing key (generated on first use)."""
MAX_AGE = dt.timedelta(hours=12)
"""How long (by the CRM clock) a sign-in lasts."""
CSRF_FIELD = "csrf_token"
"""The hidden field every form of the web app carries."""


def session_key(crm) -> bytes:
    """The database's signing key, generated and stored the first time it is needed."""
    return database_secret(crm, KEY_SETTING)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, session: dict[str, Any]) -> str:
    """The cookie value of ``session``: base64url JSON, a dot, base64url HMAC-SHA256."""
    body = _b64(json.dumps(session, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(key: bytes, value: str | None) -> dict[str, Any] | None:
    """The session a cookie value stands for; None for a missing, forged or malformed one."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        session = json.loads(_unb64(body))
    except ValueError:
        return None
    return session if isinstance(session, dict) and isinstance(session.get("csrf"), str) else None


def new_session(handle: str | None, now: dt.datetime, password: str | None = None
                ) -> dict[str, Any]:
    """A fresh session (a new id and CSRF token) for ``handle`` (None: not signed in yet);
    ``password`` is the member's :func:`password_mark` at sign-in."""
    return {"csrf": secrets.token_urlsafe(32), "handle": handle, "id": secrets.token_urlsafe(16),
            "issued": now.isoformat(), "password": password}


def password_mark(crm, handle: str) -> str | None:
    """A short digest of the member's stored password hash: a session signed in before
    the password changed (``crmkit staff password``) no longer matches it."""
    s = tables.staff
    with crm.read() as conn:
        stored = conn.execute(select(s.c.password_hash).where(s.c.handle == handle)).scalar()
    return None if stored is None else hashlib.sha256(stored.encode()).hexdigest()[:32]


def signed_in_handle(session: dict[str, Any] | None, now: dt.datetime) -> str | None:
    """The handle of a session still within :data:`MAX_AGE`, else None (also for a session
    without an id, which could not be signed out)."""
    if (not session or not isinstance(session.get("handle"), str)
            or not isinstance(session.get("id"), str)):
        return None
    try:
        issued = dt.datetime.fromisoformat(session["issued"])
    except (KeyError, TypeError, ValueError):
        return None
    if issued.tzinfo is None or not issued <= now < issued + MAX_AGE:
        return None
    return session["handle"]


def revoke(crm, session: dict[str, Any]) -> None:
    """Sign ``session`` (one for which :func:`signed_in_handle` gives a handle) out on the
    server: :func:`revoked` is true for it from now on.  Its id is kept until the session
    would have expired anyway; the ids kept past that are deleted."""
    r = tables.revoked_sessions
    expires = dt.datetime.fromisoformat(session["issued"]) + MAX_AGE
    try:
        with crm.transaction(require_plugins=False) as tx:
            tx.conn.execute(delete(r).where(r.c.expires_at <= tx.now()))
            tx.conn.execute(insert(r).values(session_id=session["id"], expires_at=expires))
    except IntegrityError:
        pass  # signed out already (another tab's sign-out sent the same cookie)


def revoked(crm, session: dict[str, Any]) -> bool:
    """True when ``session`` was signed out (:func:`revoke`)."""
    r = tables.revoked_sessions
    with crm.read() as conn:
        return conn.execute(select(r.c.session_id).where(r.c.session_id == session["id"])
                            ).first() is not None


def csrf_ok(session: dict[str, Any] | None, sent: Any) -> bool:
    """True when the form's CSRF token is the session's (compared in constant time)."""
    return (session is not None and isinstance(sent, str) and bool(sent)
            and hmac.compare_digest(sent.encode(), session["csrf"].encode()))


def notice_mark(key: bytes, session: dict[str, Any] | None, *parts: str) -> str:
    """A short HMAC binding a "done" notice (``parts``: what was done, to what) to this
    session, so a link crafted elsewhere cannot make a page claim a change it did not make."""
    csrf = session["csrf"] if session else ""
    message = "\0".join([csrf, *parts]).encode()
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:16])


def notice_ok(key: bytes, session: dict[str, Any] | None, mark: Any, *parts: str) -> bool:
    """True when ``mark`` is :func:`notice_mark` of ``parts`` for this session."""
    return (session is not None and isinstance(mark, str)
            and hmac.compare_digest(mark.encode(), notice_mark(key, session, *parts).encode()))


__all__ = ["COOKIE", "CSRF_FIELD", "KEY_SETTING", "MAX_AGE", "session_key", "sign", "unsign",
           "new_session", "password_mark", "signed_in_handle", "revoke", "revoked", "csrf_ok",
           "notice_mark", "notice_ok"]
